/**
 * The sans-I/O parser of one carrier's incoming byte stream (docs/PROTOCOL.md §1, §2):
 * on the server, the 8-byte token and the 8-byte ClientID,
 * then encapsulated packets; on the client, encapsulated packets only.
 *
 * @module
 */
import { PacketDecoder } from "../encapsulation/mod.ts";
import { CLIENT_ID_LENGTH, ClientID, TOKEN } from "./client_id.ts";

/** Length of the connection header: token then ClientID. */
export const HEADER_LENGTH = TOKEN.length + CLIENT_ID_LENGTH;

/** The connection header a client sends first on every new carrier. */
export function encodeCarrierHeader(id: ClientID): Uint8Array {
  const header = new Uint8Array(HEADER_LENGTH);
  header.set(TOKEN, 0);
  header.set(id.bytes, TOKEN.length);
  return header;
}

/** Options for {@link CarrierParser}. */
export interface CarrierParserOptions {
  /** Expect the token and ClientID first (the server's side). Default true. */
  header?: boolean;
  /**
   * Largest encapsulated chunk accepted; a longer length prefix is refused before its body
   * is buffered. KCP packets are ≤ 1400 bytes. Default 65535.
   */
  maxLength?: number;
}

/** Why a stream was refused: what the server counts. */
export type CarrierFault = "badToken" | "badEncapsulation" | "oversize";

/** A malformed carrier stream; `fault` says which rule it broke. */
export class CarrierError extends SyntaxError {
  constructor(readonly fault: CarrierFault, message: string) {
    super(message);
    this.name = "CarrierError";
  }
}

/**
 * Push byte chunks split anywhere; read the ClientID once the header is complete and the
 * packets with {@link next}. The first wrong token byte, a bad prefix or an oversized
 * length throws a {@link CarrierError} from `push` or `next`. Packets may be views into
 * the pushed chunks: do not reuse a chunk after pushing it.
 */
export class CarrierParser {
  #header: Uint8Array | null;
  #have = 0;
  #id: ClientID | null = null;
  #decoder: PacketDecoder;
  #maxLength: number;

  constructor(options: CarrierParserOptions = {}) {
    this.#header = (options.header ?? true) ? new Uint8Array(HEADER_LENGTH) : null;
    this.#maxLength = options.maxLength ?? 65535;
    this.#decoder = new PacketDecoder({ maxLength: this.#maxLength });
  }

  /** The client's ClientID once its header is complete (null before, and on the client). */
  get clientId(): ClientID | null {
    return this.#id;
  }

  /** True once the header (if any) is complete and packets may follow. */
  get ready(): boolean {
    return this.#header === null || this.#id !== null;
  }

  /** True while bytes of an unfinished header or packet are buffered. */
  get partial(): boolean {
    return (!this.ready && this.#have > 0) || this.#decoder.midChunk;
  }

  push(chunk: Uint8Array): void {
    if (!this.ready) {
      const header = this.#header!;
      const take = Math.min(chunk.length, HEADER_LENGTH - this.#have);
      for (let i = 0; i < take; i++) {
        const pos = this.#have + i;
        if (pos < TOKEN.length && chunk[i] !== TOKEN[pos]) {
          throw new CarrierError(
            "badToken",
            `bad Turbo Tunnel token byte ${pos}: 0x${chunk[i]!.toString(16).padStart(2, "0")}`,
          );
        }
        header[pos] = chunk[i]!;
      }
      this.#have += take;
      chunk = chunk.subarray(take);
      if (this.#have < HEADER_LENGTH) return;
      this.#id = new ClientID(header.subarray(TOKEN.length));
    }
    if (chunk.length > 0) this.#decoder.push(chunk);
  }

  /** The next whole packet, or null until more bytes arrive. */
  next(): Uint8Array | null {
    try {
      return this.#decoder.next();
    } catch (e) {
      const msg = (e as Error).message;
      throw new CarrierError(
        msg.startsWith("encapsulated chunk of") ? "oversize" : "badEncapsulation",
        msg,
      );
    }
  }

  /**
   * Marks end of input: a CarrierError if it stopped inside the header or a packet (a
   * stream that ends before its first byte is not an error).
   */
  end(): void {
    if (!this.ready && this.#have > 0) {
      throw new CarrierError(
        "badToken",
        `unexpected EOF: got ${this.#have} of ${HEADER_LENGTH} Turbo Tunnel header bytes`,
      );
    }
    if (!this.ready) return;
    try {
      this.#decoder.end();
    } catch (e) {
      throw new CarrierError("badEncapsulation", (e as Error).message);
    }
  }
}
