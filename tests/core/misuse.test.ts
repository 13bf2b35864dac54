import { test } from "node:test";
import assert from "node:assert/strict";
import {
  configureCache,
  type ConfigureCacheOptions,
  invalidateTags,
  openCacheScope,
  perRequestCache,
  runInCacheScope,
} from "../../mod.ts";

const create = (fn: unknown, options?: unknown) =>
  perRequestCache(fn as () => unknown, options as Record<string, never>);

test("perRequestCache names a non-function", () => {
  assert.throws(() => create(42), {
    name: "TypeError",
    message: "Cannot create a per-request cache: fn must be a function, received number 42",
  });
  assert.throws(() => create("getUser"), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: fn must be a function, received the string "getUser"',
  });
});

test("maxEntries must be a positive integer or Infinity", () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => create(() => 1, { maxEntries: bad }), {
      name: "RangeError",
      message:
        `Cannot create a per-request cache: maxEntries must be a positive integer or Infinity, received ${bad}`,
    });
  }
  assert.throws(() => create(() => 1, { maxEntries: "10" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: maxEntries must be a number, received the string "10"',
  });
  create(() => 1, { maxEntries: Infinity });
  create(() => 1, { maxEntries: 1 });
});

test("options are checked by name and type", () => {
  assert.throws(() => create(() => 1, { maxEntry: 10 }), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: unknown option "maxEntry"; the options are key, maxEntries, cacheRejections, tags, outsideScope, name',
  });
  assert.throws(() => create(() => 1, "fast"), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: options must be an object, received the string "fast"',
  });
  assert.throws(() => create(() => 1, { key: "id" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: key must be a function of the arguments, received the string "id"',
  });
  assert.throws(() => create(() => 1, { cacheRejections: "yes" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: cacheRejections must be a boolean or a predicate of the error, received the string "yes"',
  });
  assert.throws(() => create(() => 1, { name: "" }), {
    name: "TypeError",
    message:
      'Cannot create a per-request cache: name must be a non-empty string, received the string ""',
  });
});

test("a key function that throws surfaces its error and stores nothing", () => {
  let runs = 0;
  const fn = perRequestCache((_o: { id?: number }) => ++runs, {
    key: (o) => {
      if (o.id === undefined) throw new TypeError("id is required");
      return o.id;
    },
  });
  runInCacheScope({}, (scope) => {
    assert.throws(() => fn({}), { name: "TypeError", message: "id is required" });
    assert.equal(scope.stats.entries, 0);
    assert.equal(runs, 0);
  });
});

test("openCacheScope and runInCacheScope name a request that is not an object", () => {
  assert.throws(() => openCacheScope("/users" as unknown as object), {
    name: "TypeError",
    message:
      'Cannot open a cache scope: request must be an object (the incoming request) or undefined, received the string "/users"',
  });
  assert.throws(() => runInCacheScope(null as unknown as object, () => 1), {
    name: "TypeError",
    message:
      "Cannot run in a cache scope: request must be an object (the incoming request) or undefined, received null",
  });
  assert.throws(() => runInCacheScope({}, "run" as unknown as () => void), {
    name: "TypeError",
    message: 'Cannot run in a cache scope: fn must be a function, received the string "run"',
  });
});

test("prime names arguments that are not an array", () => {
  const fn = perRequestCache((id: string) => id, { name: "getUser" });
  assert.throws(() => fn.prime("42" as unknown as [string], "x"), {
    name: "TypeError",
    message: 'Cannot prime getUser: args must be the array of arguments, received the string "42"',
  });
});

test("the decorator refuses what is not a method", () => {
  const context = { kind: "getter", name: "total", addInitializer() {} };
  assert.throws(
    () => perRequestCache(() => 1, context as unknown as ClassMethodDecoratorContext),
    {
      name: "TypeError",
      message:
        "Cannot decorate total with @perRequestCache: it is a getter, and only methods can be cached",
    },
  );
});

test("tags must be a function, and outsideScope one of its three values", () => {
  assert.throws(() => create(() => 1, { tags: ["user:1"] }), {
    name: "TypeError",
    message:
      "Cannot create a per-request cache: tags must be a function of the arguments that returns an array of strings, received an object",
  });
  for (const [bad, shown] of [["strict", 'the string "strict"'], [true, "boolean true"]]) {
    assert.throws(() => create(() => 1, { outsideScope: bad }), {
      name: "TypeError",
      message:
        `Cannot create a per-request cache: outsideScope must be "run", "warn" or "throw", received ${shown}`,
    });
  }
  assert.throws(() => create(() => 1, { cacheRejections: 1 }), {
    name: "TypeError",
    message:
      "Cannot create a per-request cache: cacheRejections must be a boolean or a predicate of the error, received number 1",
  });
});

test("configureCache checks its options by name and value", () => {
  const configure = (options: unknown) => configureCache(options as ConfigureCacheOptions);
  assert.throws(() => configure({ outsideScopes: "throw" }), {
    name: "TypeError",
    message:
      'Cannot configure the cache: unknown option "outsideScopes"; the options are outsideScope',
  });
  assert.throws(() => configure({ outsideScope: "error" }), {
    name: "TypeError",
    message:
      'Cannot configure the cache: outsideScope must be "run", "warn" or "throw", received the string "error"',
  });
  assert.throws(() => configure(undefined), {
    name: "TypeError",
    message: "Cannot configure the cache: options must be an object, received undefined",
  });
});

test("invalidateTags names a tag that is not a string", () => {
  const invalidate = (...tags: unknown[]) => invalidateTags(...(tags as string[]));
  assert.throws(() => invalidate("user:1", 42), {
    name: "TypeError",
    message: "Cannot invalidate tags: tag 2 must be a string, received number 42",
  });
  assert.throws(() => runInCacheScope({}, () => invalidate(["user:1"])), {
    name: "TypeError",
    message: "Cannot invalidate tags: tag 1 must be a string, received an object",
  });
});

test("waitUntil names what is not a promise, and a scope that has ended", () => {
  runInCacheScope({ url: "/" }, (scope) => {
    for (
      const [bad, described] of [[42, "number 42"], [undefined, "undefined"], [{}, "an object"]]
    ) {
      assert.throws(() => scope.waitUntil(bad as never), {
        name: "TypeError",
        message:
          `Cannot keep cache scope ${scope.id} open: waitUntil takes a promise or thenable, received ${described}`,
      });
    }
  });
  const ended = runInCacheScope({ url: "/" }, (scope) => scope);
  assert.throws(() => ended.waitUntil(Promise.resolve()), {
    name: "TypeError",
    message:
      `Cannot keep cache scope ${ended.id} open: it has ended (cache scope ${ended.id} ended: its function settled), and the work would run uncached; call waitUntil before the response is sent`,
  });
});
