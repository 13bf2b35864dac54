/** The options of {@linkcode perRequestCache}, and their one check. */
import { checkOptionNames } from "../_errors.ts";
import { getValidCallback, getValidLimit, getValidName } from "./_option_checks.ts";
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
  action = "create a per-request cache",
): ValidOptions {
  const own = checkOptionNames(options === undefined ? {} : options, optionNames, action);
  return {
    key: getValidCallback(own.key, "key", "a function of the arguments", action),
    maxEntries: getValidLimit(own.maxEntries, "maxEntries", action),
    cacheRejections: getValidRejectionPolicy(own.cacheRejections, action),
    tags: getValidCallback(
      own.tags,
      "tags",
      "a function of the arguments that returns an array of strings",
      action,
    ),
    outsideScope: getValidOutsideScope(own.outsideScope, action),
    name: getValidName(own.name, fn, action),
  };
}
