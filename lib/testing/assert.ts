/**
 * Test assertions (JSR's @std/assert is unreachable here): thin wrappers over
 * node:assert/strict with the @std names.
 *
 * @module
 */
import assert from "node:assert/strict";

export function assert_(cond: unknown, msg?: string): asserts cond {
  assert.ok(cond, msg);
}
export { assert_ as assert };

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.notDeepStrictEqual(actual, expected, msg);
}

export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    checkError(e, errorClass, msgIncludes);
    return e as Error;
  }
  throw new assert.AssertionError({ message: "expected function to throw" });
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    checkError(e, errorClass, msgIncludes);
    return e as Error;
  }
  throw new assert.AssertionError({ message: "expected promise to reject" });
}

function checkError(
  e: unknown,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
): void {
  if (errorClass && !(e instanceof errorClass)) {
    throw new assert.AssertionError({
      message: `expected ${errorClass.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`,
    });
  }
  if (msgIncludes && !String((e as Error)?.message).includes(msgIncludes)) {
    throw new assert.AssertionError({
      message: `expected message to include "${msgIncludes}", got "${(e as Error)?.message}"`,
    });
  }
}
