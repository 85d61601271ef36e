/** RSS and CPU time of a process, from /proc (Linux). @module */

const CLK_TCK = 100;

export interface ProcUsage {
  rssBytes: number;
  /** Peak RSS since the process started (VmHWM). */
  peakRssBytes: number;
  cpuSeconds: number;
}

export function procUsage(pid: number): ProcUsage {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const peakKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rssBytes: rssKb * 1024, peakRssBytes: peakKb * 1024, cpuSeconds: ticks / CLK_TCK };
}

export const mib = (b: number) => (b / 1048576).toFixed(1);

/** CPU time of each thread of a process by thread id, with the thread's name (Linux). */
export function procThreads(pid: number): Map<number, { name: string; cpuSeconds: number }> {
  const out = new Map<number, { name: string; cpuSeconds: number }>();
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(e.name), {
        name,
        cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
      });
    } catch { /* thread exited */ }
  }
  return out;
}
