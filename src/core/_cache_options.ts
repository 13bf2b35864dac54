/** The options of {@linkcode perRequestCache}, and their one check. */
import { checkOptionNames, describe } from "../_errors.ts";
import { getValidOutsideScope, type OutsideScopeMode } from "./_outside_scope.ts";
import { getValidRejectionPolicy, type RejectionPolicy } from "./_rejection_policy.ts";

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
   * next call in the same scope retries; `true` keeps every rejection for the rest of the
   * request. A predicate decides per error: the rejection stays exactly when it returns `true`
   * (`(error) => error instanceof NotFoundError` keeps a 404, retries a 503). If the predicate
   * throws, the rejection is not cached, the call still rejects with its own error, and the
   * predicate's error is reported once per function through `console.error`. A synchronous
   * throw is never stored, whatever this says.
   *
   * @default {false}
   */
  cacheRejections?: boolean | ((error: unknown) => boolean);
  /**
   * Gives the tags of a call's entry, from its arguments (`(id) => [`user:${id}`]`), evaluated
   * once, on the miss, before the function runs. `invalidateTags(tag)` then drops, in the
   * current scope, every entry of every cached function that carries the tag. It must return
   * an array of strings: anything else (or a throw) makes the call throw, and nothing is stored.
   *
   * @default {undefined} (entries carry no tags)
   */
  tags?: (...args: Args) => readonly string[];
  /**
   * What a call does when no cache scope is open: `"run"` runs it uncached, `"warn"` also
   * warns once for this function through `console.warn`, `"throw"` throws a `TypeError` naming
   * it and the fix. Left out, the process-wide default of `configureCache` applies, read at
   * each such call.
   *
   * @default {undefined} (`configureCache`'s `outsideScope`, itself `"run"` by default)
   */
  outsideScope?: OutsideScopeMode;
  /**
   * The name shown in `scope.stats.functions` and in error messages.
   *
   * @default {fn.name, or "anonymous"}
   */
  name?: string;
}

const optionNames = ["key", "maxEntries", "cacheRejections", "tags", "outsideScope", "name"];

/** The options of a cached function, checked, with their defaults. */
export interface ValidOptions {
  key: ((...args: unknown[]) => unknown) | undefined;
  maxEntries: number;
  cacheRejections: RejectionPolicy;
  tags: ((...args: unknown[]) => unknown) | undefined;
  outsideScope: OutsideScopeMode | undefined;
  name: string;
}

/** Checks a cached function's options once, when it is made. */
export function getValidOptions(
  options: PerRequestCacheOptions | undefined,
  fn: (...args: unknown[]) => unknown,
): ValidOptions {
  if (options === undefined) {
    return {
      key: undefined,
      maxEntries: Infinity,
      cacheRejections: false,
      tags: undefined,
      outsideScope: undefined,
      name: nameOf(fn),
    };
  }
  const own = checkOptionNames(options, optionNames, "create a per-request cache");
  const { key, maxEntries = Infinity, tags, name = nameOf(fn) }: PerRequestCacheOptions = own;
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
  const cacheRejections = getValidRejectionPolicy(
    own.cacheRejections,
    "create a per-request cache",
  );
  if (tags !== undefined && typeof tags !== "function") {
    throw new TypeError(
      `Cannot create a per-request cache: tags must be a function of the arguments that returns an array of strings, received ${
        describe(tags)
      }`,
    );
  }
  const outsideScope = getValidOutsideScope(own.outsideScope, "create a per-request cache");
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot create a per-request cache: name must be a non-empty string, received ${
        describe(name)
      }`,
    );
  }
  return {
    key: key as ValidOptions["key"],
    maxEntries,
    cacheRejections,
    tags: tags as ValidOptions["tags"],
    outsideScope,
    name,
  };
}

/** A function's own name if it has a usable one. */
export function nameOf(fn: (...args: unknown[]) => unknown): string {
  // A function's own name can be anything (defineProperty); only a non-empty string is shown.
  const name: unknown = fn.name;
  return typeof name === "string" && name !== "" ? name : "anonymous";
}
