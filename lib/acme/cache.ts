/**
 * The certificate cache directory: the ACME account key and, per set of
 * hostnames and ACME directory, the certificate chain and its private key.
 * The directory is 0700 and every file 0600; writes go through a temporary
 * file and a rename so a crash never leaves half a key.
 *
 * @module
 */

export interface CachedCert {
  certPem: string;
  keyPem: string;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function isNotFound(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound;
}

export class CertCache {
  readonly dir: string;

  constructor(dir: string) {
    if (dir === "") throw new TypeError("cacheDir must not be empty");
    this.dir = dir;
  }

  /** Creates the directory if needed and forces its mode to 0700. */
  async ensureDir(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(this.dir, 0o700);
  }

  /** File name stem for a certificate: first hostname plus a hash of the whole request. */
  async certName(directoryUrl: string, hostnames: string[]): Promise<string> {
    const sorted = [...hostnames].map((h) => h.toLowerCase()).sort();
    const hash = (await sha256Hex(`${directoryUrl}\n${sorted.join("\n")}`)).slice(0, 12);
    const first = (sorted[0] ?? "cert").replace(/[^a-z0-9.-]/g, "_");
    return `${first}-${hash}`;
  }

  async readAccountKey(): Promise<string | null> {
    return await this.#read("account.key.pem");
  }

  async writeAccountKey(pem: string): Promise<void> {
    await this.#write("account.key.pem", pem);
  }

  async readCert(name: string): Promise<CachedCert | null> {
    const certPem = await this.#read(`${name}.cert.pem`);
    const keyPem = await this.#read(`${name}.key.pem`);
    return certPem && keyPem ? { certPem, keyPem } : null;
  }

  async writeCert(name: string, cert: CachedCert): Promise<void> {
    await this.#write(`${name}.key.pem`, cert.keyPem);
    await this.#write(`${name}.cert.pem`, cert.certPem);
  }

  async #read(file: string): Promise<string | null> {
    try {
      return await Deno.readTextFile(`${this.dir}/${file}`);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async #write(file: string, text: string): Promise<void> {
    const tmp = `${this.dir}/.${file}.${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeTextFile(tmp, text, { mode: 0o600, createNew: true });
      await Deno.chmod(tmp, 0o600);
      await Deno.rename(tmp, `${this.dir}/${file}`);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  }
}
