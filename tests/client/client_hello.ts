/**
 * TLS ClientHellos as tshark sees them: a capture on loopback for one TCP port, and the
 * fields of each ClientHello in it (cipher suites, extension types, groups, signature
 * algorithms, ALPN, versions), with GREASE values (RFC 8701) told apart.
 *
 * @module
 */

/** A running capture. */
export interface Capture {
  /** Stops tshark and returns the ClientHellos it saw, by SNI. */
  stop(): Promise<Map<string, ClientHello>>;
}

/** One ClientHello; lists in wire order, GREASE values left out and counted. */
export interface ClientHello {
  sni: string;
  ciphers: number[];
  extensions: number[];
  groups: number[];
  keyShares: number[];
  sigAlgs: number[];
  alpn: string[];
  versions: number[];
  /** How many GREASE values each field carried. */
  grease: Record<string, number>;
}

/** RFC 8701: 0x0A0A, 0x1A1A, … 0xFAFA. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

const FIELDS = {
  sni: "tls.handshake.extensions_server_name",
  ciphers: "tls.handshake.ciphersuite",
  extensions: "tls.handshake.extension.type",
  groups: "tls.handshake.extensions_supported_group",
  keyShares: "tls.handshake.extensions_key_share_group",
  sigAlgs: "tls.handshake.sig_hash_alg",
  alpn: "tls.handshake.extensions_alpn_str",
  versions: "tls.handshake.extensions.supported_version",
};

/** Starts tshark on `lo` for TCP `port`; resolves once it is capturing. Needs root. */
export async function captureLoopback(port: number): Promise<Capture> {
  const dir = await Deno.makeTempDir({ prefix: "sfclient-hello-" });
  const file = `${dir}/hello.pcap`;
  const tshark = new Deno.Command("tshark", {
    args: ["-q", "-i", "lo", "-f", `tcp port ${port}`, "-w", file],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = tshark.stderr.getReader();
  let said = "";
  while (!said.includes("Capturing on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tshark did not start: ${said}`);
    said += new TextDecoder().decode(value);
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* keep the pipe open */ }
  })();
  return {
    async stop() {
      // tshark writes packets out as they come; give the last ones a moment to land.
      await new Promise((r) => setTimeout(r, 500));
      tshark.kill("SIGTERM");
      await tshark.status;
      await drain;
      try {
        return await readClientHellos(file);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** The ClientHellos of a pcap file, the first one of each SNI. */
export async function readClientHellos(file: string): Promise<Map<string, ClientHello>> {
  const names = Object.keys(FIELDS) as (keyof typeof FIELDS)[];
  const out = await new Deno.Command("tshark", {
    args: [
      "-r",
      file,
      "-Y",
      "tls.handshake.type == 1",
      "-T",
      "fields",
      "-E",
      "separator=|",
      ...names.flatMap((n) => ["-e", FIELDS[n]]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`tshark -r: ${new TextDecoder().decode(out.stderr)}`);
  const hellos = new Map<string, ClientHello>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (line === "") continue;
    const cols = line.split("|");
    const col = (n: keyof typeof FIELDS) => {
      const v = cols[names.indexOf(n)] ?? "";
      return v === "" ? [] : v.split(",");
    };
    const grease: Record<string, number> = {};
    const numbers = (n: keyof typeof FIELDS) => {
      const all = col(n).map((v) => Number(v));
      grease[n] = all.filter(isGrease).length;
      return all.filter((v) => !isGrease(v));
    };
    const sni = col("sni")[0] ?? "";
    if (hellos.has(sni)) continue;
    hellos.set(sni, {
      sni,
      ciphers: numbers("ciphers"),
      extensions: numbers("extensions"),
      groups: numbers("groups"),
      keyShares: numbers("keyShares"),
      sigAlgs: numbers("sigAlgs"),
      alpn: col("alpn"),
      versions: numbers("versions"),
      grease,
    });
  }
  return hellos;
}

/** `0x1301,0x1302` for a list of code points. */
export function hex(values: number[]): string {
  return values.map((v) => "0x" + v.toString(16).padStart(4, "0")).join(",");
}
