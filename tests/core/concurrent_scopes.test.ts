import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, perRequestCache, runInCacheScope } from "../../mod.ts";

test("two scopes interleaving across awaits never see each other's entries", async () => {
  const whoAsked = perRequestCache(async (key: string) => {
    await delay(1);
    return `${key} for ${(currentScope()?.request as { name: string }).name}`;
  });
  const visit = (name: string) =>
    runInCacheScope({ name }, async () => {
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        seen.push(await whoAsked("user"));
        await delay(Math.random() * 3);
      }
      return seen;
    });
  const [a, b] = await Promise.all([visit("a"), visit("b")]);
  assert.deepEqual(a, Array(5).fill("user for a"));
  assert.deepEqual(b, Array(5).fill("user for b"));
});

test("100 concurrent scopes each still see their own scope after every await", async () => {
  let runs = 0;
  const ownId = perRequestCache(async (label: string) => {
    runs++;
    await delay(Math.random() * 5);
    return `${label}:${currentScope()?.id}`;
  });
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      runInCacheScope({ i }, async (scope) => {
        for (let step = 0; step < 4; step++) {
          await delay(Math.random() * 4);
          assert.equal(currentScope(), scope);
          assert.equal(await ownId("me"), `me:${scope.id}`);
        }
        return scope.stats;
      })),
  );
  assert.equal(runs, 100);
  for (const stats of results) assert.deepEqual([stats.hits, stats.misses], [3, 1]);
});

test("scope ids are unique", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) runInCacheScope(undefined, (scope) => ids.add(scope.id));
  assert.equal(ids.size, 1000);
});
