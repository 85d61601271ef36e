/**
 * `deno task bench client`: time to "Bootstrapped 100%" for tor with our client and with
 * Debian's snowflake-client (Go 2.5.1) as its pluggable transport, alternating in the same
 * run (which goes first alternates too), through the same broker, Debian proxy and bridge
 * (tests/client/tor_chain.ts on the private Tor network of tests/e2e/harness.ts), after a warm-up
 * bootstrap that is not counted. `CLIENT_BOOTSTRAP_ROUNDS` (default 2) bootstraps of each. Needs
 * root. Figures only.
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
    const bootstrap = async (plugin: string) => {
      const client = await net.startClient({
        bridge: net.bridgeLine(),
        transportPlugin: plugin,
        timeoutMs: 180_000,
      });
      await client.stop();
      return client.bootstrapSeconds;
    };
    // The private network's first client often waits 10 s for its relays' microdescriptors
    // (tor's notice log: 50% to 75% in 10 s, the transport connected within 2 s): not counted.
    const warmUp = await bootstrap(plugins["Go 2.5.1"]);
    console.log(
      `warm-up (Go 2.5.1, the network's first client; not counted): ${warmUp.toFixed(1)} s`,
    );
    const times: Record<string, number[]> = { ours: [], "Go 2.5.1": [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = Object.entries(plugins);
      if (round % 2) order.reverse();
      for (const [name, plugin] of order) times[name]!.push(await bootstrap(plugin));
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
