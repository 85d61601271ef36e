/**
 * `churn:` one session through our client while the proxies under it die every 10 s: a
 * download with 5 proxies at the broker (ours and Debian's snowflake-proxy mixed), the
 * busiest proxy carrying the session SIGKILLed every 10 s and replaced. With `--max 3`
 * (multipath) and, for comparison, `--max 1`. The file must arrive intact (sha256); the
 * longest stall, the stall histogram and the number of failovers are printed, not asserted.
 *
 * Size: the 200 MB through `--max 3`; the reader is paced at 2 MB/s, so the download
 * spans about ten kills (smux's 1 MiB stream buffer then hides gaps shorter than about 0.5 s).
 * The `--max 1` comparison moves 50 MB: each kill there stalls it for seconds, and 50 MB already
 * spans several kills, so the pair stays within a few minutes of CI.
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { churn, churnSummary } from "./churn.ts";
import { CAN_NETNS } from "./netns.ts";

const MB = Number(Deno.env.get("CHURN_MB") ?? 200);
const RATE = 2_000_000;

for (const [max, subnet, size] of [[3, 60, MB], [1, 61, Math.min(MB, 50)]] as const) {
  Deno.test({
    name:
      `churn: --max ${max}, ${size} MB, one of 5 proxies killed every 10 s, the download arrives intact`,
    ignore: !CAN_NETNS,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const bytes = size * 1_000_000;
      const chain = await Chain.start({ subnet, fileSize: bytes });
      try {
        const r = await churn(chain, max, { rate: RATE });
        console.log(churnSummary(`--max ${max}`, r, bytes));
        console.log(
          r.log.split("\n").filter((l) => /failover|lost|proxies live|closed \[/.test(l))
            .join("\n"),
        );
        assertEquals(r.fetch.bytes, bytes);
        assertEquals(r.fetch.sha256, chain.fileSha256);
      } finally {
        await chain.stop();
      }
    },
  });
}
