import { scrub } from "./scrub.ts";

/** Where log lines go and whether they are scrubbed. */
export interface LoggerOptions {
  /** Keep IP addresses in logs. Default false. */
  unsafe?: boolean;
  /** Sink for finished lines. Default: stderr. */
  write?: (line: string) => void;
  /** Clock for timestamps. Default: Date.now. */
  now?: () => number;
}

const encoder = new TextEncoder();

/** Writes a line to stderr synchronously, so logs survive an abrupt exit. */
export function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Opens a log file for appending and returns a sink for {@link Logger}. */
export function fileSink(path: string): (line: string) => void {
  const file = Deno.openSync(path, { append: true, create: true, write: true });
  return (line) => file.writeSync(encoder.encode(line + "\n"));
}

/** A timestamped logger whose every line passes through {@link scrub} unless unsafe. */
export class Logger {
  #unsafe: boolean;
  #write: (line: string) => void;
  #now: () => number;

  constructor(options: LoggerOptions = {}) {
    this.#unsafe = options.unsafe ?? false;
    this.#write = options.write ?? writeStderr;
    this.#now = options.now ?? Date.now;
  }

  /** True when IP addresses are kept. */
  get unsafe(): boolean {
    return this.#unsafe;
  }

  /** Scrubs a string for output (identity when unsafe). */
  safe(message: string): string {
    return this.#unsafe ? message : scrub(message);
  }

  log(...parts: unknown[]): void {
    const text = parts.map((p) => (p instanceof Error ? p.message : String(p))).join(" ");
    const stamp = new Date(this.#now()).toISOString().replace("T", " ").slice(0, 19);
    this.#write(`${stamp} ${this.safe(text)}`);
  }
}

/**
 * The logger a binary's `-log FILE` and `-unsafe-logging` flags ask for (stderr when no file
 * is named), or null, after saying so on stderr, when the file cannot be opened.
 */
export function flagLogger(path: string | undefined, unsafe: boolean): Logger | null {
  let write = writeStderr;
  if (path) {
    try {
      write = fileSink(path);
    } catch (e) {
      writeStderr(`can't open log file: ${(e as Error).message}`);
      return null;
    }
  }
  return new Logger({ unsafe, write });
}
