/**
 * What the core publishes on `node:diagnostics_channel`: `reqcache:scope:start`,
 * `reqcache:scope:end`, `reqcache:call` and `reqcache:batch`, with the message shapes of
 * src/core/cache_channels.ts, subscribed to the way any user would (`subscribe(name, fn)`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type CacheCallMessage,
  type CacheScope,
  type CacheScopeEndMessage,
  type CacheScopeStartMessage,
  openCacheScope,
  perRequestBatch,
  perRequestCache,
  runInCacheScope,
} from "../../mod.ts";

const NAMES = ["reqcache:scope:start", "reqcache:scope:end", "reqcache:call", "reqcache:batch"];

/** Every message published on the package's channels while `fn` runs, as [channel, message]. */
async function recorded(fn: () => unknown): Promise<[string, Record<string, unknown>][]> {
  const messages: [string, Record<string, unknown>][] = [];
  const listener = (message: unknown, name: string | symbol) => {
    messages.push([String(name), message as Record<string, unknown>]);
  };
  for (const name of NAMES) diagnosticsChannel.subscribe(name, listener);
  try {
    await fn();
  } finally {
    for (const name of NAMES) diagnosticsChannel.unsubscribe(name, listener);
  }
  return messages;
}

/** A message without its result, for comparisons: [channel, outcome or "", function name]. */
function brief([channel, message]: [string, Record<string, unknown>]): string {
  const parts = [channel];
  if (typeof message.name === "string") parts.push(message.name);
  if (typeof message.outcome === "string") parts.push(message.outcome);
  return parts.join(" ");
}

test("a scope publishes its start, and its end with the stats from before its entries dropped", async () => {
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  let handle: CacheScope | undefined;
  const messages = await recorded(() =>
    runInCacheScope({ url: "/a" }, (scope) => {
      handle = scope;
      double(1);
      double(1);
      using joined = openCacheScope(scope.request); // a join opens no new scope
      assert.equal(joined.id, scope.id);
    })
  );
  assert.deepEqual(messages.map(brief), [
    "reqcache:scope:start",
    "reqcache:call double miss",
    "reqcache:call double hit",
    "reqcache:scope:end",
  ]);
  const start = messages[0][1] as unknown as CacheScopeStartMessage;
  assert.equal(start.scope, handle);
  const end = messages[3][1] as unknown as CacheScopeEndMessage;
  assert.equal(end.scope, handle);
  assert.equal(end.scope.disposed, true);
  assert.deepEqual(end.stats, {
    hits: 1,
    misses: 1,
    joins: 0,
    entries: 1,
    functions: [{ name: "double", hits: 1, misses: 1, joins: 0, entries: 1 }],
  });
  assert.ok(end.reason instanceof Error);
  assert.equal(end.reason.message, `cache scope ${handle!.id} ended: its function settled`);
});

test("the end message comes before the scope's onEnd listeners run", async () => {
  const order: string[] = [];
  const onEnd = () => order.push("channel");
  diagnosticsChannel.subscribe("reqcache:scope:end", onEnd);
  try {
    runInCacheScope(undefined, (scope) => scope.onEnd(() => order.push("onEnd")));
  } finally {
    diagnosticsChannel.unsubscribe("reqcache:scope:end", onEnd);
  }
  assert.deepEqual(order, ["channel", "onEnd"]);
});

test("a call publishes its function's name, its outcome and what it returned", async () => {
  const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
  let first: Promise<{ id: string }> | undefined;
  const messages = await recorded(() =>
    runInCacheScope({ url: "/" }, async () => {
      first = getUser("42");
      const second = getUser("42"); // in flight: a join
      await first;
      const third = getUser("42"); // settled: a hit
      assert.equal(second, first);
      assert.equal(third, first);
      await third;
    })
  );
  const calls = messages.filter(([channel]) => channel === "reqcache:call")
    .map(([, message]) => message as unknown as CacheCallMessage);
  assert.deepEqual(calls.map(({ name, outcome }) => `${name} ${outcome}`), [
    "getUser miss",
    "getUser join",
    "getUser hit",
  ]);
  for (const call of calls) assert.equal(call.result, first);
  const start = messages[0][1] as unknown as CacheScopeStartMessage;
  for (const call of calls) assert.equal(call.scope, start.scope);
});

