/**
 * Whether a rejected promise stays cached: the `cacheRejections` option of a cached function.
 *
 * `true` keeps every rejection for the rest of the request, `false` drops every one so the next
 * call retries, and a predicate decides per error (a 404 is an answer worth keeping, a 503 is
 * worth retrying): the rejection stays exactly when it returns `true`. A predicate that throws
 * is a bug in the caller's code, not an answer: the rejection is dropped (the call has already
 * rejected with its own error; the predicate's error must not replace it), and the predicate's
 * error is reported through `console.error` the first time it happens for that function, so it
 * is neither swallowed nor repeated for every request.
 *
 * Any kind of cached function checks the option with {@linkcode getValidRejectionPolicy} and
 * calls {@linkcode keepsRejection} when one of its entries rejects.
 */
import { describe } from "../_errors.ts";

/** The `cacheRejections` option: keep all, keep none, or ask the predicate. */
export type RejectionPolicy = boolean | ((error: unknown) => boolean);

/** Checks a `cacheRejections` option (`undefined` means not given) for an error about `action`. */
export function getValidRejectionPolicy(value: unknown, action: string): RejectionPolicy {
  if (value === undefined) return false;
  if (typeof value === "boolean" || typeof value === "function") return value as RejectionPolicy;
  throw new TypeError(
    `Cannot ${action}: cacheRejections must be a boolean or a predicate of the error, received ${
      describe(value)
    }`,
  );
}

/** Functions whose predicate has thrown already (reported once per function). */
const reported = new WeakSet<object>();

/**
 * Whether a rejection with `error` stays cached under `policy`. `fn` is the cached function and
 * `name` its name, for the report of a predicate that throws.
 */
export function keepsRejection(
  policy: RejectionPolicy,
  error: unknown,
  fn: object,
  name: string,
): boolean {
  if (typeof policy === "boolean") return policy;
  try {
    return policy(error) === true;
  } catch (predicateError) {
    if (!reported.has(fn)) {
      reported.add(fn);
      console.error(
        `@reqcache/core: the cacheRejections predicate of ${name} threw, so the rejection was not cached and the next call retries; ` +
          "make the predicate return true or false for every error (this is reported once per function)",
        predicateError,
      );
    }
    return false;
  }
}
