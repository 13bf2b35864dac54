/**
 * The type of what {@linkcode perRequestCache} returns, how a stacked one reaches the one it
 * wraps, and how the decorator form is told apart.
 */

/**
 * A function made by {@linkcode perRequestCache}: it is called like the original (parameters,
 * return type and `this` are the same) and has three methods that act on the current scope.
 *
 * @typeParam F The original function's type.
 */
export type CachedFunction<F extends (...args: never[]) => unknown> = F & {
  /**
   * Drops the entry for these arguments in the current scope, and in the cached function this
   * one wraps, if any. For a method, call it with the instance: `invalidate.call(obj, ...args)`.
   *
   * @returns Whether this function held an entry for the arguments.
   */
  invalidate(...args: Parameters<F>): boolean;
  /**
   * Drops all of this function's entries in the current scope (and those of the cached
   * function it wraps, if any).
   *
   * @returns How many entries of this function were dropped.
   */
  clear(): number;
  /**
   * Stores `value` as the result for `args` in the current scope, unless an entry is there
   * already (clear it with `invalidate` first to replace it).
   *
   * @returns Whether the value was stored: `false` outside any scope or over an entry.
   */
  prime(args: Parameters<F>, value: ReturnType<F>): boolean;
};

/** Whether `perRequestCache`'s second argument is a decorator context rather than options. */
export function isDecoratorContext(value: unknown): value is ClassMethodDecoratorContext {
  return typeof value === "object" && value !== null && "kind" in value &&
    "addInitializer" in value;
}

/** What a stacked cached function calls through to (rule: `invalidate` goes through). */
export interface Controls {
  invalidate(receiver: unknown, args: unknown[]): boolean;
  clear(): number;
}

/** The controls of every cached function, by the function. */
export const controlsOf: WeakMap<object, Controls> = new WeakMap();
