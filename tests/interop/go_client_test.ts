// interop:go-client — Debian's snowflake-client → our broker → Debian's snowflake-proxy → our
// server → a local ORPort sink, 50 MB; then the same through a recording relay, whose capture
// of the Go client's first bytes is what codec:go-vectors checks (tests/interop/fixtures).
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { sha256Hex } from "../../lib/testing/util.ts";
import { BINARIES } from "../../tools/permissions.ts";
import {
  CAN_RUN,
  DENO,
  EXTRA_BRIDGES,
  IP,
  type Proc,
  progress,
  readOr,
  ROOT,
  torNetwork,
  waitFor,
} from "../e2e/harness.ts";

const SIZE = 50 * 1000 * 1000;
const SINK_PORT = 9100;
const FIXTURE = `${ROOT}/tests/interop/fixtures/go_client_2.5.1_capture.json`;

const CAN_RUN_GO = CAN_RUN &&
  ["/usr/bin/snowflake-client", "/usr/bin/snowflake-proxy"].every((p) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  });

const tail = (text: string, n = 15) => text.split("\n").slice(-n).join("\n");

Deno.test({
  name:
    "interop:go-client: 50 MB intact from a local ORPort through our server, Debian's snowflake-proxy and Debian's snowflake-client, matched by our broker",
  ignore: !CAN_RUN_GO,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const net = await torNetwork();
    const d = net.dir;
    const procs: Proc[] = [];
    const data = new Uint8Array(SIZE);
    for (let off = 0; off < SIZE; off += 65536) {
      crypto.getRandomValues(data.subarray(off, off + 65536));
    }
    await Deno.writeFile(`${d}/sink-50mb.bin`, data);
    const want = await sha256Hex(data);
    try {
      procs.push(net.spawn("interop-sink", [
        DENO,
        "run",
        "--allow-net",
        "--allow-read",
        `${ROOT}/tests/interop/go_sink.ts`,
        `${d}/sink-50mb.bin`,
        IP,
        String(SINK_PORT),
      ]));
      const server = net.spawn("interop-server", [
        "env",
        "TOR_PT_MANAGED_TRANSPORT_VER=1",
        "TOR_PT_SERVER_TRANSPORTS=snowflake",
        `TOR_PT_SERVER_BINDADDR=snowflake-${IP}:${EXTRA_BRIDGES.interop.port}`,
        `TOR_PT_ORPORT=${IP}:${SINK_PORT}`,
        `TOR_PT_STATE_LOCATION=${d}/interop-server-state`,
        DENO,
        "run",
        ...BINARIES.server!.flags,
        `${ROOT}/server/main.ts`,
        "--disable-tls",
        "--unsafe-logging",
        "--log",
        `${d}/interop-server.log`,
      ]);
      procs.push(server);
      procs.push(net.spawn("interop-recorder", [
        DENO,
        "run",
        "--allow-net",
        "--allow-write",
        `${ROOT}/tests/interop/go_recorder.ts`,
        IP,
        String(EXTRA_BRIDGES.recorder.port),
        `ws://${IP}:${EXTRA_BRIDGES.interop.port}/`,
        `${d}/recorded`,
      ]));
      await waitFor(
        () => /SMETHOD snowflake/.test(readOr(`${d}/interop-server.out`)),
        30_000,
        () => server.exited ? `our server exited: ${readOr(`${d}/interop-server.out`)}` : null,
      );
      const proxy = net.startGoProxy("go-proxy-interop");
      procs.push(proxy);
      await net.waitForBrokerProxies("unrestricted");
      const clientLog = `${d}/go-client-interop.log`;
      const client = net.spawn("go-client-interop", [
        "env",
        "TOR_PT_MANAGED_TRANSPORT_VER=1",
        "TOR_PT_CLIENT_TRANSPORTS=snowflake",
        `TOR_PT_STATE_LOCATION=${d}/go-client-interop-state`,
        ...net.goClientTransportPlugin(clientLog).replace(/^snowflake exec /, "").split(" "),
      ]);
      procs.push(client);
      let socksPort = 0;
      await waitFor(
        () => {
          socksPort = Number(
            /CMETHOD snowflake socks5 127\.0\.0\.1:(\d+)/.exec(readOr(`${d}/go-client-interop.out`))
              ?.[1] ?? 0,
          );
          return socksPort > 0;
        },
        30_000,
        () => client.exited ? "snowflake-client exited" : null,
      );

      const fetchVia = async (fingerprint: string) => {
        const r = await net.exec([
          DENO,
          "run",
          "--allow-net",
          `${ROOT}/tests/interop/go_socks_fetch.ts`,
          String(socksPort),
          `fingerprint=${fingerprint}`,
        ]);
        const out = new TextDecoder().decode(r.stdout).trim();
        if (r.code !== 0 || !out) {
          throw new Error(
            `fetch failed (${r.code}): ${r.stderr}\n--- snowflake-client:\n${
              tail(readOr(clientLog))
            }` +
              `\n--- snowflake-proxy:\n${tail(readOr(`${d}/go-proxy-interop.log`))}` +
              `\n--- our server:\n${tail(readOr(`${d}/interop-server.log`))}`,
          );
        }
        return JSON.parse(out) as { bytes: number; sha256: string; seconds: number };
      };

      const got = await fetchVia(EXTRA_BRIDGES.interop.fingerprint);
      progress(
        `interop:go-client: ${got.bytes} bytes in ${got.seconds.toFixed(1)} s ` +
          `(${(got.bytes / got.seconds / 1e6).toFixed(2)} MB/s)`,
      );
      assertEquals(got.bytes, SIZE);
      assertEquals(got.sha256, want);

      // Again through the recording relay: what the Go client sends, byte for byte.
      const recorded = await fetchVia(EXTRA_BRIDGES.recorder.fingerprint);
      assertEquals(recorded.sha256, want);
      await waitFor(() => readOr(`${d}/recorded-0.json`) !== "", 10_000);
      const capture = JSON.parse(readOr(`${d}/recorded-0.json`)) as {
        clientToServer: string[];
        serverToClient: string[];
      };
      assert(
        capture.clientToServer[0]?.startsWith("1293605d278175f5"),
        "the Go client starts with the token",
      );
      if (Deno.env.get("GO_VECTORS_UPDATE") === "1") {
        // Keep the first 8 KiB each way: the token, ClientID and first KCP/smux frames.
        const trim = (msgs: string[]) => {
          const out: string[] = [];
          let n = 0;
          for (const m of msgs) {
            if (n >= 16384) break;
            out.push(m.slice(0, 16384 - n));
            n += Math.min(m.length, 16384 - n);
          }
          return out;
        };
        await Deno.mkdir(`${ROOT}/tests/interop/fixtures`, { recursive: true });
        await Deno.writeTextFile(
          FIXTURE,
          JSON.stringify(
            {
              source: "Debian snowflake-client 2.5.1 via snowflake-proxy 2.5.1 and our broker, " +
                "recorded between the proxy and our server (tests/interop/go_recorder.ts)",
              clientToServer: trim(capture.clientToServer),
              serverToClient: trim(capture.serverToClient),
            },
            null,
            1,
          ) + "\n",
        );
        progress(`wrote ${FIXTURE}`);
      }
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  },
});
