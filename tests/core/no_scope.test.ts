import { test } from "node:test";
import assert from "node:assert/strict";
import { currentScope, perRequestCache } from "../../mod.ts";

test("with no scope the function runs on every call, stores nothing and does not throw", async () => {
  let runs = 0;
  const sync = perRequestCache((n: number) => n + ++runs);
  const async = perRequestCache(async (n: number) => n + ++runs);
  assert.equal(currentScope(), undefined);
  sync(1);
  sync(1);
  await async(1);
  await async(1);
  assert.equal(runs, 4);
  assert.equal(sync.prime([1], 99), false);
  assert.equal(sync.invalidate(1), false);
  assert.equal(sync.clear(), 0);
  assert.notEqual(sync(1), 99);
});
