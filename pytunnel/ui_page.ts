/**
 * The control page served by `pytunnel ui`: plain HTML and JS, no framework.
 * The report of the moment is inlined and drawn while the page parses, and
 * the log stream opens only after the load event: the page shows its data at
 * once (also to a headless `--dump-dom`), whatever the stream does.
 *
 * @module
 */

import { toJson } from "./control.ts";

/** The page, with `report` drawn in it. */
export function page(report: unknown): string {
  // "<" escaped: the JSON sits inside a <script> element.
  const json = toJson(report).replaceAll("<", "\\u003c");
  return PAGE.replace("__INITIAL__", () => json);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pytunnel</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .5em; }
  table { border-collapse: collapse; margin: .5em 0 1em; }
  th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  #state.running { color: #080; } #state.stopped { color: #a00; }
  pre { background: #111; color: #ddd; padding: .6em; height: 16em; overflow: auto; }
  button { font-size: 1em; margin-right: .5em; }
  .grid { display: flex; gap: 2em; flex-wrap: wrap; }
</style>
</head>
<body>
<h1>pytunnel <span id="role"></span>: <span id="state">…</span></h1>
<p>
  <button id="start">Start</button><button id="stop">Stop</button>
  <span id="iface"></span> <span id="error" style="color:#a00"></span>
</p>
<div class="grid">
  <div><h2>Traffic</h2><table id="counters"><tr><th>counter</th><th>total</th><th>per second</th></tr></table></div>
  <div><h2>Drops</h2><table id="drops"><tr><th>reason</th><th>count</th></tr></table></div>
  <div><h2>Process</h2><table>
    <tr><td>CPU</td><td class="n" id="cpu"></td></tr>
    <tr><td>Memory (RSS)</td><td class="n" id="rss"></td></tr>
  </table></div>
</div>
<h2>Peers</h2>
<table id="peers"><tr><th>name</th><th>tunnel IP</th><th>endpoint</th><th>last handshake</th><th>in</th><th>out</th></tr></table>
<h2>Log</h2>
<pre id="log"></pre>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const headers = { "x-pytunnel-token": token };
const $ = (id) => document.getElementById(id);
let last = null;

function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}
function cell(text, cls, id) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (id) td.id = id;
  return td;
}
function fill(table, rows) {
  while (table.rows.length > 1) table.deleteRow(1);
  for (const cells of rows) {
    const tr = table.insertRow();
    for (const c of cells) tr.appendChild(c);
  }
}

async function refresh() {
  let r;
  try {
    const res = await fetch("/api/status", { headers });
    if (!res.ok) throw new Error("status " + res.status);
    r = await res.json();
  } catch (e) {
    $("error").textContent = String(e);
    return;
  }
  render(r);
}

function render(r) {
  const now = performance.now();
  $("role").textContent = r.role;
  $("state").textContent = r.running ? "running" : "stopped";
  $("state").className = r.running ? "running" : "stopped";
  $("iface").textContent = (r.interface || "") + " " + r.tunnelIp;
  const dt = last ? (now - last.at) / 1000 : 0;
  fill($("counters"), Object.entries(r.counters).map(([k, v]) => {
    const prev = last && last.counters[k];
    const rate = dt > 0 && prev !== undefined ? Math.max(0, (v - prev) / dt) : 0;
    const isBytes = k.startsWith("bytes");
    return [cell(k), cell(isBytes ? fmtBytes(v) : String(v), "n", "c-" + k),
      cell(isBytes ? fmtBytes(Math.round(rate)) + "/s" : rate.toFixed(1), "n", "r-" + k)];
  }));
  fill($("drops"), Object.entries(r.drops).map(([k, v]) => [cell(k), cell(String(v), "n", "d-" + k)]));
  fill($("peers"), r.peers.map((p) => [cell(p.name), cell(p.tunnelIp), cell(p.endpoint || "-"),
    cell(p.lastHandshake || "never"), cell(fmtBytes(p.bytesIn), "n"), cell(fmtBytes(p.bytesOut), "n")]));
  $("cpu").textContent = r.process.cpuPercent + " %";
  $("rss").textContent = fmtBytes(r.process.rssBytes);
  last = { at: now, counters: r.counters };
}

async function act(what) {
  $("error").textContent = "";
  const res = await fetch("/api/" + what, { method: "POST", headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) $("error").textContent = body.error || ("HTTP " + res.status);
  await refresh();
}
$("start").onclick = () => act("start");
$("stop").onclick = () => act("stop");

render(__INITIAL__);
addEventListener("load", () => {
  const log = $("log");
  const events = new EventSource("/api/logs?token=" + encodeURIComponent(token));
  events.onmessage = (e) => {
    log.textContent += JSON.parse(e.data) + "\\n";
    const lines = log.textContent.split("\\n");
    if (lines.length > 500) log.textContent = lines.slice(-500).join("\\n");
    log.scrollTop = log.scrollHeight;
  };
  setInterval(refresh, 1000);
});
</script>
</body>
</html>
`;
