/**
 * smux v1/v2 stream multiplexing, wire-compatible with xtaci/smux v1.5.x
 * (docs/PROTOCOL.md §4): a streaming frame codec, a validated config with the
 * Snowflake presets, and {@link SmuxSession} / {@link SmuxStream} over any Conn.
 *
 * @example
 * ```ts
 * import { memoryConnPair } from "../net/mod.ts";
 * import { SmuxSession, SNOWFLAKE_SMUX_CLIENT, SNOWFLAKE_SMUX_SERVER } from "./mod.ts";
 * const [a, b] = memoryConnPair();
 * const client = new SmuxSession(a, { client: true, config: SNOWFLAKE_SMUX_CLIENT });
 * const server = new SmuxSession(b, { client: false, config: SNOWFLAKE_SMUX_SERVER });
 * const stream = await client.openStream(); // id 3
 * const w = stream.writable.getWriter();
 * await w.write(new TextEncoder().encode("hello"));
 * await w.close(); // FIN: half-close, stream.readable still works
 * const accepted = await server.acceptStream();
 * for await (const chunk of accepted.readable) console.log(chunk);
 * client.close();
 * server.close();
 * ```
 *
 * @module
 */
export {
  DEFAULT_SMUX_CONFIG,
  resolveSmuxConfig,
  type SmuxConfig,
  SNOWFLAKE_SMUX_CLIENT,
  SNOWFLAKE_SMUX_SERVER,
  validateSmuxConfig,
} from "./config.ts";
export {
  decodeSmuxUpd,
  encodeSmuxFrame,
  encodeSmuxUpd,
  SMUX_CMD_FIN,
  SMUX_CMD_NOP,
  SMUX_CMD_PSH,
  SMUX_CMD_SYN,
  SMUX_CMD_UPD,
  SMUX_HEADER_SIZE,
  SMUX_INITIAL_PEER_WINDOW,
  SMUX_MAX_FRAME_SIZE,
  SMUX_UPD_SIZE,
  type SmuxFrame,
  SmuxFrameDecoder,
  writeSmuxHeader,
} from "./frame.ts";
export { SmuxSession, type SmuxSessionOptions } from "./session.ts";
export { SmuxStream } from "./stream.ts";
