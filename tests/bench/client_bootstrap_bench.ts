/**
 * `deno task bench client`: time to "Bootstrapped 100%" for tor with our client and with
 * Debian's snowflake-client (Go 2.5.1) as its pluggable transport, alternating in the same
 * run, through the same broker, Debian proxy and bridge (tests/client/tor_chain.ts on the
 * private Tor network of tests/e2e/harness.ts). `CLIENT_BOOTSTRAP_ROUNDS` (default 2) bootstraps
 * of each. Needs root. Figures only.
 */
import { CAN_RUN, torNetwork } from "../e2e/harness.ts";
import { TorChain } from "../client/tor_chain.ts";

const ROUNDS = Number(Deno.env.get("CLIENT_BOOTSTRAP_ROUNDS") ?? 2);

export async function run(): Promise<void> {
  if (!CAN_RUN) {
    console.log("client bootstrap bench: needs root, tor and tor-gencert; skipped");
    return;
  }
  const net = await torNetwork();
  const chain = await TorChain.start(net);
  try {
    chain.debianProxy();
    const plugins = {
      ours: chain.clientPlugin(`${chain.dir}/ours.log`),
      "Go 2.5.1":
        `snowflake exec /usr/bin/snowflake-client -url ${chain.brokerUrl} -ice ${chain.stunUrl} -log ${chain.dir}/go.log`,
    };
    const times: Record<string, number[]> = { ours: [], "Go 2.5.1": [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, plugin] of Object.entries(plugins)) {
        const client = await net.startClient({
          bridge: net.bridgeLine(),
          transportPlugin: plugin,
          timeoutMs: 180_000,
        });
        times[name]!.push(client.bootstrapSeconds);
        await client.stop();
      }
    }
    for (const [name, t] of Object.entries(times)) {
      console.log(
        `${name.padEnd(9)} Bootstrapped 100% after ${t.map((s) => s.toFixed(1)).join(", ")} s`,
      );
    }
  } finally {
    await chain.stop();
  }
}

if (import.meta.main) await run();
