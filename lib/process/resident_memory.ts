/**
 * Keeps a long-running binary's resident memory near what it uses (Linux with glibc; elsewhere
 * a no-op). Measured in docs/client.md "Memory" and docs/PROXY.md "Memory".
 *
 * - **Start-up pages.** Half of the deno binary's and @roamhq/wrtc's resident code and
 *   read-only data (~25 MB) is touched only while the runtime and the modules start. Those
 *   pages are clean copies of the files, which the kernel would drop under memory pressure
 *   anyway: dropping this process's mappings of them (`madvise(MADV_DONTNEED)`) now keeps
 *   them out of its RSS; pages still in use fault back in from the page cache. Only
 *   read-only private file mappings without a private copy of any page (relocated data has
 *   one) are dropped, so nothing the files do not hold is lost.
 * - **malloc's free pages.** `malloc_trim(0)` gives the kernel the free pages inside glibc's
 *   heaps, which `free()` keeps unless they are at the top of the main heap.
 *
 * Needs --allow-ffi (tools/permissions.ts). Deno lets only --allow-all read /proc/self, so
 * /proc/self/smaps is read through libc as well.
 *
 * @module
 */
import { type Libc, libc } from "../net/libc.ts";

/**
 * The passes after the first: 1 s later, then at doubling intervals up to a minute, so that
 * code run once soon after start (the first rendezvous and peer connection) goes soon too.
 */
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;
const MADV_DONTNEED = 4;
const SMAPS = "/proc/self/smaps";

const O_RDONLY = 0;

/** A read-only private file mapping whose pages all equal the file's. */
interface CleanMapping {
  start: bigint;
  length: bigint;
  rssKiB: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)/;

/** The mappings of `smaps` (the text of /proc/self/smaps) that can be dropped. */
export function cleanFileMappings(smaps: string): CleanMapping[] {
  const found: CleanMapping[] = [];
  let current: CleanMapping | null = null;
  let anonymous = 0;
  const close = () => {
    if (current && anonymous === 0 && current.rssKiB > 0) found.push(current);
    current = null;
  };
  for (const line of smaps.split("\n")) {
    const h = HEADER.exec(line);
    if (h) {
      close();
      const readOnly = h[3] === "r--p" || h[3] === "r-xp";
      if (readOnly && h[4] !== "0") {
        const start = BigInt(`0x${h[1]}`);
        current = { start, length: BigInt(`0x${h[2]}`) - start, rssKiB: 0 };
        anonymous = 0;
      }
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field?.[1] === "Rss") current.rssKiB = Number(field[2]);
    else if (field) anonymous = Number(field[2]);
  }
  close();
  return found;
}

function openLibc(): Libc | null {
  if (Deno.build.os !== "linux") return null;
  try {
    // musl has no libc.so.6: glibc's malloc_trim is what this needs.
    return libc();
  } catch {
    return null;
  }
}

/** The text of /proc/self/smaps. */
function readSmaps(libc: Libc): string {
  const fd = libc.open(new TextEncoder().encode(`${SMAPS}\0`), O_RDONLY);
  if (fd < 0) throw new Error(`cannot open ${SMAPS}`);
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const buf = new Uint8Array(64 * 1024);
      const n = Number(libc.read(fd, buf, BigInt(buf.length)));
      if (n < 0) throw new Error(`cannot read ${SMAPS}`);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
  } finally {
    libc.close(fd);
  }
  const decoder = new TextDecoder();
  return chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
}

/** Drops the clean file pages and trims malloc once; the MB of file pages dropped. */
function release(libc: Libc): number {
  let kib = 0;
  for (const m of cleanFileMappings(readSmaps(libc))) {
    if (libc.madvise(m.start, m.length, MADV_DONTNEED) === 0) kib += m.rssKiB;
  }
  libc.malloc_trim(0n);
  return kib / 1024;
}

/**
 * Drops the start-up pages and trims malloc now, then again after 1, 2, 4, … s, every minute at
 * most (unreferenced timers). Logs what the first pass did, or why nothing is done (another
 * OS, no glibc).
 */
export function keepResidentMemoryLow(log: (m: string) => void): void {
  const libc = openLibc();
  if (!libc) {
    log(`resident memory: not trimmed (needs Linux with glibc; ${Deno.build.os})`);
    return;
  }
  const t0 = performance.now();
  let mb: number;
  try {
    mb = release(libc);
  } catch (e) {
    log(`resident memory: not trimmed: ${(e as Error).message}`);
    return;
  }
  const ms = (performance.now() - t0).toFixed(0);
  log(
    `resident memory: dropped ${
      mb.toFixed(1)
    } MB of start-up file pages, malloc trimmed (${ms} ms)`,
  );
  const later = (delay: number) => {
    Deno.unrefTimer(setTimeout(() => {
      try {
        release(libc);
      } catch { /* the first pass worked: a passing failure to read smaps */ }
      later(Math.min(delay * 2, MAX_DELAY_MS));
    }, delay));
  };
  later(FIRST_DELAY_MS);
}
