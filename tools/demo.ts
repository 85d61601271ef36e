/**
 * The main job, end to end on one machine (as root). `deno task demo` (or tools/demo.sh) runs
 * the real chain with tor (tools/demo_tor.ts); `deno task demo --no-tor` runs the chain with
 * a built-in origin in place of tor and curl as the user (tools/demo_no_tor.ts). Either one
 * kills the proxy carrying the session halfway through a 10 MB download; progress lines say
 * which proxy carries the bytes and how fast; the last line is the verdict (`demo: PASS …` or
 * `demo: FAIL …`, exit code 0 or 1). Ctrl-C (SIGINT) or SIGTERM and the end stop every
 * process the demo started and delete its network namespaces (exit code 130 when
 * interrupted); WebRTC needs non-loopback addresses, so without root and `ip netns` the demo
 * says how to run it and exits with 2.
 *
 * @module
 */
import { CAN_RUN } from "../tests/e2e/harness.ts";
import { must } from "../tests/client/netns.ts";
import { runNoTor } from "./demo_no_tor.ts";
import { runTor } from "./demo_tor.ts";

const noTor = Deno.args.includes("--no-tor");
const unknown = Deno.args.filter((a) => a !== "--no-tor");
if (unknown.length) {
  console.error(`demo: unknown argument ${unknown[0]}; usage: deno task demo [--no-tor]`);
  Deno.exit(2);
}

async function canUseNetns(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  return await must("ip", ["netns", "list"]).then(() => true, () => false);
}

if (!(await canUseNetns())) {
  console.error(
    "demo: WebRTC needs a non-loopback address, so the demo runs its parts in network " +
      "namespaces: run it as root (sudo deno task demo --no-tor) on Linux with iproute2",
  );
  Deno.exit(2);
}
if (!noTor && !CAN_RUN) {
  console.error(
    "demo: needs tor and tor-gencert (run tools/setup.sh as root), " +
      "or try `deno task demo --no-tor`",
  );
  Deno.exit(2);
}

const stops: (() => Promise<void>)[] = [];
/** Deletes the namespaces this process created (sfclient-<pid>-…) and kills what runs in them. */
async function sweepOwnNamespaces(): Promise<void> {
  const list = await must("ip", ["netns", "list"]).catch(() => "");
  const mine = list.split("\n").map((l) => l.split(" ")[0] ?? "")
    .filter((ns) => ns.startsWith(`sfclient-${Deno.pid}-`));
  for (const ns of mine) {
    const pids = await must("ip", ["netns", "pids", ns]).catch(() => "");
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    await must("ip", ["netns", "del", ns]).catch(() => {});
    await Deno.remove(`/etc/netns/${ns}`, { recursive: true }).catch(() => {});
  }
}
async function stopAll(): Promise<void> {
  await Promise.all(stops.splice(0).map((stop) => stop().catch(() => {})));
  await sweepOwnNamespaces();
}

const interrupt = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    if (interrupt.signal.aborted) return;
    interrupt.abort();
    console.log(`demo: ${sig}: stopping everything it started`);
    await stopAll();
    // The tor network's daemon (tests/e2e/harness.ts) tears itself down once we are gone.
    Deno.exit(130);
  });
}

let result = { ok: false, verdict: "demo: FAIL (did not finish)" };
try {
  result = await (noTor ? runNoTor : runTor)((stop) => stops.push(stop), interrupt.signal);
} catch (e) {
  result = { ok: false, verdict: `demo: FAIL: ${(e as Error).message}` };
}
// An interrupt's handler does the stopping and exits.
if (interrupt.signal.aborted) await new Promise(() => {});
await stopAll();
console.log(result.verdict);
Deno.exit(result.ok ? 0 : 1);
