/** The options of {@linkcode perRequestCache}, and their one check. */
import { checkOptionNames, describe } from "../_errors.ts";

/**
 * Options of {@linkcode perRequestCache}.
 *
 * @typeParam Args The cached function's parameters.
 */
export interface PerRequestCacheOptions<Args extends unknown[] = unknown[]> {
  /**
   * Makes the key of a call from its arguments, for arguments that are equal without being
   * identical (`(query) => query.id`, `(...args) => JSON.stringify(args)`). Its result is
   * compared with SameValueZero. If it throws, the call throws that error and nothing is
   * stored.
   *
   * @default {undefined} (arguments compared position by position, objects by identity)
   */
  key?: (...args: Args) => unknown;
  /**
   * How many entries the function may hold in one scope; past it, the least recently used
   * entry is dropped. A positive integer, or `Infinity`.
   *
   * @default {Infinity}
   */
  maxEntries?: number;
  /**
   * Whether a rejected promise stays cached. By default it is dropped when it rejects, so the
   * next call in the same scope retries.
   *
   * @default {false}
   */
  cacheRejections?: boolean;
  /**
   * The name shown in `scope.stats.functions` and in error messages.
   *
   * @default {fn.name, or "anonymous"}
   */
  name?: string;
}

const optionNames = ["key", "maxEntries", "cacheRejections", "name"];

/** The options of a cached function, checked, with their defaults. */
export interface ValidOptions {
  key: ((...args: unknown[]) => unknown) | undefined;
  maxEntries: number;
  cacheRejections: boolean;
  name: string;
}

/** Checks a cached function's options once, when it is made. */
export function getValidOptions(
  options: PerRequestCacheOptions | undefined,
  fn: (...args: unknown[]) => unknown,
): ValidOptions {
  if (options === undefined) {
    return { key: undefined, maxEntries: Infinity, cacheRejections: false, name: nameOf(fn) };
  }
  const own = checkOptionNames(options, optionNames, "create a per-request cache");
  const { key, maxEntries = Infinity, cacheRejections = false, name = nameOf(fn) }:
    PerRequestCacheOptions = own;
  if (key !== undefined && typeof key !== "function") {
    throw new TypeError(
      `Cannot create a per-request cache: key must be a function of the arguments, received ${
        describe(key)
      }`,
    );
  }
  if (typeof maxEntries !== "number") {
    throw new TypeError(
      `Cannot create a per-request cache: maxEntries must be a number, received ${
        describe(maxEntries)
      }`,
    );
  }
  if (maxEntries !== Infinity && !(Number.isInteger(maxEntries) && maxEntries > 0)) {
    throw new RangeError(
      `Cannot create a per-request cache: maxEntries must be a positive integer or Infinity, received ${maxEntries}`,
    );
  }
  if (typeof cacheRejections !== "boolean") {
    throw new TypeError(
      `Cannot create a per-request cache: cacheRejections must be a boolean, received ${
        describe(cacheRejections)
      }`,
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot create a per-request cache: name must be a non-empty string, received ${
        describe(name)
      }`,
    );
  }
  return { key: key as ValidOptions["key"], maxEntries, cacheRejections, name };
}

/** A function's own name if it has a usable one. */
export function nameOf(fn: (...args: unknown[]) => unknown): string {
  // A function's own name can be anything (defineProperty); only a non-empty string is shown.
  const name: unknown = fn.name;
  return typeof name === "string" && name !== "" ? name : "anonymous";
}
