/**
 * A multi-instance bridge site inside the shared e2e network (docs/SCALING.md): N tor
 * instances sharing one identity, each with its own data directory, `ExtORPort auto` and
 * `server/extor_static_cookie.ts` as its ServerTransportPlugin on 127.0.0.1:<port>; Debian's
 * HAProxy (TCP mode, health checks, `usesrc clientip`) balancing over those; our server
 * standalone (no tor parent) on ws://10.77.0.1:<wsPort>/ with the static cookie and
 * `orport-srcaddr`. Everything a site writes is under `<net.dir>/<name>/`.
 *
 * @module
 */
import { runArgs } from "../../tools/permissions.ts";
import { DENO, IP, type Proc, readOr, ROOT, type TorNetwork, waitFor } from "./harness.ts";

/** Where a site listens; ports are loopback inside the namespace except `wsPort`. */
export interface SiteOptions {
  name: string;
  instances: number;
  /** Our server's WebSocket port on {@link IP}. */
  wsPort: number;
  /** Base port: HAProxy's frontend is base, instance i's static-cookie ExtORPort base+i, its ORPort base+10+i, the stats page base+9. */
  basePort: number;
  /** tor's debug log of ExtORPort connections (USERADDR, transport); default true. */
  debugLog?: boolean;
}

/** One backend's line of HAProxy's CSV stats. */
export interface BackendStat {
  status: string;
  /** Sessions in total and now. */
  stot: number;
  scur: number;
}

/** A running site. */
export interface BridgeSite {
  readonly name: string;
  readonly dir: string;
  readonly fingerprint: string;
  readonly serverUrl: string;
  /** tor instance i's data directory (1-based, as HAProxy's `tor<i>`). */
  instanceDir(i: number): string;
  /** tor instance i's process. */
  instance(i: number): Proc;
  /** HAProxy's view of the backends, `tor1`…, from its CSV stats page. */
  stats(): Promise<Map<string, BackendStat>>;
  serverLog(): string;
  /** A `Bridge` line naming this site's fingerprint. */
  bridgeLine(): string;
  stop(): Promise<void>;
}

const STATIC_COOKIE = "static_extorport_cookie";

/** The argv running binary `name` (entry point `entry`) from this checkout. */
function ptExec(entry: string, name: string, args: string[]): string[] {
  return [DENO, ...runArgs(name, args).map((a) => (a === entry ? `${ROOT}/${entry}` : a))];
}

