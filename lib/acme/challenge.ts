/**
 * The HTTP-01 challenge responder: answers
 * `GET /.well-known/acme-challenge/<token>` with the key authorization while a
 * challenge is pending, and 404 for everything else.
 *
 * @module
 */

const PREFIX = "/.well-known/acme-challenge/";

export class Http01Responder {
  #tokens = new Map<string, string>();
  #server: Deno.HttpServer | undefined;

  /** Makes `token` answer with `keyAuthorization`. */
  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.#tokens.delete(token);
  }

  /** The request handler, usable without a listener. */
  handle(req: Request): Response {
    const path = new URL(req.url).pathname;
    if ((req.method === "GET" || req.method === "HEAD") && path.startsWith(PREFIX)) {
      const answer = this.#tokens.get(path.slice(PREFIX.length));
      if (answer !== undefined) {
        return new Response(req.method === "HEAD" ? null : answer, {
          headers: { "content-type": "text/plain" },
        });
      }
    }
    return new Response("not found\n", { status: 404 });
  }

  /** Binds the HTTP listener; throws an Error naming the port when it cannot. */
  listen(port: number, hostname?: string): void {
    if (this.#server) return;
    try {
      this.#server = Deno.serve(
        { port, hostname, onListen: () => {}, onError: () => new Response(null, { status: 500 }) },
        (req) => this.handle(req),
      );
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`acme: cannot listen for HTTP-01 challenges on port ${port}: ${why}`);
    }
  }

  /** The bound port, or null when not listening. */
  get port(): number | null {
    const addr = this.#server?.addr;
    return addr && "port" in addr ? addr.port : null;
  }

  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    this.#tokens.clear();
    if (s) await s.shutdown();
  }
}
