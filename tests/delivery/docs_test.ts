/**
 * `docs:` no example in docs/ rots: torrc files and ```torrc blocks pass `tor --verify-config`
 * and their Snowflake lines parse with the client's and server's own code; ```yaml blocks are
 * valid pytunnel configurations; systemd units pass `systemd-analyze verify` and their command
 * lines parse with the broker's and proxy's flag parsers, inside the binary's file scope; the
 * README links docs/ and every relative link resolves.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { parseClientFlags } from "../../client/flags.ts";
import { parseFlags as parseServerFlags } from "../../server/main.ts";
import { parseServerTransportOptions } from "../../lib/pt/server_env.ts";
import {
  applyBridgeArgs,
  chooseRendezvous,
  defaultClientConfig,
  parseBridgeLine,
  parseIceServers,
} from "../../lib/snowflake/client_config.ts";
import { parseBrokerFlags } from "../../proxy/broker/flags.ts";
import { parseProxyFlags } from "../../proxy/relay/flags.ts";
import { parseClientConfig, parseServerConfig } from "../../pytunnel/config.ts";
import { encodeKey, generatePrivateKey } from "../../pytunnel/core.ts";
import { BINARIES } from "../../tools/permissions.ts";
import { assertMatch } from "./binary.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const DOCS = `${ROOT}/docs`;

interface Example {
  /** Where it is: a file, or a file and the block's line. */
  where: string;
  text: string;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await walk(p));
    else out.push(p);
  }
  return out.sort();
}

/** Files with extension `ext` and ```lang blocks in markdown, under docs/. */
async function examples(ext: string[], lang: string): Promise<Example[]> {
  const out: Example[] = [];
  for (const path of await walk(DOCS)) {
    const rel = path.slice(ROOT.length + 1);
    if (ext.some((e) => path.endsWith(e))) {
      out.push({ where: rel, text: await Deno.readTextFile(path) });
    }
    if (!path.endsWith(".md")) continue;
    const lines = (await Deno.readTextFile(path)).split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() !== "```" + lang) continue;
      const start = i + 1;
      while (++i < lines.length && lines[i]!.trim() !== "```");
      out.push({ where: `${rel}:${start}`, text: lines.slice(start, i).join("\n") + "\n" });
    }
  }
  return out;
}

/** torrc lines as [keyword, value], comments and blanks dropped. */
function torrcLines(text: string): [string, string][] {
  return text.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "").map(
    (l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l)!;
      return [m[1]!, m[2]!];
    },
  );
}

