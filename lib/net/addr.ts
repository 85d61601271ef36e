import type { Addr } from "./types.ts";

/** An address that is only a name: memory twins, ClientIDs, WebSocket peers. */
export class NamedAddr implements Addr {
  constructor(readonly network: string, readonly name: string) {}
  toString(): string {
    return this.name;
  }
}

/** A host and port, formatted the way Go does (`[v6]:port`). */
export class HostPortAddr implements Addr {
  constructor(
    readonly network: string,
    readonly hostname: string,
    readonly port: number,
  ) {}
  toString(): string {
    return this.hostname.includes(":")
      ? `[${this.hostname}]:${this.port}`
      : `${this.hostname}:${this.port}`;
  }
  static from(network: string, a: Deno.NetAddr): HostPortAddr {
    return new HostPortAddr(network, a.hostname, a.port);
  }
}
