/**
 * The checks that the options of both kinds of cached function (`perRequestCache`,
 * `perRequestBatch`) share, each written once so that their messages cannot drift apart.
 */
import { describe } from "../_errors.ts";

/** A bound (`maxEntries`, `maxBatchSize`): a positive integer, or `Infinity` (the default). */
export function getValidLimit(value: unknown, option: string, action: string): number {
  if (value === undefined) return Infinity;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action}: ${option} must be a number, received ${describe(value)}`,
    );
  }
  if (value !== Infinity && !(Number.isInteger(value) && value > 0)) {
    throw new RangeError(
      `Cannot ${action}: ${option} must be a positive integer or Infinity, received ${value}`,
    );
  }
  return value;
}

/** An optional callback option (`key`, `tags`); `what` says what it must be. */
export function getValidCallback<F>(
  value: unknown,
  option: string,
  what: string,
  action: string,
): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`Cannot ${action}: ${option} must be ${what}, received ${describe(value)}`);
  }
  return value as F | undefined;
}

/** The `name` option, or the function's own name when it is not given. */
export function getValidName(
  value: unknown,
  fn: (...args: never[]) => unknown,
  action: string,
): string {
  const name = value === undefined ? nameOf(fn) : value;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot ${action}: name must be a non-empty string, received ${describe(name)}`,
    );
  }
  return name;
}

/** A function's own name if it has a usable one. */
function nameOf(fn: (...args: never[]) => unknown): string {
  // A function's own name can be anything (defineProperty); only a non-empty string is shown.
  const name: unknown = fn.name;
  return typeof name === "string" && name !== "" ? name : "anonymous";
}
