/**
 * The two TracingChannels the core publishes, `reqcache:compute` (a miss's call of the cached
 * function) and `reqcache:dispatch` (a batch function's call), event by event, subscribed to as
 * any user would (`diagnostics_channel.tracingChannel(name).subscribe({...})`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type CacheComputeMessage,
  type CacheDispatchMessage,
  type CacheScope,
  perRequestBatch,
  perRequestCache,
  runInCacheScope,
} from "../../mod.ts";

const EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"] as const;

interface Recorded {
  /** Each event as "event name", with the fields it carried then: " result=…", " error=…". */
  readonly events: string[];
  /** The message of each event, in order. */
  readonly messages: object[];
}

/** Every event of the TracingChannel `name` while `fn` runs (and its promise settles). */
async function traced(name: string, fn: () => unknown): Promise<Recorded> {
  const recorded: Recorded = { events: [], messages: [] };
  const channel = diagnosticsChannel.tracingChannel(name);
  const handlers = Object.fromEntries(EVENTS.map((event) => [event, (message: unknown) => {
    const { name, result, error } = message as { name: string; result?: unknown; error?: unknown };
    let line = `${event} ${name}`;
    if ("result" in (message as object)) line += ` result=${shown(result)}`;
    if ("error" in (message as object)) line += ` error=${(error as Error).message}`;
    recorded.events.push(line);
    recorded.messages.push(message as object);
  }]));
  channel.subscribe(handlers);
  try {
    await fn();
  } finally {
    channel.unsubscribe(handlers);
  }
  return recorded;
}

function shown(value: unknown): string {
  return value instanceof Promise ? "a promise" : JSON.stringify(value);
}

test("a miss that returns a promise publishes start and end, then asyncStart and asyncEnd with its result", async () => {
  const getUser = perRequestCache(async (id: string) => {
    await Promise.resolve();
    return { id };
  }, { name: "getUser" });
  let handle: CacheScope | undefined;
  const { events, messages } = await traced(
    "reqcache:compute",
    () =>
      runInCacheScope({ url: "/" }, async (scope) => {
        handle = scope;
        const first = getUser("1");
        const joined = getUser("1"); // in flight: a join, not traced
        assert.equal(joined, first);
        await first;
        await getUser("1"); // a hit: not traced
      }),
  );
  assert.deepEqual(events, [
    "start getUser",
    "end getUser",
    'asyncStart getUser result={"id":"1"}',
    'asyncEnd getUser result={"id":"1"}',
  ]);
  // One message object travels through the four events of the call.
  assert.equal(new Set(messages).size, 1);
  assert.equal((messages[0] as CacheComputeMessage).scope, handle);
});

test("a synchronous miss publishes start, then end with its result; a hit publishes nothing", async () => {
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  const { events } = await traced("reqcache:compute", () =>
    runInCacheScope({ url: "/" }, () => {
      assert.equal(double(21), 42);
      assert.equal(double(21), 42);
      assert.equal(double(1), 2);
    }));
  assert.deepEqual(events, [
    "start double",
    "end double result=42",
    "start double",
    "end double result=2",
  ]);
});

test("a rejected miss publishes error with the reason, then asyncStart and asyncEnd; the caller's promise rejects the same", async () => {
  const failing = perRequestCache(async (id: string): Promise<never> => {
    await Promise.resolve();
    throw new RangeError(`no user ${id}`);
  }, { name: "failing" });
  const { events } = await traced(
    "reqcache:compute",
    () =>
      runInCacheScope({ url: "/" }, async () => {
        await assert.rejects(failing("7"), { name: "RangeError", message: "no user 7" });
      }),
  );
  assert.deepEqual(events, [
    "start failing",
    "end failing",
    "error failing error=no user 7",
    "asyncStart failing error=no user 7",
    "asyncEnd failing error=no user 7",
  ]);
});

test("a miss that throws publishes start, error, then end, and is not stored", async () => {
  let runs = 0;
  const throws = perRequestCache((n: number): number => {
    runs++;
    throw new TypeError(`bad ${n}`);
  }, { name: "throws" });
  const { events } = await traced("reqcache:compute", () =>
    runInCacheScope({ url: "/" }, () => {
      assert.throws(() => throws(1), { name: "TypeError", message: "bad 1" });
      assert.throws(() => throws(1), { name: "TypeError", message: "bad 1" });
    }));
  assert.equal(runs, 2);
  assert.deepEqual(events, [
    "start throws",
    "error throws error=bad 1",
    "end throws error=bad 1",
    "start throws",
    "error throws error=bad 1",
    "end throws error=bad 1",
  ]);
});

