/**
 * Caps every proxy's relay (what the server sends to one proxy) at a fixed rate with the
 * kernel's traffic control, as a slow proxy would: an HTB on the server's veth end with one
 * class per proxy connection, each with a short FIFO (a bounded queue: the bottleneck drops
 * and TCP backs off, as on a real link). A new connection from the server's port gets its own
 * class within {@link POLL_MS}; until then it shares one class at the same rate.
 *
 * @module
 */
import type { NsPair } from "./netns.ts";

const POLL_MS = 200;

/** One cap on the relay connections to `port` in `net.a`; stop it before the namespaces go. */
export class RelayCap {
  #classes = new Map<number, number>();
  #stopped = false;
  #polling: Promise<void> = Promise.resolve();

  private constructor(
    readonly net: NsPair,
    readonly port: number,
    readonly rate: number,
    readonly queuePackets: number,
  ) {}

  /**
   * Caps each connection from `port` to `rate` bytes/s with a FIFO of `queuePackets`
   * (default: about 50 ms of the rate in 1500-byte packets, at least 16).
   */
  static async start(
    net: NsPair,
    port: number,
    rate: number,
    queuePackets = Math.max(16, Math.ceil((rate * 0.05) / 1500)),
  ): Promise<RelayCap> {
    const cap = new RelayCap(net, port, rate, queuePackets);
    // One packet per segment (no 64 KiB GSO bursts), so that the FIFO's length is its delay.
    await net.exec(net.a, ["ip", "link", "set", "dev", "va", "gso_max_size", "1500"]);
    await net.exec(net.a, ["tc", "qdisc", "add", "dev", "va", "root", "handle", "1:", "htb"]);
    // Connections not yet classified share one class at the rate: never uncapped.
    await cap.#class(1, ["match", "ip", "sport", String(port), "0xffff"], 2);
    cap.#polling = cap.#poll();
    return cap;
  }

  /** What each class sent and dropped, and what waits in its queue now (`tc -s`). */
  async stats(): Promise<string> {
    const out = await this.net.exec(this.net.a, ["tc", "-s", "qdisc", "show", "dev", "va"]);
    return out.split("\n").filter((l) => /qdisc pfifo|Sent|backlog/.test(l)).join("\n");
  }

  async #poll(): Promise<void> {
    while (!this.#stopped) {
      const out = await this.net.exec(this.net.a, [
        "ss",
        "-tnH",
        "state",
        "established",
        "sport",
        `:${this.port}`,
      ]).catch(() => "");
      for (const line of out.split("\n")) {
        const peer = Number(/:(\d+)\s*$/.exec(line.trim())?.[1] ?? 0);
        if (peer > 0 && !this.#classes.has(peer)) await this.#add(peer).catch(() => {});
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #add(peer: number): Promise<void> {
    const id = this.#classes.size + 10;
    this.#classes.set(peer, id);
    await this.#class(id, [
      ...["match", "ip", "sport", String(this.port), "0xffff"],
      ...["match", "ip", "dport", String(peer), "0xffff"],
    ], 1);
  }

  /** An HTB class `1:id` at the rate with a short FIFO, for the packets `match` selects. */
  async #class(id: number, match: string[], prio: number): Promise<void> {
    const bits = `${Math.round((this.rate * 8) / 1000)}kbit`;
    const tc = (args: string[]) => this.net.exec(this.net.a, ["tc", ...args]);
    const dev = ["dev", "va", "parent"];
    await tc([
      "class",
      "add",
      ...dev,
      "1:",
      "classid",
      `1:${id}`,
      "htb",
      "rate",
      bits,
      "ceil",
      bits,
    ]);
    await tc(["qdisc", "add", ...dev, `1:${id}`, "pfifo", "limit", String(this.queuePackets)]);
    await tc(
      ["filter", "add", ...dev, "1:", "protocol", "ip", "prio", String(prio), "u32", ...match]
        .concat(["flowid", `1:${id}`]),
    );
  }

  /** Stops classifying and removes the cap. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#polling;
    await this.net.exec(this.net.a, ["tc", "qdisc", "del", "dev", "va", "root"]).catch(() => {});
    await this.net.exec(this.net.a, ["ip", "link", "set", "dev", "va", "gso_max_size", "65536"]);
  }
}
