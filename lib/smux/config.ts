/**
 * smux session configuration, validated like xtaci/smux VerifyConfig.
 *
 * @module
 */
import { SMUX_MAX_FRAME_SIZE } from "./frame.ts";

export interface SmuxConfig {
  /** Protocol version: 1 (no per-stream flow control) or 2 (UPD window updates). */
  version: 1 | 2;
  /** How often a NOP is sent to the peer. */
  keepAliveIntervalMs: number;
  /** The session closes when nothing arrives for this long (checked once per period). */
  keepAliveTimeoutMs: number;
  /** Largest PSH payload this side sends (1..65535). */
  maxFrameSize: number;
  /**
   * v1: session-wide bytes received but not yet read by streams before reading pauses. v2: the
   * budget the stream windows are handed out of (the session holds at most twice this).
   */
  maxReceiveBuffer: number;
  /** Per-stream window announced to the peer in v2 UPD frames. */
  maxStreamBuffer: number;
  keepAliveDisabled: boolean;
}

/** xtaci/smux DefaultConfig(). */
export const DEFAULT_SMUX_CONFIG: Readonly<SmuxConfig> = Object.freeze({
  version: 1,
  keepAliveIntervalMs: 10_000,
  keepAliveTimeoutMs: 30_000,
  maxFrameSize: 32768,
  maxReceiveBuffer: 4 * 1024 * 1024,
  maxStreamBuffer: 65536,
  keepAliveDisabled: false,
});

/**
 * Snowflake client's smux settings (docs/PROTOCOL.md §4). The stream window is 4 MiB where Go's
 * client announces 1 MiB: it is the receiver's own choice (sent in UPD frames), and one stream's
 * download cannot go faster than window / round trip (docs/client.md "Throughput").
 */
export const SNOWFLAKE_SMUX_CLIENT: Readonly<SmuxConfig> = Object.freeze({
  ...DEFAULT_SMUX_CONFIG,
  version: 2,
  keepAliveTimeoutMs: 10 * 60_000,
  maxReceiveBuffer: 8 * 1024 * 1024,
  maxStreamBuffer: 4 * 1024 * 1024,
});

/** Snowflake server's smux settings (docs/PROTOCOL.md §4). */
export const SNOWFLAKE_SMUX_SERVER: Readonly<SmuxConfig> = Object.freeze({
  ...DEFAULT_SMUX_CONFIG,
  version: 2,
  keepAliveTimeoutMs: 4 * 60_000,
  maxStreamBuffer: 1024 * 1024,
});

const INT32_MAX = 2147483647;

function checkNumber(name: string, v: unknown): number {
  if (typeof v !== "number") throw new TypeError(`smux ${name} must be a number, got ${typeof v}`);
  if (!Number.isFinite(v)) throw new RangeError(`smux ${name} must be finite, got ${v}`);
  return v;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  const n = checkNumber(name, v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`smux ${name} must be an integer in [${min}, ${max}], got ${n}`);
  }
  return n;
}

/** Defaults merged with `partial`, then validated. */
export function resolveSmuxConfig(partial: Partial<SmuxConfig> = {}): SmuxConfig {
  const config = { ...DEFAULT_SMUX_CONFIG, ...partial };
  validateSmuxConfig(config);
  return config;
}

/** Throws TypeError (wrong type) or RangeError (bad value) naming the field and value. */
export function validateSmuxConfig(config: SmuxConfig): void {
  if (typeof config !== "object" || config === null) {
    throw new TypeError("smux config must be an object");
  }
  const version = checkNumber("version", config.version);
  if (version !== 1 && version !== 2) {
    throw new RangeError(`smux version must be 1 or 2, got ${version}`);
  }
  if (typeof config.keepAliveDisabled !== "boolean") {
    throw new TypeError(
      `smux keepAliveDisabled must be a boolean, got ${typeof config.keepAliveDisabled}`,
    );
  }
  if (!config.keepAliveDisabled) {
    const interval = checkNumber("keepAliveIntervalMs", config.keepAliveIntervalMs);
    if (interval <= 0) {
      throw new RangeError(`smux keepAliveIntervalMs must be positive, got ${interval}`);
    }
    const timeout = checkNumber("keepAliveTimeoutMs", config.keepAliveTimeoutMs);
    if (timeout < interval) {
      throw new RangeError(
        `smux keepAliveTimeoutMs ${timeout} must not be less than keepAliveIntervalMs ${interval}`,
      );
    }
  }
  checkInt("maxFrameSize", config.maxFrameSize, 1, SMUX_MAX_FRAME_SIZE);
  const recv = checkInt("maxReceiveBuffer", config.maxReceiveBuffer, 1, INT32_MAX);
  const stream = checkInt("maxStreamBuffer", config.maxStreamBuffer, 1, INT32_MAX);
  if (stream > recv) {
    throw new RangeError(
      `smux maxStreamBuffer ${stream} must not be larger than maxReceiveBuffer ${recv}`,
    );
  }
}