test("the cached function runs inside the stores bound to start, and sees them after an await", async () => {
  const store = new AsyncLocalStorage<{ in: string }>();
  const channel = diagnosticsChannel.tracingChannel("reqcache:compute");
  channel.start.bindStore(store, (message) => ({ in: (message as CacheComputeMessage).name }));
  const seen: (string | undefined)[] = [];
  const getUser = perRequestCache(async (id: string) => {
    seen.push(store.getStore()?.in);
    await new Promise((resolve) => setTimeout(resolve, 1));
    seen.push(store.getStore()?.in);
    return { id };
  }, { name: "getUser" });
  try {
    await runInCacheScope({ url: "/" }, async () => {
      await getUser("1");
      seen.push(store.getStore()?.in); // the caller's context is its own again
    });
  } finally {
    channel.start.unbindStore(store);
  }
  assert.deepEqual(seen, ["getUser", "getUser", undefined]);
});

test("calls outside any scope, and with nobody subscribed, are not traced and return the function's own promise", async () => {
  const promise = Promise.resolve(1);
  const same = perRequestCache(() => promise, { name: "same" });
  const { events } = await traced("reqcache:compute", () => {
    assert.equal(same(), promise); // no scope: called through
  });
  assert.deepEqual(events, []);
  runInCacheScope({ url: "/" }, () => assert.equal(same(), promise)); // nobody subscribed
});

test("a batch publishes start with the keys sent, end, then asyncStart and asyncEnd with the values, once per maxBatchSize slice", async () => {
  const received: unknown[][] = [];
  const getUsers = perRequestBatch(async (ids: readonly number[]) => {
    received.push([...ids]);
    return ids.map((id) => ({ id }));
  }, { name: "getUsers", maxBatchSize: 2 });
  let handle: CacheScope | undefined;
  const { events, messages } = await traced(
    "reqcache:dispatch",
    () =>
      runInCacheScope({ url: "/" }, async (scope) => {
        handle = scope;
        await Promise.all([1, 2, 3, 1].map((id) => getUsers(id)));
        await getUsers(2); // a hit: no batch
      }),
  );
  assert.deepEqual(received, [[1, 2], [3]]);
  assert.deepEqual(events, [
    "start getUsers",
    "end getUsers",
    "start getUsers",
    "end getUsers",
    'asyncStart getUsers result=[{"id":1},{"id":2}]',
    'asyncEnd getUsers result=[{"id":1},{"id":2}]',
    'asyncStart getUsers result=[{"id":3}]',
    'asyncEnd getUsers result=[{"id":3}]',
  ]);
  const [first, second] = [messages[0], messages[2]] as CacheDispatchMessage[];
  assert.deepEqual([first.keys, second.keys], [[1, 2], [3]]);
  for (const message of messages) assert.equal((message as CacheDispatchMessage).scope, handle);
});

test("a batch function that rejects publishes error with the reason, and every load rejects with it as cause", async () => {
  const reason = new Error("database down");
  const getUsers = perRequestBatch(async (_ids: readonly number[]): Promise<number[]> => {
    await Promise.resolve();
    throw reason;
  }, { name: "getUsers" });
  const { events } = await traced(
    "reqcache:dispatch",
    () =>
      runInCacheScope({ url: "/" }, async () => {
        const loads = [getUsers(1), getUsers(2)];
        for (const load of loads) {
          await assert.rejects(load, (error: Error) => error.cause === reason);
        }
      }),
  );
  assert.deepEqual(events, [
    "start getUsers",
    "end getUsers",
    "error getUsers error=database down",
    "asyncStart getUsers error=database down",
    "asyncEnd getUsers error=database down",
  ]);
});

test("a synchronous batch function publishes start and end with the values it returned", async () => {
  const getNames = perRequestBatch((ids: readonly number[]) => ids.map((id) => `user ${id}`), {
    name: "getNames",
  });
  const { events } = await traced(
    "reqcache:dispatch",
    () =>
      runInCacheScope({ url: "/" }, async () => {
        assert.deepEqual(await getNames.many([1, 2]), ["user 1", "user 2"]);
      }),
  );
  assert.deepEqual(events, ["start getNames", 'end getNames result=["user 1","user 2"]']);
});

test("a batch outside any scope publishes nothing", async () => {
  const getNames = perRequestBatch((ids: readonly number[]) => ids.map(String), { name: "names" });
  const { events } = await traced("reqcache:dispatch", () => getNames(1));
  assert.deepEqual(events, []);
});