async function torVerify(text: string): Promise<{ ok: boolean; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "docs-torrc-" });
  try {
    await Deno.writeTextFile(`${dir}/torrc`, text);
    const { code, stdout, stderr } = await new Deno.Command("tor", {
      args: ["--verify-config", "-f", `${dir}/torrc`, "--DataDirectory", `${dir}/data`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    return { ok: code === 0 && /Configuration was valid/.test(output), output };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Whether `path` is inside one of `dirs` (the binary's permission scope). */
function inside(path: string, dirs: string[]): boolean {
  return dirs.some((d) => path === d || path.startsWith(d + "/"));
}

/** Absolute paths among `args` (values of flags and plain words). */
function absolutePaths(args: string[]): string[] {
  return args.filter((a) => a.startsWith("/"));
}

/** Checks a Snowflake torrc's transport lines with the project's own parsers. */
function checkSnowflakeLines(where: string, lines: [string, string][]): number {
  let checked = 0;
  for (const [key, value] of lines) {
    if (key === "Bridge") {
      const bridge = parseBridgeLine(value);
      assertEquals(bridge.transport, "snowflake", where);
      const config = applyBridgeArgs(defaultClientConfig(), bridge.args);
      assertEquals(config.fingerprint, bridge.fingerprint, where);
      chooseRendezvous(config);
      assertEquals(parseIceServers(config.ice).skipped, [], `${where}: ICE servers`);
      checked++;
    } else if (key === "ClientTransportPlugin" || key === "ServerTransportPlugin") {
      const [method, exec, , ...args] = value.split(/\s+/);
      assertEquals([method, exec], ["snowflake", "exec"], where);
      const server = key === "ServerTransportPlugin";
      if (server) parseServerFlags(args);
      else parseClientFlags(args);
      const scope = BINARIES[server ? "server" : "client"]!.files("linux").write;
      for (const p of absolutePaths(args)) {
        assert(inside(p, scope), `${where}: ${p} outside ${scope}`);
      }
      checked++;
    } else if (key === "ServerTransportOptions") {
      const [method, ...pairs] = value.split(/\s+/);
      const opts = parseServerTransportOptions(pairs.map((p) => `${method}:${p}`).join(";"));
      for (const k of opts.get("snowflake")?.keys() ?? []) {
        assert(["num-turbotunnel", "orport-srcaddr"].includes(k), `${where}: unknown option ${k}`);
      }
      checked++;
    }
  }
  return checked;
}

Deno.test("docs: every torrc example passes tor --verify-config and the transport's own parsing", async () => {
  const all = await examples([".torrc"], "torrc");
  assert(all.length >= 3, `torrc examples: ${all.map((e) => e.where)}`);
  let snowflakeLines = 0;
  for (const ex of all) {
    const { ok, output } = await torVerify(ex.text);
    assert(ok, `${ex.where}: tor --verify-config:\n${output}`);
    snowflakeLines += checkSnowflakeLines(ex.where, torrcLines(ex.text));
  }
  assert(snowflakeLines >= 6, `only ${snowflakeLines} Snowflake lines checked`);
  const bridge = all.find((e) => /ServerTransportOptions/.test(e.text))!;
  assert(/ServerTransportPlugin snowflake exec/.test(bridge.text));
  assert(all.some((e) => /^Bridge snowflake .*utls-imitate=/m.test(e.text)), "Tor Browser lines");

  // The check can fail: a mangled option is caught by tor, a bad bridge line by our parser.
  const rotten = bridge.text.replace(/num-turbotunnel=2/, "num-turbotunnel");
  assertEquals((await torVerify(rotten)).ok, false);
  let threw = false;
  try {
    checkSnowflakeLines("rotten", [["Bridge", "snowflake 192.0.2.3:80 url"]]);
  } catch {
    threw = true;
  }
  assert(threw, "a bridge argument without = must be refused");
});

Deno.test("docs: every YAML example is a valid pytunnel configuration", async () => {
  const all = await examples([".yaml", ".yml"], "yaml");
  assert(all.length >= 2, `yaml examples: ${all.map((e) => e.where)}`);
  const roles = new Set<string>();
  for (const ex of all) {
    const dir = await Deno.makeTempDir({ prefix: "docs-yaml-" });
    try {
      // Key files named in the example exist next to it, as step 1 of docs/PYTUNNEL.md makes them.
      for (const m of ex.text.matchAll(/private_key_file:\s*(\S+)/g)) {
        const name = m[1]!.split("/").at(-1)!;
        await Deno.writeTextFile(`${dir}/${name}`, encodeKey(generatePrivateKey()) + "\n", {
          mode: 0o600,
        });
        ex.text = ex.text.replace(m[1]!, name);
      }
      const path = `${dir}/example.yaml`;
      await Deno.writeTextFile(path, ex.text, { mode: 0o600 });
      const server = /^(listen_port|peers)\s*:/m.test(ex.text);
      roles.add(server ? "server" : "client");
      try {
        if (server) parseServerConfig(ex.text, path);
        else parseClientConfig(ex.text, path);
      } catch (e) {
        throw new Error(`${ex.where}: ${(e as Error).message}`);
      }
      const status = /^status:\s*(\S+)/m.exec(ex.text)?.[1];
      if (status) {
        const scope = BINARIES.pytunnel!.files("linux").write;
        assert(inside(status, scope), `${ex.where}: ${status} outside ${scope}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  assertEquals([...roles].sort(), ["client", "server"]);
});

Deno.test("docs: systemd units pass systemd-analyze verify, sandboxed, with command lines that parse", async () => {
  const units = (await walk(`${DOCS}/systemd`)).filter((p) => /\.(service|conf)$/.test(p));
  assert(units.length >= 3, `units: ${units}`);
  for (const path of units) {
    const rel = path.slice(ROOT.length + 1);
    const text = await Deno.readTextFile(path);
    const dir = await Deno.makeTempDir({ prefix: "docs-unit-" });
    try {
      let unit = text;
      if (path.endsWith(".conf")) {
        // A drop-in: verified on a minimal unit it extends.
        unit = `[Service]\nExecStart=/bin/true\n${text}`;
      } else {
        const exec = /^ExecStart=(\S+)\s+(.*)$/m.exec(text);
        assert(exec, `${rel}: no ExecStart`);
        const [role, ...args] = exec[2]!.split(/\s+/);
        assertEquals(exec[1], "/usr/local/bin/broker-proxy", rel);
        if (role === "broker") parseBrokerFlags(args);
        else if (role === "proxy") parseProxyFlags(args);
        else throw new Error(`${rel}: role ${role}`);
        const files = BINARIES["broker-proxy"]!.files("linux");
        for (const p of absolutePaths(args)) {
          assert(inside(p, [...files.read, ...files.write]), `${rel}: ${p} outside the scope`);
        }
        for (const must of ["NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes"]) {
          assert(text.includes(`\n${must}\n`), `${rel}: no ${must}`);
        }
        assertMatch(text, /^CapabilityBoundingSet=/m, `${rel}: no capability bounding set`);
        // systemd checks that the program exists; the release binary is not installed here.
        unit = text.replace(/^ExecStart=\S+/m, "ExecStart=/bin/true");
      }
      const copy = `${dir}/${rel.split("/").at(-1)!.replace(/\.conf$/, ".service")}`;
      await Deno.writeTextFile(copy, unit);
      const { code, stdout, stderr } = await new Deno.Command("systemd-analyze", {
        args: ["verify", copy],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
      assertEquals([code, output.trim()], [0, ""], rel);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("docs: the README links docs/, and every relative link in them resolves", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  for (const page of ["docs/INSTALL.md", "docs/ARCHITECTURE.md", "docs/PYTUNNEL.md"]) {
    assert(readme.includes(`](${page}`), `README does not link ${page}`);
  }
  const pages = [
    "README.md",
    ...(await walk(DOCS)).filter((p) => p.endsWith(".md")).map((p) => p.slice(ROOT.length + 1)),
  ];
  for (const page of pages) {
    const text = await Deno.readTextFile(`${ROOT}/${page}`);
    const base = page.includes("/") ? page.slice(0, page.lastIndexOf("/")) : ".";
    for (const m of text.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const resolved = new URL(target, `file://${ROOT}/${base}/`).pathname;
      try {
        await Deno.stat(resolved);
      } catch {
        throw new Error(`${page}: link ${target} does not resolve`);
      }
    }
  }
});
