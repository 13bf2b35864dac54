/**
 * `cacheSignal()`, `scope.signal` and `scope.waitUntil` in one thread: the signal aborts exactly
 * when the scope ends, with a reason that names the scope and why; `waitUntil` keeps a scope,
 * its entries and its signal alive until its promises settle; neither leaves a listener or a
 * timer behind, nor grows the heap, over 10,000 scopes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cacheSignal,
  currentScope,
  openCacheScope,
  perRequestCache,
  runInCacheScope,
  withCacheScope,
} from "../../mod.ts";
import { canCollectGarbage, collectGarbage, heapUsed, mib } from "./_heap.ts";
import { countListenersAndTimers } from "./_live_handles.ts";

const noGc = canCollectGarbage ? false : "no way to run the garbage collector on this runtime";
const REASON = /^cache scope [0-9a-f]{8}-[0-9a-z]+ ended: /;

test("cacheSignal() is undefined outside a scope and in code that outlived its scope", async () => {
  assert.equal(cacheSignal(), undefined);
  let late: Promise<AbortSignal | undefined> | undefined;
  runInCacheScope({ url: "/" }, () => {
    late = new Promise((resolve) => setTimeout(() => resolve(cacheSignal()), 1));
  });
  assert.equal(await late, undefined);
});

test("cacheSignal() is the current scope's signal, one object per scope, and a joined handle shares it", () => {
  runInCacheScope({ url: "/" }, (scope) => {
    const signal = cacheSignal()!;
    assert.ok(signal instanceof AbortSignal);
    assert.equal(signal, scope.signal);
    assert.equal(cacheSignal(), signal);
    assert.equal(signal.aborted, false);
    {
      using joined = openCacheScope(scope.request);
      assert.equal(joined.signal, signal);
    }
    assert.equal(signal.aborted, false, "a joined handle's disposal does not end the scope");
    runInCacheScope({ url: "/other" }, (inner) => {
      assert.notEqual(cacheSignal(), signal);
      assert.equal(cacheSignal(), inner.signal);
    });
    assert.equal(cacheSignal(), signal);
  });
});

test("the signal aborts when the scope ends, with an AbortError naming the scope and why", async () => {
  const settled = runInCacheScope({ url: "/" }, (scope) => scope.signal);
  assert.equal(settled.aborted, true);
  assert.ok(settled.reason instanceof Error);
  assert.equal(settled.reason.name, "AbortError");
  assert.match(settled.reason.message, REASON);
  assert.match(settled.reason.message, / ended: its function settled$/);

  const rejected = Promise.withResolvers<AbortSignal>();
  await assert.rejects(
    runInCacheScope({ url: "/" }, async (scope) => {
      rejected.resolve(scope.signal);
      await null;
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.match((await rejected.promise).reason.message, / ended: its function settled$/);

  let id = "";
  let signal: AbortSignal;
  const seen: string[] = [];
  {
    using scope = openCacheScope({ url: "/" });
    id = scope.id;
    signal = cacheSignal()!;
    signal.addEventListener("abort", () => seen.push(`aborted, ended: ${scope.disposed}`));
    scope.onEnd(() => seen.push("end listener"));
  }
  assert.deepEqual(seen, ["aborted, ended: true", "end listener"], "the signal aborts first");
  assert.equal(signal.reason.message, `cache scope ${id} ended: its last handle was disposed`);
});

test("an ended scope's signal, first read after the end, is already aborted with its reason", () => {
  const handle = runInCacheScope({ url: "/" }, (scope) => scope);
  assert.equal(handle.signal.aborted, true);
  assert.equal(
    handle.signal.reason.message,
    `cache scope ${handle.id} ended: its function settled`,
  );
  assert.equal(handle.signal.reason, handle.signal.reason, "the reason is made once");
});

test("a fetch given the signal rejects with the scope's reason once the scope ends", async () => {
  let signal!: AbortSignal;
  runInCacheScope({ url: "/" }, (scope) => {
    signal = scope.signal;
  });
  await assert.rejects(fetch("http://127.0.0.1:9/", { signal }), (error: Error) => {
    assert.equal(error, signal.reason);
    return true;
  });
});

test("waitUntil keeps the scope, its entries and its signal after the function settled, and ends it when the promise settles", async () => {
  let runs = 0;
  const load = perRequestCache(async (id: string) => ({ id, run: ++runs }));
  const work = Promise.withResolvers<void>();
  let scope!: ReturnType<typeof currentScope> & object;
  let afterwards: Promise<unknown> | undefined;
  const first = await runInCacheScope({ url: "/" }, async (handle) => {
    scope = handle;
    const value = await load("a");
    handle.waitUntil(work.promise);
    afterwards = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return [currentScope() === handle, cacheSignal()?.aborted, await load("a")];
    })();
    return value;
  });
  assert.deepEqual(await afterwards, [true, false, first], "after the response: same cache");
  assert.equal(runs, 1);
  assert.equal(scope.stats.entries, 1);
  assert.equal(scope.signal.aborted, false);
  work.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(scope.signal.aborted, true);
  assert.equal(scope.stats.entries, 0);
  assert.equal(
    scope.signal.reason.message,
    `cache scope ${scope.id} ended: its waitUntil work settled`,
  );
});

test("several waitUntil promises: the scope ends after the last, and a rejection is reported with the scope's id, never unhandled", async () => {
  const errors: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const a = Promise.withResolvers<void>();
    const b = Promise.withResolvers<void>();
    const scope = runInCacheScope({ url: "/" }, (scope) => {
      scope.waitUntil(a.promise);
      const thenable = { then: (resolve: () => void) => void b.promise.then(resolve) };
      scope.waitUntil(thenable as unknown as PromiseLike<void>);
      return scope;
    });
    a.reject(new Error("audit failed"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(scope.signal.aborted, false);
    assert.equal(errors.length, 1);
    assert.equal(
      errors[0][0],
      `@reqcache/core: a waitUntil promise of cache scope ${scope.id} rejected`,
    );
    assert.match(String(errors[0][1]), /audit failed/);
    b.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(scope.signal.aborted, true);
    assert.deepEqual(unhandled, []);
  } finally {
    console.error = original;
    process.off("unhandledRejection", onUnhandled);
  }
});

test("a waitUntil inside a withCacheScope handler keeps the request's entries after the response, and drops them when it settles", async () => {
  let runs = 0;
  const load = perRequestCache(async (id: string) => ({ id, run: ++runs }));
  const done = Promise.withResolvers<void>();
  const seen: unknown[] = [];
  let scope!: NonNullable<ReturnType<typeof currentScope>>;
  const handler = withCacheScope(async (_request: Request) => {
    scope = currentScope()!;
    const user = await load("42");
    const audit = (async () => {
      await done.promise;
      seen.push((await load("42")) === user);
    })();
    scope.waitUntil(audit);
    return Response.json(user);
  });
  const response = await handler(new Request("http://localhost/"));
  assert.deepEqual(await response.json(), { id: "42", run: 1 });
  assert.equal(scope.stats.entries, 1, "the body was sent, the scope is still alive");
  done.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(seen, [true]);
  assert.equal(runs, 1);
  assert.equal(scope.stats.entries, 0);
  assert.match(scope.signal.reason.message, / ended: its waitUntil work settled$/);
});

test("10,000 scopes that read their signal and wait for work leave no listener and no timer behind", async () => {
  const live = countListenersAndTimers();
  try {
    for (let i = 0; i < 10_000; i++) {
      const signal = new AbortController().signal;
      live.track(signal);
      await withCacheScope(async (request: { url: string; signal: AbortSignal }) => {
        cacheSignal()!.addEventListener("abort", () => {}, { once: true });
        currentScope()!.waitUntil(new Promise((resolve) => setTimeout(resolve, 0)));
        return new Response(request.url);
      })({ url: `/${i}`, signal });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(live.counts(), { listeners: 0, timers: 0 });
  } finally {
    live[Symbol.dispose]();
  }
});

test("10,000 scopes with waitUntil and a signal leave the heap flat", {
  skip: noGc,
  timeout: 60_000,
}, async () => {
  const load = perRequestCache(async (i: number) => ({ i, payload: new Array(8).fill(i) }));
  const serve = async (first: number, count: number) => {
    for (let start = first; start < first + count; start += 100) {
      const batch: Promise<unknown>[] = [];
      for (let i = start; i < start + 100; i++) {
        const work = Promise.withResolvers<void>();
        batch.push(
          runInCacheScope({ i }, async (scope) => {
            await load(i);
            scope.signal.addEventListener("abort", () => {});
            scope.waitUntil(work.promise.then(() => load(i)));
          }),
          new Promise((resolve) => setTimeout(resolve, 0)).then(() => work.resolve()),
        );
      }
      await Promise.all(batch);
    }
  };
  await serve(0, 2_000);
  await collectGarbage();
  const before = heapUsed();
  await serve(2_000, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await collectGarbage();
  const retained = heapUsed() - before;
  assert.ok(retained < 2 * 1024 * 1024, `the heap grew by ${mib(retained)} over 10,000 scopes`);
});
