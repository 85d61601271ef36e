/**
 * Public API of the toolkit: the Turbo Tunnel stack and the pieces each
 * Snowflake role and pytunnel are built from.
 *
 * @module
 */
export * from "./lib/net/mod.ts";
export * from "./lib/encapsulation/mod.ts";
export * from "./lib/turbotunnel/mod.ts";
export * from "./lib/smux/mod.ts";
export * from "./lib/kcp/mod.ts";
export * from "./lib/acme/mod.ts";
export * from "./lib/tunnel/mod.ts";
export * from "./lib/snowflake/mod.ts";
