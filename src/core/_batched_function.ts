/** The types of what {@linkcode perRequestBatch} wraps and of what it returns. */

/**
 * What {@linkcode perRequestBatch} wraps: it receives distinct load keys and returns (or
 * resolves to) an array with the value for each key, in the order of the keys, or a `Map` from
 * key to value (a key it lacks gets `undefined`); an `Error` as a value rejects that key alone.
 *
 * @typeParam K The load key's type.
 * @typeParam V The value's type.
 */
export type BatchFunction<K, V> = (
  keys: readonly K[],
) =>
  | readonly (V | Error)[]
  | ReadonlyMap<unknown, V | Error>
  | PromiseLike<readonly (V | Error)[] | ReadonlyMap<unknown, V | Error>>;

/**
 * A function made by {@linkcode perRequestBatch}: `load(key)` resolves to the key's value, and
 * four methods act on the current scope.
 *
 * @typeParam K The load key's type.
 * @typeParam V The value's type.
 */
export interface BatchedFunction<K, V> {
  /**
   * Loads one key: from the current scope's cache, or in the scope's next batch.
   *
   * @param key The key to load.
   * @returns The key's value; rejects if its slot was an `Error` or its batch failed, or if
   * the `key` or `tags` option throws or `tags` returns anything but an array of strings.
   * @throws {TypeError} If no cache scope is open and `outsideScope` is `"throw"`.
   */
  (key: K): Promise<V>;
  /**
   * Loads several keys in the same batch, like DataLoader's `loadMany`: one failing key does
   * not reject the others, its slot holds the error instead.
   *
   * @param keys The keys to load.
   * @returns The values, with the error of each key that failed in its place.
   * @throws {TypeError} If `keys` is not an array.
   */
  many(keys: readonly K[]): Promise<(V | Error)[]>;
  /**
   * Drops the key's entry in the current scope, so the next load asks the batch function again.
   * Loads already made keep their promise.
   *
   * @returns Whether the scope held an entry for the key.
   */
  invalidate(key: K): boolean;
  /**
   * Drops all of this function's entries in the current scope.
   *
   * @returns How many entries were dropped.
   */
  clear(): number;
  /**
   * Stores `value` for `key` in the current scope, unless an entry is there already (call
   * `invalidate` first to replace it). An `Error` is stored as a rejection.
   *
   * @returns Whether the value was stored: `false` outside any scope or over an entry.
   */
  prime(key: K, value: V | Error): boolean;
}
