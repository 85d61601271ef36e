/**
 * `logs:` after a run through the whole chain (our client → our broker → our proxy → our
 * server), the safe-mode logs of the client, proxy, server and broker name no IPv4 or IPv6
 * address, while the same client with --unsafe-logging does (so the check can fail).
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { CAN_NETNS } from "./netns.ts";

const IPV4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])/;
const IPV6 = /(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])/g;

/** The first IP address in `text`, or null. */
function findAddress(text: string): string | null {
  const v4 = IPV4.exec(text);
  if (v4) return v4[0];
  for (const m of text.matchAll(IPV6)) {
    const core = m[0];
    // hh:mm:ss timestamps have two colons and only digits; real IPv6 has "::" or 3+ colons.
    if (core.includes("::") || (core.match(/:/g)?.length ?? 0) >= 3) return core;
  }
  return null;
}

Deno.test({
  name: "logs: safe-mode logs of client, proxy, server and broker hold no IP address",
  ignore: !CAN_NETNS,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chain = await Chain.start({ subnet: 31, fileSize: 1_000_000 });
    try {
      chain.ourProxy();
      const safe = await chain.ourClient();
      const unsafe = await chain.ourClient(["--unsafe-logging"]);
      for (const c of [safe, unsafe]) {
        const got = await chain.curl(c.port);
        assertEquals(got.sha256, chain.fileSha256);
      }
      await new Promise((r) => setTimeout(r, 500));
      const d = chain.net.dir;
      const logs: Record<string, string> = {
        client: await Deno.readTextFile(safe.log),
        proxy: await Deno.readTextFile(`${d}/our-proxy0-safe.log`),
        server: await Deno.readTextFile(`${d}/server-safe.log`),
        broker: await Deno.readTextFile(`${d}/broker-safe.log`),
      };
      for (const [name, text] of Object.entries(logs)) {
        const lines = text.split("\n").filter(Boolean).length;
        console.log(`${name}: ${lines} lines, ${text.split("[scrubbed]").length - 1} scrubbed`);
        assert(lines > 0, `${name} log is empty`);
        assertEquals(findAddress(text), null, `${name} log names an address:\n${text}`);
      }
      assert(/data channel open/.test(logs.client!), logs.client);
      const unsafeText = await Deno.readTextFile(unsafe.log);
      assert(findAddress(unsafeText) !== null, "the unsafe log should name addresses");
    } finally {
      await chain.stop();
    }
  },
});

Deno.test("logs: the address finder finds what the scrubber must hide", () => {
  assertEquals(findAddress("at 198.18.30.1:8000 ok"), "198.18.30.1:8000".split(":")[0]);
  assertEquals(findAddress("peer [2001:db8::7]:443"), "2001:db8::7");
  assertEquals(findAddress("2026-11-30 04:33:18 version 2.11.0-deno [scrubbed]"), null);
});
