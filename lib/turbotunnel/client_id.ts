import type { Addr } from "../net/mod.ts";

// Spec constants (docs/PROTOCOL.md §1).
/** Sent first on every new proxy connection, before the ClientID. */
export const TOKEN: Uint8Array = new Uint8Array([0x12, 0x93, 0x60, 0x5d, 0x27, 0x81, 0x75, 0xf5]);
/** Length of a ClientID in bytes. */
export const CLIENT_ID_LENGTH = 8;

/**
 * Names one client session across all of its proxies: 8 random bytes, reused on every
 * redial. As an Addr its network is "clientid" and its string form is lowercase hex.
 */
export class ClientID implements Addr {
  readonly network = "clientid";
  readonly #bytes: Uint8Array;
  readonly hex: string;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== CLIENT_ID_LENGTH) {
      throw new RangeError(`ClientID must be ${CLIENT_ID_LENGTH} bytes, got ${bytes.length}`);
    }
    this.#bytes = bytes.slice();
    this.hex = Array.from(this.#bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** A fresh ClientID from the platform's CSPRNG. */
  static random(): ClientID {
    return new ClientID(crypto.getRandomValues(new Uint8Array(CLIENT_ID_LENGTH)));
  }

  /** Parses 16 hex digits. */
  static fromHex(hex: string): ClientID {
    if (!/^[0-9a-fA-F]{16}$/.test(hex)) {
      throw new SyntaxError(`ClientID hex ${JSON.stringify(hex)} is not 16 hex digits`);
    }
    const b = new Uint8Array(CLIENT_ID_LENGTH);
    for (let i = 0; i < CLIENT_ID_LENGTH; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return new ClientID(b);
  }

  /** A copy of the 8 bytes. */
  get bytes(): Uint8Array {
    return this.#bytes.slice();
  }

  equals(other: ClientID): boolean {
    return this.hex === other.hex;
  }

  toString(): string {
    return this.hex;
  }
}
