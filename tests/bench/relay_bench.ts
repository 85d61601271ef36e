/**
 * What the proxy benchmarks share (tests/bench/proxy_bench.ts, web_proxy_bench.ts): run a
 * driver inside namespace A of a fresh veth pair, and print the medians of its rows per proxy.
 *
 * @module
 */
import { NetnsPair } from "../proxy/netns.ts";

/** One measured round, as the drivers print them (`kind` names the proxy). */
export type BenchRow = Record<string, number | string>;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Runs `driver` (a file beside this one) in the first namespace of NetnsPair `index`, with the
 * second namespace, its address, `mb` and `rounds` as arguments; returns the rows of its last line.
 */
export async function driveInNetns(
  index: number,
  driver: string,
  mb: string,
  rounds: string,
): Promise<BenchRow[]> {
  const pair = await NetnsPair.create(index);
  try {
    const out = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        pair.first,
        Deno.execPath(),
        "run",
        "-A",
        new URL(driver, import.meta.url).pathname,
        pair.second,
        pair.a,
        mb,
        rounds,
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).slice(-3000));
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  } finally {
    await pair.delete();
  }
}

/** Prints a table of medians per proxy (`[kind, label]`), the memory columns last. */
export function printMedians(
  rows: BenchRow[],
  proxies: [kind: string, label: string][],
  memory: { key: string; header: string }[],
): void {
  const table = [
    [
      "proxy",
      "down MB/s",
      "up MB/s",
      "CPU s/MB down",
      "CPU s/MB up",
      ...memory.map((m) => m.header),
    ],
  ];
  for (const [kind, label] of proxies) {
    const r = rows.filter((x) => x.kind === kind);
    const col = (k: string, digits: number) => median(r.map((x) => Number(x[k]))).toFixed(digits);
    table.push([
      label,
      col("downMBps", 2),
      col("upMBps", 2),
      col("downCpuPerMB", 4),
      col("upCpuPerMB", 4),
      ...memory.map((m) => col(m.key, 0)),
    ]);
  }
  for (const row of table) {
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(18) : c.padStart(14))).join(""));
  }
}
