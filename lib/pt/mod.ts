/**
 * Tor pluggable-transport plumbing: PT stdout lines, server and client environments,
 * ExtORPort client, SOCKS server.
 *
 * @module
 */
export * from "./stdout.ts";
export * from "./server_env.ts";
export * from "./extorport.ts";
export * from "./client_env.ts";
export * from "./socks.ts";