test("a join is told from a hit only for a promise still in flight, rejected ones included", async () => {
  const fail = perRequestCache(async (n: number) => {
    await Promise.resolve();
    throw new Error(`no ${n}`);
  }, { name: "fail", cacheRejections: true });
  const messages = await recorded(() =>
    runInCacheScope({ url: "/" }, async () => {
      const pending = fail(1);
      await assert.rejects(fail(1), /no 1/);
      await assert.rejects(pending, /no 1/);
      await assert.rejects(fail(1), /no 1/); // settled (rejected) and kept: a hit
    })
  );
  assert.deepEqual(messages.map(brief).slice(1, -1), [
    "reqcache:call fail miss",
    "reqcache:call fail join",
    "reqcache:call fail hit",
  ]);
});

test("calls outside any scope, after their scope ended, or that throw publish nothing", async () => {
  const throws = perRequestCache((n: number): number => {
    throw new Error(`no ${n}`);
  }, { name: "throws" });
  const plain = perRequestCache((n: number) => n, { name: "plain" });
  let later: (() => number) | undefined;
  const messages = await recorded(() => {
    plain(1);
    runInCacheScope({ url: "/" }, () => {
      assert.throws(() => throws(1), /no 1/);
      later = () => plain(2);
    });
    later!(); // the scope has ended: uncached, unpublished
  });
  assert.deepEqual(messages.map(brief), ["reqcache:scope:start", "reqcache:scope:end"]);
});

test("a subscriber runs synchronously in the caller's async context", async () => {
  const requestName = new AsyncLocalStorage<string>();
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  const seen: string[] = [];
  const listener = (_message: unknown, name: string | symbol) => {
    seen.push(`${String(name)} in ${requestName.getStore()}`);
  };
  diagnosticsChannel.subscribe("reqcache:call", listener);
  diagnosticsChannel.subscribe("reqcache:scope:start", listener);
  try {
    await Promise.all(
      ["a", "b"].map((name) =>
        requestName.run(name, () =>
          runInCacheScope({ url: `/${name}` }, async () => {
            await Promise.resolve();
            double(1);
          }))
      ),
    );
  } finally {
    diagnosticsChannel.unsubscribe("reqcache:call", listener);
    diagnosticsChannel.unsubscribe("reqcache:scope:start", listener);
  }
  assert.deepEqual(seen.sort(), [
    "reqcache:call in a",
    "reqcache:call in b",
    "reqcache:scope:start in a",
    "reqcache:scope:start in b",
  ]);
});

test("a batched function publishes each batch with its size, split by maxBatchSize, and each load as a miss, join or hit", async () => {
  const getUser = perRequestBatch((ids: readonly number[]) => ids.map((id) => ({ id })), {
    name: "getUser",
    maxBatchSize: 2,
  });
  let handle: CacheScope | undefined;
  const loads: Promise<unknown>[] = [];
  const messages = await recorded(() =>
    runInCacheScope({ url: "/" }, async (scope) => {
      handle = scope;
      for (const id of [1, 2, 3, 1, 4, 5]) loads.push(getUser(id));
      await Promise.all(loads);
      loads.push(getUser(3));
      await loads[6];
    })
  );
  getUser(9); // outside any scope: a batch of one, published nowhere
  const seen = messages.filter(([channel]) => channel !== "reqcache:scope:end");
  assert.deepEqual(seen.map(brief), [
    "reqcache:scope:start",
    ...["miss", "miss", "miss", "join", "miss", "miss"].map((o) => `reqcache:call getUser ${o}`),
    "reqcache:batch getUser",
    "reqcache:batch getUser",
    "reqcache:batch getUser",
    "reqcache:call getUser hit",
  ]);
  const batches = seen.filter(([channel]) => channel === "reqcache:batch");
  assert.deepEqual(batches.map(([, batch]) => batch.size), [2, 2, 1]);
  for (const [, message] of seen) assert.equal(message.scope, handle);
  const calls = seen.filter(([channel]) => channel === "reqcache:call");
  // Each call's result is the promise the load returned: for a miss, the one its span ends on.
  calls.forEach(([, call], i) => assert.equal(call.result, loads[i]));
  assert.equal(loads[3], loads[0]);
});

test("nothing is published once every subscriber has left", async () => {
  const double = perRequestCache((n: number) => n * 2);
  const seen: unknown[] = [];
  const listener = (message: unknown) => seen.push(message);
  diagnosticsChannel.subscribe("reqcache:call", listener);
  diagnosticsChannel.unsubscribe("reqcache:call", listener);
  runInCacheScope(undefined, () => double(1));
  assert.equal(diagnosticsChannel.hasSubscribers("reqcache:call"), false);
  assert.deepEqual(seen, []);
});
