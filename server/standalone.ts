/**
 * Standalone mode: the server run by systemd instead of tor. The PT environment tor would
 * give (TOR_PT_SERVER_BINDADDR, TOR_PT_EXTENDED_SERVER_PORT, TOR_PT_AUTH_COOKIE_FILE, …)
 * comes from flags or a small config file instead; see README "Standalone bridge layout"
 * and docs/SCALING.md.
 *
 * Config file: one `key value` per line, `#` comments, the keys of the flags below without
 * their dashes. Flags override the file.
 *
 * @module
 */
import type { Getenv } from "../lib/pt/server_env.ts";
import { METHOD_NAME } from "./turbotunnel.ts";

/** The standalone flags, in node:util parseArgs form (merged into the server's own). */
export const STANDALONE_OPTIONS = {
  config: { type: "string" },
  listen: { type: "string" },
  extorport: { type: "string" },
  orport: { type: "string" },
  "auth-cookie": { type: "string" },
  "state-dir": { type: "string" },
  "transport-options": { type: "string" },
} as const;

const KEYS = Object.keys(STANDALONE_OPTIONS).filter((k) => k !== "config");

export const STANDALONE_USAGE = `
Standalone mode (not launched by tor; enabled by --listen or --config):
  --config FILE             read the settings below from FILE ("key value" lines, # comments)
  --listen IP:PORT          where proxies connect (tor's ServerTransportListenAddr)
  --extorport IP:PORT       tor's ExtORPort, or a balancer in front of several tors
  --auth-cookie FILE        the ExtORPort auth cookie (a static one shared by the tors)
  --orport IP:PORT          tor's plain ORPort, used when there is no --extorport
  --state-dir DIR           state directory (ACME certificate cache)
  --transport-options OPTS  "key=value;key=value", e.g. "num-turbotunnel=2;orport-srcaddr=127.0.2.0/24"
`;

/** The standalone settings as parsed (flag or config names). */
export type StandaloneValues = Partial<Record<keyof typeof STANDALONE_OPTIONS, string>>;

/** Parses a config file's text into settings; unknown keys are errors naming the line. */
export function parseStandaloneConfig(text: string, name = "config"): StandaloneValues {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) {
      throw new SyntaxError(`${name}:${i + 1}: want "key value", got ${JSON.stringify(line)}`);
    }
    const [, key, value] = m as unknown as [string, string, string];
    if (!KEYS.includes(key)) throw new SyntaxError(`${name}:${i + 1}: unknown key ${key}`);
    out[key] = value;
  }
  return out;
}

/**
 * The PT environment of standalone mode, or null when neither --listen nor --config was
 * given (the server is then a managed transport as usual). The result feeds the same
 * `serverSetup` tor's variables do, so every check and SMETHOD line is the same.
 */
export async function standaloneEnv(values: StandaloneValues): Promise<Getenv | null> {
  if (values.config === undefined && values.listen === undefined) return null;
  const file = values.config === undefined
    ? {}
    : parseStandaloneConfig(await Deno.readTextFile(values.config), values.config);
  const s: StandaloneValues = { ...file };
  for (const k of KEYS) {
    const v = values[k as keyof StandaloneValues];
    if (v !== undefined) s[k as keyof StandaloneValues] = v;
  }
  if (s.listen === undefined) throw new SyntaxError("standalone mode needs listen");
  const options = (s["transport-options"] ?? "").split(";").filter((o) => o !== "")
    .map((o) => `${METHOD_NAME}:${o}`).join(";");
  const env: Record<string, string | undefined> = {
    TOR_PT_MANAGED_TRANSPORT_VER: "1",
    TOR_PT_SERVER_TRANSPORTS: METHOD_NAME,
    TOR_PT_SERVER_BINDADDR: `${METHOD_NAME}-${s.listen}`,
    TOR_PT_EXTENDED_SERVER_PORT: s.extorport,
    TOR_PT_AUTH_COOKIE_FILE: s["auth-cookie"],
    TOR_PT_ORPORT: s.orport,
    TOR_PT_STATE_LOCATION: s["state-dir"],
    TOR_PT_SERVER_TRANSPORT_OPTIONS: options || undefined,
  };
  return (key) => env[key];
}
