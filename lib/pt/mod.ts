/**
 * Tor pluggable-transport plumbing: PT stdout lines, server environment, ExtORPort client.
 *
 * @module
 */
export * from "./stdout.ts";
export * from "./server_env.ts";
export * from "./extorport.ts";
