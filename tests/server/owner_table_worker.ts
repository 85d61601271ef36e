/**
 * A Worker for owner_table_test.ts: one Worker's {@link OwnerTable} over the shared memory.
 * It routes a list of ClientIDs as soon as the start flag is raised (all Workers at once),
 * reports the owner of each, then plays the owner's part when told: takes the carriers the
 * others routed to it ({@link OwnerTable.opened}) and lets its ClientIDs go.
 */
/// <reference lib="deno.worker" />
import { ClientID } from "../../lib/turbotunnel/mod.ts";
import { OwnerTable } from "../../server/route.ts";

export type ToOwnerWorker =
  | {
    t: "route";
    memory: SharedArrayBuffer;
    start: SharedArrayBuffer;
    index: number;
    workers: number;
    key: Uint8Array;
    ids: string[];
    /** Start at another point of the list in each Worker (they meet mid-way), or all at the first. */
    spread: boolean;
  }
  | { t: "release"; owners: number[] };

let table: OwnerTable | null = null;
let ids: ClientID[] = [];
let index = 0;
let workers = 0;

self.onmessage = (ev: MessageEvent<ToOwnerWorker>) => {
  const m = ev.data;
  if (m.t === "route") {
    ({ index, workers } = m);
    table = new OwnerTable(m.memory, { index, workers, key: m.key });
    ids = m.ids.map((hex) => ClientID.fromHex(hex));
    self.postMessage("ready");
    const start = new Int32Array(m.start);
    Atomics.wait(start, 0, 0);
    const owners = new Array<number>(ids.length);
    const from = m.spread ? Math.floor((index * ids.length) / workers) : 0;
    for (let k = 0; k < ids.length; k++) {
      const i = (k + from) % ids.length;
      owners[i] = table.route(ids[i]!);
    }
    self.postMessage(owners);
  } else {
    // Every other Worker routed each ClientID once: its carrier reaches the owner.
    for (const [i, id] of ids.entries()) {
      if (m.owners[i] !== index) continue;
      for (let n = 1; n < workers; n++) table!.opened(id);
      table!.gone(id);
    }
    self.postMessage("released");
  }
};