/** Boots a site and waits until HAProxy sees every instance up and the server listens. */
export async function startBridgeSite(net: TorNetwork, o: SiteOptions): Promise<BridgeSite> {
  const dir = `${net.dir}/${o.name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  const cookie = `${dir}/${STATIC_COOKIE}`;
  // The operator's one-time command (README "Standalone bridge layout").
  const gen = await new Deno.Command(
    DENO,
    { args: runArgs("extor-static-cookie", ["gen-cookie", cookie]), cwd: ROOT },
  ).output();
  if (gen.code !== 0) throw new Error(`gen-cookie: ${new TextDecoder().decode(gen.stderr)}`);

  // One identity: instance 1 makes the keys, the others get a copy of keys/.
  const instanceDir = (i: number) => `${dir}/tor${i}`;
  const torName = (i: number) => `${o.name}/tor${i}`;
  await Deno.writeTextFile(`${dir}/empty`, "");
  for (let i = 1; i <= o.instances; i++) await Deno.mkdir(instanceDir(i), { mode: 0o700 });
  const list = await net.exec([
    "tor",
    "--quiet",
    "-f",
    `${dir}/empty`,
    "--list-fingerprint",
    "--DataDirectory",
    instanceDir(1),
    "--ORPort",
    String(o.basePort + 11),
  ]);
  const fingerprint = new TextDecoder().decode(list.stdout).trim().split("\n").pop()!.split(" ")
    .slice(1).join("");
  if (!/^[0-9A-F]{40}$/.test(fingerprint)) {
    throw new Error(`${o.name}: no fingerprint: ${list.stderr}`);
  }
  for (let i = 2; i <= o.instances; i++) {
    const r = await net.exec(["cp", "-a", `${instanceDir(1)}/keys`, `${instanceDir(i)}/keys`]);
    if (r.code !== 0) throw new Error(`copying keys: ${r.stderr}`);
  }

  const procs: Proc[] = [];
  const extorPort = (i: number) => o.basePort + i;
  for (let i = 1; i <= o.instances; i++) {
    const lines = [
      ...net.torrc(torName(i)),
      `Log info file ${instanceDir(i)}/info.log`,
      ...(o.debugLog === false ? [] : [`Log [general,net]debug file ${instanceDir(i)}/extor.log`]),
      "SocksPort 0",
      "BridgeRelay 1",
      "BridgeDistribution none",
      "PublishServerDescriptor 0",
      `ORPort 127.0.0.1:${o.basePort + 10 + i}`,
      "Address 127.0.0.1",
      "ExtORPort auto",
      `ServerTransportPlugin extor_static_cookie exec ${
        ptExec("server/extor_static_cookie.ts", "extor-static-cookie", [cookie]).join(" ")
      }`,
      `ServerTransportListenAddr extor_static_cookie 127.0.0.1:${extorPort(i)}`,
    ].map((l) => l.replace(/^Nickname .*/, `Nickname ${o.name.replace(/\W/g, "")}${i}`));
    await Deno.writeTextFile(`${instanceDir(i)}/torrc`, lines.join("\n") + "\n");
    procs.push(net.spawn(`${o.name}-tor${i}`, ["tor", "-f", `${instanceDir(i)}/torrc`]));
  }

  const statsPort = o.basePort + 9;
  const haproxyCfg = [
    "global",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 10m",
    "  timeout server 10m",
    "  timeout check 2s",
    "frontend extorport",
    `  bind 127.0.0.1:${o.basePort}`,
    "  default_backend tors",
    "backend tors",
    "  balance roundrobin",
    // Healthy means the static-cookie ExtORPort offers SAFE_COOKIE (auth types 1, then 0).
    "  option tcp-check",
    "  tcp-check connect",
    "  tcp-check expect binary 0100",
    // Connect to the instance from the server's own (orport-srcaddr) address.
    "  source 0.0.0.0 usesrc clientip",
    "  default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions",
    ...Array.from(
      { length: o.instances },
      (_, k) => `  server tor${k + 1} 127.0.0.1:${extorPort(k + 1)}`,
    ),
    "listen stats",
    "  mode http",
    `  bind 127.0.0.1:${statsPort}`,
    "  stats enable",
    "  stats uri /stats",
  ];
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, haproxyCfg.join("\n") + "\n");
  procs.push(net.spawn(`${o.name}-haproxy`, ["haproxy", "-db", "-f", `${dir}/haproxy.cfg`]));

  const serverUrl = `ws://${IP}:${o.wsPort}/`;
  const config = [
    `listen ${IP}:${o.wsPort}`,
    `extorport 127.0.0.1:${o.basePort}`,
    `auth-cookie ${cookie}`,
    `state-dir ${dir}/server-state`,
    "transport-options orport-srcaddr=127.0.2.0/24",
  ];
  await Deno.writeTextFile(`${dir}/server.conf`, config.join("\n") + "\n");
  const server = net.spawn(
    `${o.name}-server`,
    ptExec("server/main.ts", "server", [
      "--config",
      `${dir}/server.conf`,
      "--disable-tls",
      "--unsafe-logging",
      "--log",
      `${dir}/server.log`,
    ]),
  );
  procs.push(server);

  const stats = async (): Promise<Map<string, BackendStat>> => {
    const r = await net.exec([
      "curl",
      "-sS",
      "--max-time",
      "5",
      `http://127.0.0.1:${statsPort}/stats;csv`,
    ]);
    const rows = new TextDecoder().decode(r.stdout).split("\n");
    const head = (rows[0] ?? "").replace(/^# /, "").split(",");
    const col = (name: string) => head.indexOf(name);
    const out = new Map<string, BackendStat>();
    for (const row of rows.slice(1)) {
      const f = row.split(",");
      if (f[0] !== "tors" || !/^tor\d+$/.test(f[1] ?? "")) continue;
      out.set(f[1]!, {
        status: f[col("status")] ?? "",
        stot: Number(f[col("stot")]),
        scur: Number(f[col("scur")]),
      });
    }
    return out;
  };
  const dead = () => {
    const p = procs.find((p) => p.exited);
    return p ? `${p.name} exited: ${readOr(`${net.dir}/${p.name}.out`).slice(-1500)}` : null;
  };
  await waitFor(() => /listening on/.test(readOr(`${dir}/server.log`)), 60_000, dead);
  let last = new Map<string, BackendStat>();
  const deadline = Date.now() + 120_000;
  for (;;) {
    last = await stats();
    if (last.size === o.instances && [...last.values()].every((s) => s.status === "UP")) break;
    const why = dead();
    if (why) throw new Error(why);
    if (Date.now() > deadline) {
      throw new Error(`${o.name}: HAProxy backends not all UP: ${JSON.stringify([...last])}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  // Clients fetch the consensus from the bridge: each instance must have one.
  await waitFor(
    () =>
      Array.from({ length: o.instances }, (_, k) => instanceDir(k + 1)).every((d) =>
        readOr(`${d}/cached-microdesc-consensus`).includes("\nr ")
      ),
    120_000,
    dead,
  );
  return {
    name: o.name,
    dir,
    fingerprint,
    serverUrl,
    instanceDir,
    instance: (i) => procs[i - 1]!,
    stats,
    serverLog: () => readOr(`${dir}/server.log`),
    bridgeLine: () => `snowflake 192.0.2.3:80 ${fingerprint} fingerprint=${fingerprint}`,
    stop: async () => {
      await Promise.all(procs.map((p) => p.stop()));
    },
  };
}

/** A broker of our own inside the namespace, its bridge list holding `sites`. */
export interface SiteBroker {
  readonly proc: Proc;
  readonly url: string;
  debug(): Promise<string>;
  log(): string;
}

/** Starts our broker (plain HTTP) on `IP:port` with a bridge list of `sites`. */
export async function startBroker(
  net: TorNetwork,
  name: string,
  port: number,
  sites: BridgeSite[],
): Promise<SiteBroker> {
  const list = `${net.dir}/${name}-bridges.jsonl`;
  await Deno.writeTextFile(
    list,
    sites.map((s) =>
      JSON.stringify({
        displayName: s.name,
        webSocketAddress: s.serverUrl,
        fingerprint: s.fingerprint,
      }) + "\n"
    ).join(""),
  );
  const logPath = `${net.dir}/${name}.log`;
  const proc = net.spawn(
    name,
    ptExec("proxy/main.ts", "broker-proxy", [
      "broker",
      "--disable-tls",
      "--addr",
      `${IP}:${port}`,
      "--disable-probe",
      "--bridge-list-path",
      list,
      "--allowed-relay-pattern",
      `^${IP}$`,
      "--unsafe-logging",
      "--log",
      logPath,
    ]),
  );
  await waitFor(
    () => /listening on/.test(readOr(logPath)),
    60_000,
    () => proc.exited ? `${name} exited: ${readOr(`${net.dir}/${name}.out`)}` : null,
  );
  const url = `http://${IP}:${port}/`;
  return {
    proc,
    url,
    debug: async () =>
      new TextDecoder().decode(
        (await net.exec(["curl", "-sS", "--max-time", "5", url + "debug"])).stdout,
      ),
    log: () => readOr(logPath),
  };
}
