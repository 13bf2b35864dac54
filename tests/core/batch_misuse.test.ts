/** Every misuse message of `perRequestBatch`, word for word. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestBatch, runInCacheScope } from "../../mod.ts";

const create = (batchFn: unknown, options?: unknown) =>
  perRequestBatch(batchFn as () => [], options as Record<string, never>);
const ok = (keys: readonly unknown[]) => [...keys];

test("perRequestBatch names a batchFn that is not a function", () => {
  assert.throws(() => create(undefined), {
    name: "TypeError",
    message: "Cannot create a per-request batch: batchFn must be a function, received undefined",
  });
  assert.throws(() => create("usersByIds"), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: batchFn must be a function, received the string "usersByIds"',
  });
});

test("maxBatchSize must be a positive integer or Infinity", () => {
  for (const bad of [0, -1, 2.5, NaN]) {
    assert.throws(() => create(ok, { maxBatchSize: bad }), {
      name: "RangeError",
      message:
        `Cannot create a per-request batch: maxBatchSize must be a positive integer or Infinity, received ${bad}`,
    });
  }
  assert.throws(() => create(ok, { maxBatchSize: "100" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: maxBatchSize must be a number, received the string "100"',
  });
  create(ok, { maxBatchSize: Infinity });
  create(ok, { maxBatchSize: 1 });
});

test("batch options are checked by name and type", () => {
  assert.throws(() => create(ok, { maxEntries: 10 }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: unknown option "maxEntries"; the options are maxBatchSize, schedule, cache, key, cacheRejections, tags, outsideScope, name',
  });
  assert.throws(() => create(ok, 100), {
    name: "TypeError",
    message: "Cannot create a per-request batch: options must be an object, received number 100",
  });
  assert.throws(() => create(ok, { key: "id" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: key must be a function of the load key, received the string "id"',
  });
  assert.throws(() => create(ok, { cacheRejections: 1 }), {
    name: "TypeError",
    message:
      "Cannot create a per-request batch: cacheRejections must be a boolean or a predicate of the error, received number 1",
  });
  assert.throws(() => create(ok, { tags: "user" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: tags must be a function of the load key that returns an array of strings, received the string "user"',
  });
  assert.throws(() => create(ok, { outsideScope: "ignore" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: outsideScope must be "run", "warn" or "throw", received the string "ignore"',
  });
  assert.throws(() => create(ok, { name: "" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: name must be a non-empty string, received the string ""',
  });
});

test("schedule must be a function and cache a boolean", () => {
  assert.throws(() => create(ok, { schedule: 5 }), {
    name: "TypeError",
    message:
      "Cannot create a per-request batch: schedule must be a function that calls dispatch, received number 5",
  });
  assert.throws(() => create(ok, { schedule: "nextTick" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request batch: schedule must be a function that calls dispatch, received the string "nextTick"',
  });
  for (const [bad, shown] of [[0, "number 0"], ["false", 'the string "false"'], [null, "null"]]) {
    assert.throws(() => create(ok, { cache: bad }), {
      name: "TypeError",
      message: `Cannot create a per-request batch: cache must be a boolean, received ${shown}`,
    });
  }
  create(ok, { schedule: (dispatch: () => void) => dispatch(), cache: false });
  create(ok, { cache: true, tags: () => [], cacheRejections: true });
});

test("cache: false refuses tags and cacheRejections, which would have nothing to act on", () => {
  assert.throws(() => create(ok, { cache: false, tags: () => ["user"] }), {
    name: "TypeError",
    message:
      "Cannot create a per-request batch: tags has no effect with cache false (no entry is kept for invalidateTags to drop), received a function",
  });
  assert.throws(() => create(ok, { cache: false, cacheRejections: true }), {
    name: "TypeError",
    message:
      "Cannot create a per-request batch: cacheRejections has no effect with cache false (no entry is kept, rejected or not), received boolean true",
  });
  assert.throws(() => create(ok, { cache: false, cacheRejections: () => true }), {
    name: "TypeError",
    message:
      "Cannot create a per-request batch: cacheRejections has no effect with cache false (no entry is kept, rejected or not), received a function",
  });
  create(ok, { cache: false, cacheRejections: false });
});

test("many() names keys that are not an array", () => {
  const fn = perRequestBatch(ok, { name: "getUser" });
  for (const run of [(f: () => unknown) => f(), (f: () => unknown) => runInCacheScope({}, f)]) {
    run(() =>
      assert.throws(() => fn.many("1,2" as never), {
        name: "TypeError",
        message:
          'Cannot load many keys of getUser: keys must be an array, received the string "1,2"',
      })
    );
  }
});

test("an unnamed batch function is named after itself, or anonymous", async () => {
  async function usersByIds(keys: readonly number[]) {
    return keys.map(() => undefined);
  }
  const named = perRequestBatch(usersByIds);
  assert.equal(named.name, "usersByIds");
  // An arrow function inside an array literal gets no name from the language.
  const anonymous = perRequestBatch([(keys: readonly number[]) => keys][0]);
  assert.equal(anonymous.name, "anonymous");
  await runInCacheScope({}, async (scope) => {
    await named(1);
    assert.equal(scope.stats.functions[0].name, "usersByIds");
  });
});

test("a load whose tags are not an array of strings rejects, naming the function, and stores nothing", async () => {
  const fn = perRequestBatch(ok, {
    name: "getUser",
    tags: (id: number) => (id === 1 ? "user:1" : [`user:${id}`, id]) as never,
  });
  await runInCacheScope({}, async (scope) => {
    await assert.rejects(fn(1), {
      name: "TypeError",
      message:
        'Cannot call getUser: its tags option must return an array of strings, received the string "user:1"; nothing was stored',
    });
    await assert.rejects(fn(2), {
      name: "TypeError",
      message:
        "Cannot call getUser: its tags option must return an array of strings, received an array holding number 2; nothing was stored",
    });
    assert.equal(scope.stats.entries, 0);
    assert.equal(scope.stats.misses, 0);
  });
});

test('a load outside any scope with outsideScope "throw" throws, naming the function and the fix', () => {
  const fn = perRequestBatch(ok, { name: "getUser", outsideScope: "throw" });
  const message =
    'Cannot call getUser: no cache scope is open, and outsideScope is "throw"; wrap the handler with withCacheScope(handler) or withListenerCacheScope(listener), add the cacheScope() middleware, or make the call inside runInCacheScope(request, fn)';
  assert.throws(() => fn(1), { name: "TypeError", message });
  assert.throws(() => fn.many([1, 2]), { name: "TypeError", message });
});
