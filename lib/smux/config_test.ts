import { assertEquals, assertThrows } from "../testing/assert.ts";
import {
  DEFAULT_SMUX_CONFIG,
  resolveSmuxConfig,
  type SmuxConfig,
  SNOWFLAKE_SMUX_CLIENT,
  SNOWFLAKE_SMUX_SERVER,
  validateSmuxConfig,
} from "./config.ts";

Deno.test("config: defaults mirror xtaci/smux DefaultConfig", () => {
  assertEquals({ ...DEFAULT_SMUX_CONFIG }, {
    version: 1,
    keepAliveIntervalMs: 10000,
    keepAliveTimeoutMs: 30000,
    maxFrameSize: 32768,
    maxReceiveBuffer: 4194304,
    maxStreamBuffer: 65536,
    keepAliveDisabled: false,
  });
  validateSmuxConfig(DEFAULT_SMUX_CONFIG);
});

Deno.test("config: Snowflake presets (docs/PROTOCOL.md §4)", () => {
  for (const c of [SNOWFLAKE_SMUX_CLIENT, SNOWFLAKE_SMUX_SERVER]) {
    validateSmuxConfig(c);
    assertEquals(c.version, 2);
    assertEquals(c.maxFrameSize, 32768);
  }
  assertEquals(SNOWFLAKE_SMUX_SERVER.maxStreamBuffer, 1048576);
  assertEquals(SNOWFLAKE_SMUX_SERVER.maxReceiveBuffer, 4194304);
  assertEquals(SNOWFLAKE_SMUX_CLIENT.maxStreamBuffer, 4194304);
  assertEquals(SNOWFLAKE_SMUX_CLIENT.maxReceiveBuffer, 8388608);
  assertEquals(SNOWFLAKE_SMUX_CLIENT.keepAliveTimeoutMs, 600000);
  assertEquals(SNOWFLAKE_SMUX_SERVER.keepAliveTimeoutMs, 240000);
});

Deno.test("config: invalid values throw RangeError/TypeError naming field and value", () => {
  const bad: [Partial<SmuxConfig> | Record<string, unknown>, ErrorConstructor, string][] = [
    [{ version: 3 }, RangeError, "version must be 1 or 2, got 3"],
    [{ version: "2" }, TypeError, "version"],
    [{ keepAliveIntervalMs: 0 }, RangeError, "keepAliveIntervalMs must be positive, got 0"],
    [{ keepAliveTimeoutMs: 5000 }, RangeError, "keepAliveTimeoutMs 5000"],
    [{ maxFrameSize: 0 }, RangeError, "maxFrameSize"],
    [{ maxFrameSize: 65536 }, RangeError, "got 65536"],
    [{ maxFrameSize: 1.5 }, RangeError, "got 1.5"],
    [{ maxReceiveBuffer: 0 }, RangeError, "maxReceiveBuffer"],
    [{ maxReceiveBuffer: 2 ** 31 }, RangeError, "2147483648"],
    [{ maxStreamBuffer: -1 }, RangeError, "maxStreamBuffer"],
    [{ maxStreamBuffer: 8 * 1024 * 1024 }, RangeError, "must not be larger than maxReceiveBuffer"],
    [{ keepAliveDisabled: 1 }, TypeError, "keepAliveDisabled"],
    [{ maxFrameSize: NaN }, RangeError, "NaN"],
  ];
  for (const [partial, cls, msg] of bad) {
    assertThrows(() => resolveSmuxConfig(partial as Partial<SmuxConfig>), cls, msg);
  }
});

Deno.test("config: keepalive fields are ignored when keepalive is disabled", () => {
  resolveSmuxConfig({ keepAliveDisabled: true, keepAliveIntervalMs: 0, keepAliveTimeoutMs: 0 });
});
