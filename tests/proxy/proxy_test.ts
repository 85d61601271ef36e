import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { CAN_NETNS, DENO, Netns } from "./netns.ts";

/** Runs tests/proxy/scenario.ts NAME inside a fresh namespace; returns its findings. */
async function scenario(name: string): Promise<Record<string, unknown>> {
  const ns = await Netns.create();
  try {
    const child = ns.spawn([
      DENO,
      "run",
      "--allow-all",
      "tests/proxy/scenario.ts",
      name,
      ns.a,
    ]);
    const killer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    const out = await child.output();
    clearTimeout(killer);
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, `scenario ${name} exited ${out.code}:\n${stderr}\n${stdout}`);
    return JSON.parse(stdout.trim().split("\n").at(-1)!);
  } finally {
    await ns.delete();
  }
}

Deno.test({
  name: "proxy: relays a WebRTC client to the relay intact, within capacity, and exits cleanly",
  ignore: !CAN_NETNS,
  async fn() {
    const r = await scenario("relay");
    const log = String(r.log);
    const [first, third] = [r.first, r.third] as { intact: boolean }[];
    assert(first!.intact, `3 MB echoed intact: ${JSON.stringify(first)}\n${log}`);
    assert(
      third!.intact,
      `a later client is served once the slot frees: ${JSON.stringify(third)}\n${log}`,
    );
    assertEquals(r.second, "no snowflake proxies currently available");
    assert(r.relayClosed, "closing the client closes the relay WebSocket");
    const ips = r.clientIPs as string[];
    assert(
      ips.length === 2 && ips.every((ip) => /^198\.18\.0\.[12]$/.test(ip)),
      `client_ip ${ips}`,
    );
    assertEquals(r.metricsConnections, "2");
    assert(Number(r.metricsInbound) >= 3_000_000, `inbound bytes ${r.metricsInbound}`);
    assertEquals((r.pollPatterns as string[]).length, 1);
    assert(r.summary, `a periodic summary in the log\n${log}`);
    const candidates = r.answerCandidates as string[];
    assert(candidates.length > 0, "answers carry candidates");
    for (const c of candidates) {
      const [, address, port] = /^a=candidate:\S+ \d+ \S+ \d+ (\S+) (\d+) /.exec(c) ?? [];
      assert(/^198\.18\.0\.[12]$/.test(address ?? ""), `local candidates stripped: ${c}`);
      if (c.includes(" udp ")) {
        assert(Number(port) >= 41000 && Number(port) <= 41099, `port range: ${c}`);
      }
    }
    assert(r.scrubbed, `no address in the log without --unsafe-logging\n${log}`);
    assertEquals(r.code, 0, `SIGTERM exits 0 (every peer connection closed)\n${log}`);
  },
});

Deno.test({
  name:
    "safety: our proxy refuses ws:// without the flag, a private address and a host outside the pattern",
  ignore: !CAN_NETNS,
  async fn() {
    const r = await scenario("safety");
    const refusals = (r.refusals as string[]).join("\n");
    assert(/not TLS \(ws:\/\/\)/.test(refusals), `ws:// refused\n${r.log}`);
    assert(/private address[^\n]*10\.20\.30\.40/.test(refusals), `private refused\n${r.log}`);
    assert(/does not match the allowed pattern[^\n]*evil/.test(refusals), `pattern\n${r.log}`);
    assertEquals(r.answers, 0, "no answer was sent for a refused relay");
    assertEquals(r.relayDials, 0, "the refused ws:// relay was never dialed");
    assertEquals(r.code, 0);
  },
});

Deno.test({
  name: "proxy: gives up on a data channel that never opens and closes a relay left idle",
  ignore: !CAN_NETNS,
  async fn() {
    const { open, idle } = await scenario("timeouts") as Record<string, Record<string, unknown>>;
    console.error(`open timeout after ${open!.seconds} s, idle close after ${idle!.seconds} s`);
    assert(Number(open!.answers) >= 1, "the proxy answered the offer");
    assert(/timed out waiting for the client/.test(String(open!.log)));
    assertEquals(open!.code, 0, `exits 0 after the timeout\n${open!.log}`);
    assert(idle!.intact, "relayed before going quiet");
    assert(idle!.ended, "the idle client's channel was closed by the proxy");
    assert(/without traffic/.test(String(idle!.log)), String(idle!.log));
    assertEquals(idle!.relayOpen, 0, "and its relay WebSocket");
    assertEquals(idle!.code, 0);
  },
});
