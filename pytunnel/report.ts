/**
 * The status report shared by `pytunnel status`, the status endpoint and the
 * web page, and its plain-text rendering.
 *
 * @module
 */

import { cpuUsage } from "node:process";

/** One peer as shown to operators. */
export interface PeerReport {
  name: string;
  publicKey: string;
  tunnelIp: string;
  /** Its IPv6 tunnel address, if it has one. */
  tunnelIp6?: string;
  endpoint: string | null;
  lastHandshake: string | null;
  bytesIn: number;
  bytesOut: number;
}

/** Everything `pytunnel status` and the web page show. */
export interface StatusReport {
  role: "server" | "client";
  running: boolean;
  interface: string | null;
  tunnelIp: string;
  startedAt: string | null;
  counters: Record<string, number>;
  drops: Record<string, number>;
  peers: PeerReport[];
  process: { cpuPercent: number; rssBytes: number };
}

/** CPU use of this process between successive calls, in percent of one core. */
export class CpuMeter {
  #last = cpuUsage();
  #at = performance.now();
  #percent = 0;

  sample(): number {
    const now = performance.now();
    const elapsedMs = now - this.#at;
    if (elapsedMs >= 250) {
      const u = cpuUsage(this.#last);
      this.#percent = ((u.user + u.system) / 1000 / elapsedMs) * 100;
      this.#last = cpuUsage();
      this.#at = now;
    }
    return Math.round(this.#percent * 10) / 10;
  }
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n, i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function ago(iso: string | null): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `${s} s ago`;
}

/** Renders a report as the text `pytunnel status` prints. */
export function formatReport(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(
    `${r.role} ${r.running ? "running" : "stopped"}` +
      (r.interface ? ` on ${r.interface}` : "") + ` (${r.tunnelIp})` +
      (r.startedAt ? `, since ${r.startedAt}` : ""),
  );
  lines.push(`process: cpu ${r.process.cpuPercent}%  rss ${bytes(r.process.rssBytes)}`);
  lines.push(
    "counters: " +
      Object.entries(r.counters).map(([k, v]) =>
        k.startsWith("bytes") ? `${k} ${bytes(v)}` : `${k} ${v}`
      ).join("  "),
  );
  lines.push("drops: " + Object.entries(r.drops).map(([k, v]) => `${k} ${v}`).join("  "));
  lines.push(`peers (${r.peers.length}):`);
  for (const p of r.peers) {
    lines.push(
      `  ${p.name}  ${p.tunnelIp}${
        p.tunnelIp6 ? ` ${p.tunnelIp6}` : ""
      }  key ${p.publicKey}  endpoint ${p.endpoint ?? "-"}  ` +
        `handshake ${ago(p.lastHandshake)}  in ${bytes(p.bytesIn)}  out ${bytes(p.bytesOut)}`,
    );
  }
  return lines.join("\n");
}
