/**
 * smux v1/v2 stream multiplexing, wire-compatible with xtaci/smux v1.5.x.
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
