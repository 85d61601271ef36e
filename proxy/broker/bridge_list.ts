/**
 * The broker's bridge list (README "Broker", bridge list file): one JSON object a line,
 * `{"displayName":"...","webSocketAddress":"wss://...","fingerprint":"<40 hex>"}`, no other
 * fields. A client's fingerprint selects the WebSocket URL its proxy relays to. One bad line
 * rejects the whole file, as in Go.
 *
 * @module
 */
import { DEFAULT_BRIDGE_FINGERPRINT, isFingerprint } from "../../lib/snowflake/messages.ts";

export interface BridgeInfo {
  displayName: string;
  webSocketAddress: string;
  fingerprint: string;
}

/** The error text clients get for a fingerprint the broker does not know. */
export const ERR_BRIDGE_NOT_FOUND = "bridge with requested fingerprint is unknown to the broker";

const FIELDS = ["displayName", "webSocketAddress", "fingerprint"];

/** The list a broker uses when no file is given: Tor Project's snowflake bridge. */
export const DEFAULT_BRIDGE_LIST = JSON.stringify({
  displayName: "default",
  webSocketAddress: "wss://snowflake.torproject.net/",
  fingerprint: DEFAULT_BRIDGE_FINGERPRINT,
}) + "\n";

export class BridgeList {
  #byFingerprint: Map<string, BridgeInfo>;

  private constructor(entries: Map<string, BridgeInfo>) {
    this.#byFingerprint = entries;
  }

  /** Parses the file format; SyntaxError/TypeError naming the bad line. */
  static parse(text: string): BridgeList {
    const map = new Map<string, BridgeInfo>();
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new SyntaxError(`bridge list line ${i + 1}: ${(e as Error).message}`);
      }
      if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
        throw new TypeError(`bridge list line ${i + 1}: not a JSON object`);
      }
      for (const key of Object.keys(obj)) {
        if (!FIELDS.includes(key)) {
          throw new TypeError(`bridge list line ${i + 1}: unknown field ${key}`);
        }
      }
      for (const key of FIELDS) {
        if (obj[key] !== undefined && typeof obj[key] !== "string") {
          throw new TypeError(`bridge list line ${i + 1}: ${key} must be a string`);
        }
      }
      const info: BridgeInfo = {
        displayName: (obj.displayName as string | undefined) ?? "",
        webSocketAddress: (obj.webSocketAddress as string | undefined) ?? "",
        fingerprint: (obj.fingerprint as string | undefined) ?? "",
      };
      if (!isFingerprint(info.fingerprint)) {
        throw new TypeError(
          `bridge list line ${i + 1}: bad fingerprint ${JSON.stringify(info.fingerprint)}`,
        );
      }
      map.set(info.fingerprint.toUpperCase(), info);
    });
    return new BridgeList(map);
  }

  /** The bridge with `fingerprint` (any case), or undefined. */
  get(fingerprint: string): BridgeInfo | undefined {
    return this.#byFingerprint.get(fingerprint.toUpperCase());
  }

  get size(): number {
    return this.#byFingerprint.size;
  }

  values(): IterableIterator<BridgeInfo> {
    return this.#byFingerprint.values();
  }
}
