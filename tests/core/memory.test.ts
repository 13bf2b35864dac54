/**
 * Memory: a long-lived process that serves request after request must not keep what ended
 * requests cached. Two checks: the retained heap after 100,000 scopes with 10 entries each
 * (measured after a full collection), and a structural one, that a disposed scope's request,
 * handle and entry values become collectable (FinalizationRegistry).
 *
 * `npm run soak` runs the long form (1,000,000 scopes) and prints the figures: see bench/soak.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openCacheScope, perRequestCache, runInCacheScope } from "../../mod.ts";
import { canCollectGarbage, collectGarbage, heapUsed, mib } from "./_heap.ts";

const noGc = canCollectGarbage ? false : "no way to run the garbage collector on this runtime";

class Users {
  /** A cached method: the instance is part of the key. */
  find = perRequestCache(function (this: Users, id: number) {
    return { id, name: `user ${id}` };
  });
}

const getUser = perRequestCache(async (id: number) => ({ id, name: `user ${id}` }));
const permissions = perRequestCache((userId: number, resource: string) => [userId, resource]);
const flags = perRequestCache(() => ({ beta: true }));
const byQuery = perRequestCache((query: { id: number }) => query.id * 2, {
  key: (query) => query.id,
});
const users = new Users();

/**
 * One request: 10 entries across every key shape (one argument, several, none, a receiver, a
 * custom key, a promise), half of them opened with `using`, half with `runInCacheScope`.
 */
async function serve(i: number, request: object = { i }): Promise<void> {
  const work = async () => {
    await Promise.all([getUser(i), getUser(i + 1), getUser(i)]); // the third is a hit
    permissions(i, "read");
    permissions(i, "write");
    permissions(i, "read"); // a hit
    flags();
    byQuery({ id: i });
    byQuery({ id: i + 1 });
    users.find(i);
    users.find(i + 1);
    users.find(i + 2);
  };
  if (i % 2 === 0) {
    await runInCacheScope(request, async (scope) => {
      await work();
      assert.equal(scope.stats.entries, 10);
    });
  } else {
    await null; // a request handler starts in a context of its own, as on node:http
    using scope = openCacheScope(request);
    await work();
    assert.equal(scope.stats.entries, 10);
  }
}

/** Serves `count` requests, `concurrency` at a time, numbered from `first`. */
async function serveMany(first: number, count: number, concurrency = 100): Promise<void> {
  for (let start = first; start < first + count; start += concurrency) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < start + concurrency && i < first + count; i++) batch.push(serve(i));
    await Promise.all(batch);
  }
}

test("100,000 scopes of 10 entries each, opened and disposed, retain less than 4 MiB", {
  skip: noGc,
  timeout: 60_000, // about 3 s alone; Bun's default of 5 s is too tight on a busy machine
}, async () => {
  await serveMany(0, 10_000); // warm up: compiled code, inline caches, ids
  await collectGarbage();
  const before = heapUsed();
  await serveMany(10_000, 100_000);
  await collectGarbage();
  const retained = heapUsed() - before;
  if (process.env.REQCACHE_PRINT_HEAP) console.log(`retained ${retained} bytes`);
  assert.ok(
    retained < 4 * 1024 * 1024,
    `the heap grew by ${mib(retained)} over 100,000 scopes (${
      Math.round(retained / 100_000)
    } bytes per scope)`,
  );
});

test("a disposed scope's request, handle and entry values become collectable", {
  skip: noGc,
}, async () => {
  const collected = new Set<string>();
  const registry = new FinalizationRegistry<string>((label) => collected.add(label));
  const load = perRequestCache((id: number) => {
    const value = { id };
    registry.register(value, `value ${id}`);
    return value;
  });
  const expected: string[] = [];
  // In a function of its own, so that no variable of the caller's frame holds the last request.
  async function openAndDispose(i: number): Promise<void> {
    const request = { i };
    registry.register(request, `request ${i}`);
    expected.push(`request ${i}`, `handle ${i}`, `value ${i}`);
    if (i % 2 === 0) {
      runInCacheScope(request, (scope) => {
        registry.register(scope, `handle ${i}`);
        load(i);
      });
    } else {
      await null;
      using scope = openCacheScope(request);
      registry.register(scope, `handle ${i}`);
      load(i);
      await null;
    }
  }
  for (let i = 0; i < 20; i++) await openAndDispose(i);
  for (let round = 0; round < 5 && collected.size < expected.length; round++) {
    await collectGarbage();
  }
  assert.deepEqual([...collected].sort(), expected.sort());
});
