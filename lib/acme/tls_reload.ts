/**
 * A `Deno.serve` TLS listener whose certificate can be replaced without a
 * process restart. Deno cannot swap the certificate of a running listener, so
 * reload() binds a second listener on the same port (SO_REUSEPORT) with the
 * new certificate and then shuts the old one down. New connections get the
 * new certificate; shutting the old listener down closes the connections it
 * still holds, upgraded WebSockets included (measured on Deno 2.9), so their
 * clients must reconnect (Snowflake's Turbo Tunnel sessions survive that).
 *
 * @module
 */

export interface ReloadableTlsServerOptions {
  /** Port to listen on; 0 picks one (kept across reloads). */
  port: number;
  hostname?: string;
  cert: string;
  key: string;
  handler: Deno.ServeHandler<Deno.NetAddr>;
  onError?: (error: unknown) => Response | Promise<Response>;
}

export class ReloadableTlsServer {
  #opts: ReloadableTlsServerOptions;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #draining = new Set<Promise<void>>();
  #port: number;

  constructor(opts: ReloadableTlsServerOptions) {
    this.#opts = opts;
    this.#server = this.#serve(opts.port, opts.cert, opts.key);
    this.#port = this.#server.addr.port;
  }

  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** Serves new connections with `cert`/`key`; the old listener shuts down in the background. */
  reload(cert: string, key: string): void {
    const next = this.#serve(this.#port, cert, key);
    const old = this.#server;
    this.#server = next;
    const done: Promise<void> = old.shutdown().finally(() => this.#draining.delete(done));
    this.#draining.add(done);
  }

  /** Shuts every listener down and waits for their connections to end. */
  async shutdown(): Promise<void> {
    await Promise.all([this.#server.shutdown(), ...this.#draining]);
  }

  #serve(port: number, cert: string, key: string): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve({
      port,
      hostname: this.#opts.hostname,
      cert,
      key,
      reusePort: true,
      onListen: () => {},
      onError: this.#opts.onError,
    }, this.#opts.handler);
  }
}
