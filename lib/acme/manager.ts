/**
 * AcmeCertManager: obtains and renews a TLS certificate over ACME (RFC 8555)
 * with HTTP-01 challenges, caches it on disk, and tells its owner about new
 * certificates so a TLS listener can be reloaded without a process restart.
 *
 * @module
 */
import acme from "acme-client";
import type { Logger } from "../log/mod.ts";
import { type CachedCert, CertCache } from "./cache.ts";
import { Http01Responder } from "./challenge.ts";
import { type CertInfo, coversHostnames, readCertInfo, renewAt } from "./cert_info.ts";
import { installAcmeHttp, trustCaFor } from "./trust.ts";
import { sleep } from "../net/sleep.ts";

export interface AcmeCertManagerOptions {
  /** ACME directory URL, e.g. Let's Encrypt's or pebble's `https://127.0.0.1:14000/dir`. */
  directoryUrl: string;
  /** DNS names the certificate must cover; the first is the common name. */
  hostnames: string[];
  /** Contact address for the ACME account. */
  email?: string;
  /** Cache directory (created 0700; files 0600). */
  cacheDir: string;
  /** Port of the HTTP-01 listener. Default 80. */
  httpPort?: number;
  /** Address of the HTTP-01 listener. Default: all interfaces. */
  httpHostname?: string;
  /** Renew this long before expiry. Default 30 days, or a third of the lifetime if shorter. */
  renewBeforeMs?: number;
  /** PEM file of the only CAs to trust for the ACME server's HTTPS (pebble's test CA). */
  caCertFile?: string;
  log?: Logger;
  /** Attempts at start when there is no usable cached certificate. Default 3. */
  startAttempts?: number;
  /** First retry delay after a failure; doubles up to retryMaxMs. Default 5 s. */
  retryMinMs?: number;
  /** Longest retry delay. Default 1 h. */
  retryMaxMs?: number;
}

export type RenewCallback = (cert: CachedCert) => void;

const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// setTimeout's limit is 2^31-1 ms; re-check at least daily.
const MAX_TIMER_MS = 24 * 3600_000;

function message(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && !e.message.includes(code)
      ? `${e.message} (${code})`
      : e.message;
  }
  return String(e);
}

export class AcmeCertManager {
  #opts: AcmeCertManagerOptions;
  #hostnames: string[];
  #cache: CertCache;
  #responder = new Http01Responder();
  #current: CachedCert | undefined;
  #info: CertInfo | undefined;
  #callbacks: RenewCallback[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #closed = false;
  #accountKey: string | undefined;
  #acme: acme.Client | undefined;

