/**
 * A namespace for the web proxy page beside the e2e harness's (tests/e2e/harness.ts): joined
 * to it by a veth pair (198.18.41.1 in the harness's namespace ↔ 198.18.41.2 here) with a
 * route to 10.77.0.0/24, so that the page's browser reaches the harness's broker, STUN and
 * bridge, and WebRTC between a client there and the browser here crosses the veth with
 * addresses that are not private. Chromium runs here through {@link PageNs.startPage}.
 *
 * @module
 */
import type { TorNetwork } from "../e2e/harness.ts";
import { terminate } from "../../lib/testing/util.ts";
import { deleteNetns } from "../proxy/netns.ts";

export const PAGE_LINK_HARNESS = "198.18.41.1";
export const PAGE_LINK_PAGE = "198.18.41.2";
const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

async function must(args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${decoder.decode(out.stderr)}`);
}

/** The page driver (tests/web_proxy/page_driver.ts) running Chromium in the namespace. */
export interface RunningPage {
  /** Chromium's browser process. */
  chromiumPid: number;
  /** What the page shows now (from `view.json`). */
  view(): { state: string; clients: number; active: number; bytes: number; nat: string } | null;
  /** SIGTERM: a last view and `page.png` are written, the browser closes. */
  stop(): Promise<void>;
  log(): string;
}

export class PageNs {
  private constructor(readonly name: string, readonly net: TorNetwork) {}

  static async create(net: TorNetwork): Promise<PageNs> {
    const ns = new PageNs(`sfwp-${Deno.pid}`, net);
    await ns.delete();
    await must(["netns", "add", ns.name]);
    try {
      await must(["-n", ns.name, "link", "set", "lo", "up"]);
      await must(["-n", net.ns, "link", "add", "sfwx", "type", "veth", "peer", "name", "sfwy"]);
      await must(["-n", net.ns, "link", "set", "sfwy", "netns", ns.name]);
      await must(["-n", net.ns, "addr", "add", `${PAGE_LINK_HARNESS}/24`, "dev", "sfwx"]);
      await must(["-n", net.ns, "link", "set", "sfwx", "up"]);
      await must(["-n", ns.name, "addr", "add", `${PAGE_LINK_PAGE}/24`, "dev", "sfwy"]);
      await must(["-n", ns.name, "link", "set", "sfwy", "up"]);
      await must(["-n", ns.name, "route", "add", "10.77.0.0/24", "via", PAGE_LINK_HARNESS]);
    } catch (e) {
      await ns.delete();
      throw e;
    }
    return ns;
  }

  /** Opens `url` in Chromium here, switches the proxy on; screenshots and views in `outDir`. */
  startPage(url: string, outDir: string): RunningPage {
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        this.name,
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}tests/web_proxy/page_driver.ts`,
        url,
        outDir,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let out = "";
    const collect = async (s: ReadableStream<Uint8Array>) => {
      for await (const c of s) out += decoder.decode(c);
    };
    const done = Promise.all([collect(child.stdout), collect(child.stderr)]);
    return {
      get chromiumPid() {
        return Number(/^pid (\d+)/m.exec(out)?.[1] ?? 0);
      },
      view() {
        try {
          return JSON.parse(Deno.readTextFileSync(`${outDir}/view.json`));
        } catch {
          return null;
        }
      },
      async stop() {
        await terminate(child, 15_000);
        await done;
      },
      log: () => out,
    };
  }

  /** Kills what runs in the namespace, removes the namespace and the veth pair. */
  async delete(): Promise<void> {
    await deleteNetns(this.name);
    await must(["-n", this.net.ns, "link", "del", "sfwx"]).catch(() => {});
  }
}
