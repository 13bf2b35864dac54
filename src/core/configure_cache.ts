import { checkOptionNames } from "../_errors.ts";
import {
  getValidOutsideScope,
  type OutsideScopeMode,
  setDefaultOutsideScope,
} from "./_outside_scope.ts";

export type { OutsideScopeMode };

/** Options of {@linkcode configureCache}: process-wide defaults of every cached function. */
export interface ConfigureCacheOptions {
  /**
   * What a call of a cached function that has no `outsideScope` option of its own does when no
   * cache scope is open: `"run"` runs it uncached, `"warn"` also warns once per function
   * through `console.warn`, `"throw"` throws a `TypeError` naming the function and the fix.
   * Read at each such call, so it applies to functions made before and after it is set.
   *
   * @default {"run"}
   */
  outsideScope?: OutsideScopeMode;
}

/**
 * Sets process-wide defaults of the cached functions: today, what a call does when no cache
 * scope is open (`outsideScope`). A function's own `outsideScope` option wins over it.
 *
 * The setting is read when a call finds no scope, not when a function is made, so it does not
 * matter whether the module that calls `configureCache` loads before or after the modules that
 * make cached functions. An option left out (or `undefined`) keeps its current setting.
 *
 * @param options The defaults to change.
 * @throws {TypeError} If an option does not exist or has another value.
 *
 * @example Failing loudly in tests when a cached call runs outside a request
 * ```ts
 * import { configureCache, perRequestCache, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const getUser = perRequestCache((id: string) => ({ id }), { name: "getUser" });
 *
 * configureCache({ outsideScope: "throw" });
 * assert.throws(() => getUser("42"), TypeError); // no scope: an error, not a silent miss
 * runInCacheScope({ url: "/" }, () => getUser("42")); // inside a scope: cached as usual
 * configureCache({ outsideScope: "run" }); // back to the default
 * assert.deepEqual(getUser("42"), { id: "42" });
 * ```
 */
export function configureCache(options: ConfigureCacheOptions): void {
  const own = checkOptionNames(options, optionNames, "configure the cache");
  const outsideScope = getValidOutsideScope(own.outsideScope, "configure the cache");
  if (outsideScope !== undefined) setDefaultOutsideScope(outsideScope);
}

const optionNames = ["outsideScope"];
