/**
 * `churn:` one session through our client while the proxies under it die every 10 s: a
 * download with 5 proxies at the broker (ours and Debian's snowflake-proxy mixed), the
 * busiest proxy carrying the session SIGKILLed every 10 s and replaced. With `--max 3`
 * (multipath) and, for comparison, `--max 1`. The file must arrive intact (sha256); the
 * longest stall, the stall histogram and the number of failovers are printed, not asserted.
 *
 * Size: 80 MB rather than the 200 MB, so each run stays under about a minute and a half
 * on the shared 2-core machine; the reader is paced at 2 MB/s so that the download spans about
 * four kills (smux's 1 MiB stream buffer then hides gaps shorter than about 0.5 s).
 */
import { assertEquals } from "../../lib/testing/assert.ts";
import { Chain } from "./chain.ts";
import { churn, churnSummary } from "./churn.ts";
import { CAN_NETNS } from "./netns.ts";

const SIZE = Number(Deno.env.get("CHURN_MB") ?? 80) * 1_000_000;
const RATE = 2_000_000;

for (const [max, subnet] of [[3, 60], [1, 61]] as const) {
  Deno.test({
    name: `churn: --max ${max}, one of 5 proxies killed every 10 s, the download arrives intact`,
    ignore: !CAN_NETNS,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const chain = await Chain.start({ subnet, fileSize: SIZE });
      try {
        const r = await churn(chain, max, { rate: RATE });
        console.log(churnSummary(`--max ${max}`, r, SIZE));
        console.log(
          r.log.split("\n").filter((l) => /failover|lost|proxies live|closed \[/.test(l))
            .join("\n"),
        );
        assertEquals(r.fetch.bytes, SIZE);
        assertEquals(r.fetch.sha256, chain.fileSha256);
      } finally {
        await chain.stop();
      }
    },
  });
}