  constructor(opts: AcmeCertManagerOptions) {
    if (opts.hostnames.length === 0) throw new TypeError("acme: hostnames must not be empty");
    for (const h of opts.hostnames) {
      if (!HOSTNAME.test(h)) throw new TypeError(`acme: invalid hostname ${JSON.stringify(h)}`);
    }
    try {
      new URL(opts.directoryUrl);
    } catch {
      throw new TypeError(`acme: invalid directory URL ${JSON.stringify(opts.directoryUrl)}`);
    }
    const port = opts.httpPort ?? 80;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`acme: httpPort ${port} is not a port number`);
    }
    if (opts.renewBeforeMs !== undefined && !(opts.renewBeforeMs >= 0)) {
      throw new RangeError(`acme: renewBeforeMs ${opts.renewBeforeMs} must be >= 0`);
    }
    installAcmeHttp();
    this.#opts = opts;
    this.#hostnames = opts.hostnames.map((h) => h.toLowerCase());
    this.#cache = new CertCache(opts.cacheDir);
  }

  /**
   * Opens the HTTP-01 listener and loads a cached certificate that covers the
   * hostnames and has not expired, without contacting the ACME server; if
   * there is none, obtains one (retrying with backoff) and throws an Error
   * naming the directory URL and the problem when every attempt fails.
   */
  async start(): Promise<void> {
    const { caCertFile, directoryUrl } = this.#opts;
    if (caCertFile) {
      let pem: string;
      try {
        pem = await Deno.readTextFile(caCertFile);
      } catch (e) {
        throw new Error(`acme: cannot read CA file ${caCertFile}: ${message(e)}`);
      }
      trustCaFor(directoryUrl, pem);
    }
    try {
      await this.#cache.ensureDir();
    } catch (e) {
      throw new Error(`acme: cannot create cache directory ${this.#cache.dir}: ${message(e)}`);
    }
    this.#responder.listen(this.#opts.httpPort ?? 80, this.#opts.httpHostname);
    try {
      const cached = await this.#loadCached();
      if (cached) {
        this.#install(cached.cert, cached.info);
        this.#log(`using cached certificate for ${this.#names()}, expires ${this.#expiry()}`);
      } else {
        const attempts = this.#opts.startAttempts ?? 3;
        for (let i = 1;; i++) {
          try {
            const fresh = await this.#obtain();
            this.#install(fresh.cert, fresh.info);
            break;
          } catch (e) {
            this.#log(`attempt ${i}/${attempts} failed: ${message(e)}`);
            if (i >= attempts || this.#closed) throw e;
            await sleep(this.#backoff(i));
          }
        }
      }
    } catch (e) {
      await this.close();
      throw e;
    }
    this.#schedule();
  }

  /** The certificate chain and key to serve. Throws before start() has succeeded. */
  current(): CachedCert {
    if (!this.#current) throw new Error("acme: no certificate yet (start() has not succeeded)");
    return this.#current;
  }

  /** Calls `cb` with every renewed certificate (after it is cached). */
  onRenew(cb: RenewCallback): void {
    this.#callbacks.push(cb);
  }

  /** Port the HTTP-01 listener is bound to (useful with httpPort 0). */
  get httpPort(): number | null {
    return this.#responder.port;
  }

  /** Stops the renewal timer and the HTTP-01 listener. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#responder.close();
  }

  #names(): string {
    return this.#hostnames.join(", ");
  }

  #expiry(): string {
    return this.#info ? new Date(this.#info.notAfter).toISOString() : "?";
  }

  #log(text: string): void {
    this.#opts.log?.log(`acme: ${text}`);
  }

  #backoff(failures: number): number {
    const min = this.#opts.retryMinMs ?? 5_000;
    const max = this.#opts.retryMaxMs ?? 3600_000;
    return Math.min(max, min * 2 ** Math.min(30, failures - 1));
  }

  async #loadCached(): Promise<{ cert: CachedCert; info: CertInfo } | null> {
    const name = await this.#cache.certName(this.#opts.directoryUrl, this.#hostnames);
    const cert = await this.#cache.readCert(name);
    if (!cert) return null;
    try {
      const info = readCertInfo(cert.certPem);
      if (!coversHostnames(info, this.#hostnames)) {
        this.#log(`cached certificate does not cover ${this.#names()}; ignoring it`);
        return null;
      }
      if (info.notAfter <= Date.now()) {
        this.#log("cached certificate has expired; ignoring it");
        return null;
      }
      return { cert, info };
    } catch (e) {
      this.#log(`cached certificate unreadable (${message(e)}); ignoring it`);
      return null;
    }
  }

  #install(cert: CachedCert, info: CertInfo): void {
    this.#current = cert;
    this.#info = info;
  }

  #schedule(delayMs?: number): void {
    if (this.#closed || !this.#info) return;
    const due = renewAt(this.#info, this.#opts.renewBeforeMs);
    const wait = delayMs ?? Math.max(0, due - Date.now());
    const timer = setTimeout(() => {
      this.#timer = undefined;
      if (delayMs === undefined && wait > MAX_TIMER_MS) return this.#schedule();
      this.#renew();
    }, Math.min(wait, MAX_TIMER_MS));
    this.#timer = timer;
    Deno.unrefTimer(timer);
  }

  async #renew(): Promise<void> {
    if (this.#closed) return;
    this.#log(`renewing certificate for ${this.#names()} (expires ${this.#expiry()})`);
    let fresh: { cert: CachedCert; info: CertInfo };
    try {
      fresh = await this.#obtain();
    } catch (e) {
      this.#failures++;
      const retry = this.#backoff(this.#failures);
      this.#log(`renewal failed (${message(e)}); retrying in ${Math.round(retry / 1000)} s`);
      this.#schedule(retry);
      return;
    }
    if (this.#closed) return;
    this.#failures = 0;
    this.#install(fresh.cert, fresh.info);
    for (const cb of this.#callbacks) {
      try {
        cb(fresh.cert);
      } catch (e) {
        this.#log(`onRenew callback failed: ${message(e)}`);
      }
    }
    this.#schedule();
  }

  /** One client per manager, so the account is registered once, not at every renewal. */
  async #client(): Promise<acme.Client> {
    this.#acme ??= new acme.Client({
      directoryUrl: this.#opts.directoryUrl,
      accountKey: await this.#getAccountKey(),
      backoffAttempts: 10,
      backoffMin: 250,
      backoffMax: 5_000,
    });
    return this.#acme;
  }

  async #ensureAccount(client: acme.Client): Promise<void> {
    try {
      client.getAccountUrl();
      return;
    } catch {
      // not registered yet in this process
    }
    // For a key the server already knows, acme-client turns this into an account update,
    // which pebble refuses when it carries no contact field: always send one.
    const contact = this.#opts.email ? [`mailto:${this.#opts.email}`] : [];
    await client.createAccount({ termsOfServiceAgreed: true, contact });
  }

  async #getAccountKey(): Promise<string> {
    if (this.#accountKey) return this.#accountKey;
    let key = await this.#cache.readAccountKey();
    if (!key) {
      key = (await acme.crypto.createPrivateEcdsaKey()).toString();
      await this.#cache.writeAccountKey(key);
      this.#log(`created a new ACME account key in ${this.#cache.dir}`);
    }
    this.#accountKey = key;
    return key;
  }

  /** One full issuance: account, order, HTTP-01 for every name, finalize, download, cache. */
  async #obtain(): Promise<{ cert: CachedCert; info: CertInfo }> {
    const url = this.#opts.directoryUrl;
    const fail = (what: string, e: unknown) =>
      new Error(`acme: ${what} for ${this.#names()} at ${url}: ${message(e)}`, { cause: e });
    const client = await this.#client();
    this.#log(`requesting a certificate for ${this.#names()} from ${url}`);
    let order: acme.Order;
    try {
      await this.#ensureAccount(client);
      order = await client.createOrder({
        identifiers: this.#hostnames.map((value) => ({ type: "dns", value })),
      });
    } catch (e) {
      throw fail("cannot reach the ACME server or create an order", e);
    }
    let authzs: acme.Authorization[];
    try {
      authzs = await client.getAuthorizations(order);
    } catch (e) {
      throw fail("cannot fetch authorizations", e);
    }
    for (const authz of authzs) {
      if (authz.status === "valid") continue;
      const name = authz.identifier.value;
      const challenge = authz.challenges.find((c) => c.type === "http-01");
      if (!challenge) throw fail(`no http-01 challenge offered for ${name}`, "unsupported");
      const keyAuth = await client.getChallengeKeyAuthorization(challenge);
      this.#responder.set(challenge.token, keyAuth);
      try {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
        this.#log(`HTTP-01 challenge for ${name} passed`);
      } catch (e) {
        const detail = await this.#challengeError(client, authz).catch(() => null);
        throw fail(`HTTP-01 challenge for ${name} failed`, detail ?? e);
      } finally {
        this.#responder.delete(challenge.token);
      }
    }
    let cert: CachedCert;
    try {
      const certKey = await acme.crypto.createPrivateEcdsaKey();
      const [, csr] = await acme.crypto.createCsr(
        { commonName: this.#hostnames[0], altNames: this.#hostnames },
        certKey,
      );
      const finalized = await client.finalizeOrder(order, csr);
      cert = { certPem: await client.getCertificate(finalized), keyPem: certKey.toString() };
    } catch (e) {
      throw fail("cannot finalize the order", e);
    }
    const info = readCertInfo(cert.certPem);
    if (!coversHostnames(info, this.#hostnames)) {
      throw fail("certificate does not cover the names", info.dnsNames.join(", "));
    }
    const name = await this.#cache.certName(url, this.#hostnames);
    await this.#cache.writeCert(name, cert);
    this.#log(
      `obtained certificate for ${this.#names()}, expires ${new Date(info.notAfter).toISOString()}`,
    );
    return { cert, info };
  }

  async #challengeError(client: acme.Client, authz: acme.Authorization): Promise<string | null> {
    const [again] = await client.getAuthorizations({ authorizations: [authz.url] } as acme.Order);
    const ch = again?.challenges.find((c) => c.type === "http-01");
    const err = ch?.error as { detail?: string } | undefined;
    return err?.detail ?? null;
  }
}
