import { describe } from "../_errors.ts";
import { liveScope } from "./_frame.ts";
import { tellTagsDropped } from "./_miss_strategy.ts";

/**
 * Drops, in the current scope, every entry of every cached function that carries any of
 * `tags` (given by the functions' `tags` option), and returns how many entries it dropped.
 *
 * This is how a handler reads its own writes: after updating user 42, `invalidateTags("user:42")`
 * drops `getUser(42)`, `getUserPosts(42)` and `getTeamOf(42)` together, whichever functions
 * tagged them. Entries still in flight are dropped too: callers that already hold the promise
 * keep it, but the next call runs the function again, and the old promise is not stored back
 * when it settles. Other requests' scopes are untouched. Outside any scope there is nothing to
 * drop, and it returns `0`.
 *
 * @param tags The tags whose entries to drop.
 * @returns How many entries were dropped (an entry carrying two of the tags counts once).
 * @throws {TypeError} If a tag is not a string.
 *
 * @example Update, then read your write
 * ```ts
 * import { invalidateTags, perRequestCache, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const names = new Map([[42, "Ada"]]);
 * const getUser = perRequestCache(async (id: number) => ({ id, name: names.get(id) }), {
 *   tags: (id) => [`user:${id}`],
 * });
 * const getGreeting = perRequestCache(async (id: number) => `Hello, ${names.get(id)}`, {
 *   tags: (id) => [`user:${id}`],
 * });
 *
 * await runInCacheScope({ url: "/rename" }, async () => {
 *   assert.equal((await getUser(42)).name, "Ada");
 *   assert.equal(await getGreeting(42), "Hello, Ada");
 *   names.set(42, "Grace"); // the write
 *   assert.equal(invalidateTags("user:42"), 2);
 *   assert.equal((await getUser(42)).name, "Grace"); // the read sees it
 *   assert.equal(await getGreeting(42), "Hello, Grace");
 * });
 * assert.equal(invalidateTags("user:42"), 0); // no scope
 * ```
 */
export function invalidateTags(...tags: string[]): number {
  for (let i = 0; i < tags.length; i++) {
    if (typeof tags[i] !== "string") {
      throw new TypeError(
        `Cannot invalidate tags: tag ${i + 1} must be a string, received ${describe(tags[i])}`,
      );
    }
  }
  const scope = liveScope();
  if (scope === undefined) return 0;
  let dropped = 0;
  // forEach skips the holes of the sparse table array: one table per function called here.
  scope.tables.forEach((table) => {
    for (const tag of tags) dropped += table.invalidateTag(tag);
  });
  tellTagsDropped(scope, tags); // the request's shared entries on other threads
  return dropped;
}
