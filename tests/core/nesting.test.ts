import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, openCacheScope, perRequestCache, runInCacheScope } from "../../mod.ts";

const request = { url: "/a" };

test("opening a scope for the same request joins it: one cache, dropped when the outermost ends", () => {
  let runs = 0;
  const count = perRequestCache(() => ++runs);
  const outer = openCacheScope(request);
  count();
  {
    using inner = openCacheScope(request);
    assert.equal(inner.id, outer.id);
    assert.equal(count(), 1);
  }
  assert.equal(outer.disposed, false);
  assert.equal(currentScope(), outer);
  assert.equal(count(), 1);
  assert.equal(outer.stats.entries, 1);
  outer[Symbol.dispose]();
  assert.equal(currentScope(), undefined);
  assert.equal(runs, 1);
});

test("inside a run context, a scope for another request is isolated and the outer one returns", () => {
  let runs = 0;
  const count = perRequestCache(() => ++runs);
  runInCacheScope(request, (outer) => {
    count();
    {
      using other = openCacheScope({ url: "/b" });
      assert.notEqual(other.id, outer.id);
      assert.equal(currentScope(), other);
      assert.equal(count(), 2);
    }
    {
      using none = openCacheScope();
      assert.equal(none.request, undefined);
      assert.equal(count(), 3);
    }
    assert.equal(currentScope(), outer);
    assert.equal(count(), 1);
  });
});

test("a scope for none inside an entered scope is isolated and the outer one returns", () => {
  let runs = 0;
  const count = perRequestCache(() => ++runs);
  using outer = openCacheScope(request);
  count();
  {
    using none = openCacheScope();
    assert.notEqual(none.id, outer.id);
    assert.equal(count(), 2);
  }
  assert.equal(currentScope(), outer);
  assert.equal(count(), 1);
});

test("runInCacheScope for the active request joins; for another request it is isolated", async () => {
  let runs = 0;
  const count = perRequestCache(() => ++runs);
  await runInCacheScope(request, async (outer) => {
    count();
    await runInCacheScope(request, async (joined) => {
      await delay(1);
      assert.equal(joined.id, outer.id);
      assert.equal(count(), 1);
    });
    assert.equal(outer.disposed, false);
    await runInCacheScope({ url: "/b" }, async (other) => {
      await delay(1);
      assert.notEqual(other.id, outer.id);
      assert.equal(count(), 2);
    });
    assert.equal(currentScope(), outer);
    assert.equal(count(), 1);
  });
});

test("concurrent branches of one request see the request's scope, also when they join it", async () => {
  let runs = 0;
  const count = perRequestCache(async (n: number) => {
    runs++;
    await delay(1);
    return n;
  });
  await runInCacheScope(request, async (scope) => {
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        using joined = openCacheScope(request);
        await delay(Math.random() * 3);
        assert.equal(joined.id, scope.id);
        assert.equal(currentScope(), scope);
        await count(i % 3);
      }),
    );
    assert.equal(scope.disposed, false);
    assert.equal(scope.stats.entries, 3);
  });
  assert.equal(runs, 3);
});

test("nested scopes in one run context may end out of order", () => {
  runInCacheScope(request, (outer) => {
    const first = openCacheScope({ url: "/first" });
    const second = openCacheScope({ url: "/second" });
    first[Symbol.dispose]();
    assert.equal(currentScope(), second);
    second[Symbol.dispose]();
    assert.equal(currentScope(), outer);
  });
});

test("Hono's c.req and its raw Request join one scope", () => {
  const raw = new Request("http://localhost/");
  const honoLike = { raw, path: "/" };
  runInCacheScope(honoLike, (scope) => {
    using joined = openCacheScope(raw);
    assert.equal(joined.id, scope.id);
  });
});
