import { assertEquals } from "../lib/testing/assert.ts";
import { LogRing } from "./logring.ts";
import type { StatusReport } from "./report.ts";
import { type Controller, uiHandler } from "./ui.ts";

class FakeController implements Controller {
  logs = new LogRing();
  on = false;
  running() {
    return this.on;
  }
  start() {
    this.on = true;
    this.logs.push("started");
    return Promise.resolve();
  }
  stop() {
    this.on = false;
    return Promise.resolve();
  }
  report(): StatusReport {
    return {
      role: "client",
      running: this.on,
      interface: null,
      tunnelIp: "10.9.0.2/24",
      startedAt: null,
      counters: { packetsIn: 1 },
      drops: {},
      peers: [],
      process: { cpuPercent: 0, rssBytes: 1 },
    };
  }
}

Deno.test("tunnel:ui: the handler wants the token, our Host, and the header for actions", async () => {
  const ctl = new FakeController();
  const h = uiHandler(ctl, "t0k", () => 8080);
  const req = (path: string, init: RequestInit = {}, host = "127.0.0.1:8080") =>
    h(new Request(`http://${host}${path}`, { ...init, headers: { host, ...init.headers } }));
  assertEquals((await req("/")).status, 403);
  assertEquals((await req("/?token=nope")).status, 403);
  assertEquals((await req("/?token=t0k", {}, "evil.example:8080")).status, 403);
  const page = await req("/?token=t0k");
  assertEquals(page.status, 200);
  assertEquals((await page.text()).includes("<title>pytunnel</title>"), true);
  assertEquals((await req("/api/start?token=t0k", { method: "POST" })).status, 403);
  assertEquals(ctl.on, false);
  const started = await req("/api/start", {
    method: "POST",
    headers: { "x-pytunnel-token": "t0k" },
  });
  assertEquals(await started.json(), { running: true });
  const st = await req("/api/status", { headers: { "x-pytunnel-token": "t0k" } });
  assertEquals((await st.json()).counters.packetsIn, 1);
  const logs = await req("/api/logs?token=t0k");
  const reader = logs.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assertEquals(first, 'id: 1\ndata: "started"\n\n');
  await reader.cancel();
});
