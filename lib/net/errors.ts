/** Thrown by reads and writes on a conn, session or stream that has been closed. */
export class ClosedError extends Error {
  constructor(what = "connection") {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
}

/** Thrown when an operation's deadline or AbortSignal fires. */
export class TimeoutError extends Error {
  constructor(what = "operation") {
    super(`${what} timed out`);
    this.name = "TimeoutError";
  }
}
