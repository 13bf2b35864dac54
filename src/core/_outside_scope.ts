/**
 * What a cached function does when a call finds no open scope: the `outsideScope` option of one
 * function, or the process-wide default that {@linkcode configureCache} sets.
 *
 * The default is read when such a call happens, never when a function is made, so the order in
 * which modules load does not matter: a test setup file that calls `configureCache` after the
 * application's modules were imported still applies to every function. Calls inside a scope
 * never come here, so the hit path does not pay for the policy.
 *
 * Any kind of cached function (`perRequestCache`, `perRequestBatch`) calls
 * {@linkcode callOutsideScope} on its no-scope path, before running uncached.
 */
import { describe } from "../_errors.ts";

/**
 * What a call with no open cache scope does: `"run"` runs it uncached, `"warn"` also warns once
 * per function, `"throw"` throws a `TypeError` instead of running it.
 */
export type OutsideScopeMode = "run" | "warn" | "throw";

const modes: readonly string[] = ["run", "warn", "throw"];

let processDefault: OutsideScopeMode = "run";

/** Functions that have warned already: the warning is shown once per function, not per call. */
const warned = new WeakSet<object>();

/** Sets the mode of every function that has no `outsideScope` option of its own. */
export function setDefaultOutsideScope(mode: OutsideScopeMode): void {
  processDefault = mode;
}

/** Checks an `outsideScope` option (`undefined` means not given) for an error about `action`. */
export function getValidOutsideScope(
  value: unknown,
  action: string,
): OutsideScopeMode | undefined {
  if (value === undefined || (typeof value === "string" && modes.includes(value))) {
    return value as OutsideScopeMode | undefined;
  }
  throw new TypeError(
    `Cannot ${action}: outsideScope must be "run", "warn" or "throw", received ${describe(value)}`,
  );
}

/**
 * Applies the mode to a call of `fn` (named `name`) that found no open scope: returns so that
 * the call runs uncached, after a warning the first time for `fn` under `"warn"`; throws under
 * `"throw"`. `mode` is the function's own option, `undefined` for the process default.
 */
export function callOutsideScope(
  mode: OutsideScopeMode | undefined,
  fn: object,
  name: string,
): void {
  const effective = mode ?? processDefault;
  if (effective === "run") return;
  if (effective === "throw") {
    throw new TypeError(
      `Cannot call ${name}: no cache scope is open, and outsideScope is "throw"; ${HOW_TO_OPEN}`,
    );
  }
  if (warned.has(fn)) return;
  warned.add(fn);
  console.warn(
    `@reqcache/core: ${name} was called outside any cache scope, so it ran uncached (and will on every such call). ` +
      `${HOW_TO_OPEN[0].toUpperCase()}${HOW_TO_OPEN.slice(1)}. ` +
      `This warning is shown once per function; outsideScope: "throw" makes it an error, "run" silences it.`,
  );
}

const HOW_TO_OPEN =
  "wrap the handler with withCacheScope(handler) or withListenerCacheScope(listener), add the cacheScope() middleware, or make the call inside runInCacheScope(request, fn)";
