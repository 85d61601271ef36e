/**
 * An `https.Agent` whose connections are `node:tls` connections, for npm packages that speak
 * HTTPS through `node:https` (acme-client's axios, the AWS SDK's NodeHttpHandler).
 *
 * Deno's own `https.Agent` asks for the `sys` permission "ca" whenever NODE_EXTRA_CA_CERTS is
 * set in the environment and the request has no `ca`, to read Node's CA list; `--allow-sys=`
 * cannot name "ca", so under the binaries' flags every such request failed. `node:tls`
 * verifies with Deno's root store instead, which asks for no permission and honours DENO_CERT,
 * DENO_TLS_CA_STORE and NODE_EXTRA_CA_CERTS. An agent made with `ca` trusts only those
 * certificates, as Node's does.
 *
 * @module
 */
import https from "node:https";
import { isIP } from "node:net";
import tls from "node:tls";

/** Pass it as the `httpsAgent`/`agent` of an HTTPS client; takes `https.Agent`'s options. */
export class TlsAgent extends https.Agent {
  override createConnection(options: https.RequestOptions): tls.TLSSocket {
    const host = (options.host ?? options.hostname ?? "localhost").replace(/^\[|\]$/g, "");
    return tls.connect({
      host,
      port: Number(options.port ?? 443),
      servername: isIP(host) ? undefined : options.servername || host,
      // The agent's own options are merged into `options` by https.Agent.
      ca: options.ca,
    });
  }
}
