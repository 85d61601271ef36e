/** RSS and CPU time of a process, from /proc (Linux). @module */

const CLK_TCK = 100;

export interface ProcUsage {
  rssBytes: number;
  cpuSeconds: number;
}

export function procUsage(pid: number): ProcUsage {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / CLK_TCK };
}

export const mib = (b: number) => (b / 1048576).toFixed(1);
