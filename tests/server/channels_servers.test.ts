/**
 * The diagnostics channels under load on real servers: 100 requests at once through
 * `withCacheScope` on the runtime's own server, Hono's `cacheScope()`, and
 * `withListenerCacheScope` on `node:http`. Every message must name the request it came from,
 * and the counts must be exact: one start and one end per request, and each call once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Hono } from "hono";
import {
  type CacheCallMessage,
  type CacheScopeEndMessage,
  type CacheScopeStartMessage,
  perRequestCache,
  withCacheScope,
  withListenerCacheScope,
} from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import { driveLoad } from "./_load.ts";
import { tokenOf } from "./_isolation_workload.ts";
import {
  eventually,
  type Listening,
  listenNodeHttp,
  nativeFetchServer,
  serveFetch,
} from "./_servers.ts";

const REQUESTS = 100;

/** Each request: an async miss, a join on it, a hit, then a sync miss and its hit. */
function workload() {
  const getUser = perRequestCache(async (token: string) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { token };
  }, { name: "getUser" });
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  return async (token: string): Promise<string> => {
    const [a, b] = await Promise.all([getUser(token), getUser(token)]);
    const c = await getUser(token);
    double(1);
    double(1);
    return a === b && b === c ? a.token : "<not shared>";
  };
}

/** What the channels said, per request token. */
interface Seen {
  starts: string[];
  ends: string[];
  calls: string[];
  problems: string[];
}

async function recordLoad(serve: (work: (token: string) => Promise<string>) => Promise<Listening>) {
  const seen: Seen = { starts: [], ends: [], calls: [], problems: [] };
  const onStart = (message: unknown) => {
    seen.starts.push(tokenOf((message as CacheScopeStartMessage).scope.request));
  };
  const onEnd = (message: unknown) => {
    const { scope, stats, reason } = message as CacheScopeEndMessage;
    const token = tokenOf(scope.request);
    seen.ends.push(token);
    if (stats.hits !== 2 || stats.joins !== 1 || stats.misses !== 2 || stats.entries !== 2) {
      seen.problems.push(`${token} ended with ${JSON.stringify(stats)}`);
    }
    if (!(reason instanceof Error) || !reason.message.includes(scope.id)) {
      seen.problems.push(`${token} ended for ${String(reason)}`);
    }
  };
  const onCall = (message: unknown) => {
    const { scope, name, outcome, result } = message as CacheCallMessage;
    const token = tokenOf(scope.request);
    seen.calls.push(`${name} ${outcome}`);
    if (name === "getUser") {
      void (result as Promise<{ token: string }>).then((user) => {
        if (user.token !== token) seen.problems.push(`${token} was given ${user.token}'s user`);
      });
    }
  };
  diagnosticsChannel.subscribe("reqcache:scope:start", onStart);
  diagnosticsChannel.subscribe("reqcache:scope:end", onEnd);
  diagnosticsChannel.subscribe("reqcache:call", onCall);
  try {
    await using server = await serve(workload());
    const run = crypto.randomUUID().slice(0, 8);
    const bodies = await driveLoad(async (i, signal) => {
      const response = await fetch(server.url, { headers: { "x-token": `${run}-${i}` }, signal });
      return await response.text();
    }, { total: REQUESTS, concurrency: REQUESTS, deadline: 60_000 });
    bodies.forEach((body, i) => assert.equal(body, `${run}-${i}`));
    await eventually(() => seen.ends.length >= REQUESTS, "every scope has ended", 10_000);
    const tokens = bodies.sort();
    assert.deepEqual(seen.starts.sort(), tokens);
    assert.deepEqual(seen.ends.sort(), tokens);
  } finally {
    diagnosticsChannel.unsubscribe("reqcache:scope:start", onStart);
    diagnosticsChannel.unsubscribe("reqcache:scope:end", onEnd);
    diagnosticsChannel.unsubscribe("reqcache:call", onCall);
  }
  const counts: Record<string, number> = {};
  for (const call of seen.calls) counts[call] = (counts[call] ?? 0) + 1;
  assert.deepEqual(counts, {
    "getUser miss": REQUESTS,
    "getUser join": REQUESTS,
    "getUser hit": REQUESTS,
    "double miss": REQUESTS,
    "double hit": REQUESTS,
  });
  await Promise.resolve(); // the last result checks run on settled promises
  assert.deepEqual(seen.problems.slice(0, 5), []);
}

const timeout = { timeout: 120_000 };

test(
  `withCacheScope on ${nativeFetchServer}: exact channel counts for ${REQUESTS} concurrent requests`,
  timeout,
  () =>
    recordLoad((work) =>
      serveFetch(
        nativeFetchServer,
        withCacheScope(async (request: Request) =>
          new Response(await work(request.headers.get("x-token")!))
        ),
      )
    ),
);

test(
  `Hono cacheScope() on ${nativeFetchServer}: exact channel counts for ${REQUESTS} concurrent requests`,
  timeout,
  () =>
    recordLoad((work) => {
      const app = new Hono().use(cacheScope());
      app.get("/", async (c) => c.text(await work(c.req.header("x-token")!)));
      return serveFetch(nativeFetchServer, app.fetch);
    }),
);

test(
  `withListenerCacheScope on node:http: exact channel counts for ${REQUESTS} concurrent requests`,
  timeout,
  () =>
    recordLoad((work) =>
      listenNodeHttp(
        withListenerCacheScope(async (request: IncomingMessage, response: ServerResponse) => {
          response.end(await work(String(request.headers["x-token"])));
        }),
      )
    ),
);
