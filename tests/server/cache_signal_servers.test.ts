/**
 * `cacheSignal()` on real servers (127.0.0.1, ephemeral ports): a front server whose handler
 * calls a cached function that fetches a slow upstream with `{ signal: cacheSignal() }`. When
 * the client goes away, the upstream sees its request aborted within a second and the front
 * request's scope has ended, with the client's leaving as its reason; a response sent in full
 * and a handler that threw say so instead. Each front: `withCacheScope` on the runtime's own
 * fetch server (`Deno.serve`, `Bun.serve`, `@hono/node-server` on Node), Hono's `cacheScope()`
 * on the same, and `withListenerCacheScope` on `node:http`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Hono } from "hono";
import {
  type CacheScope,
  cacheSignal,
  currentScope,
  perRequestCache,
  withCacheScope,
  withListenerCacheScope,
} from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import {
  eventually,
  isBun,
  type Listening,
  listenNodeHttp,
  nativeFetchServer,
  quietErrors,
  serveFetch,
} from "./_servers.ts";

/** An upstream that never answers: it records each request and each one aborted, with when. */
async function slowUpstream() {
  const started: number[] = [];
  const aborted: number[] = [];
  const server = await listenNodeHttp((_request, response) => {
    started.push(Date.now());
    response.on("close", () => {
      if (!response.writableFinished) aborted.push(Date.now());
    });
  });
  return { server, started, aborted };
}

/** What every front does: the upstream call, cached per request, with the scope's signal. */
function upstreamCall(url: string): (path: string) => Promise<string> {
  return perRequestCache(async (path: string) => {
    const response = await fetch(url + path, { signal: cacheSignal() });
    return await response.text();
  });
}

/**
 * The client starts a request and goes away once the upstream call has started; the upstream
 * must see its request aborted within 1 s, and the front request's scope must have ended
 * because the client went away.
 */
async function clientGoesAway(
  front: Listening,
  upstream: Awaited<ReturnType<typeof slowUpstream>>,
  scopes: CacheScope[],
): Promise<void> {
  const controller = new AbortController();
  const response = fetch(front.url, { signal: controller.signal });
  await eventually(() => upstream.started.length === 1, "the upstream call started");
  controller.abort();
  await assert.rejects(response, { name: "AbortError" });
  const gone = Date.now();
  await eventually(
    () => upstream.aborted.length === 1,
    "the upstream saw its request aborted",
    1_000,
  );
  assert.ok(upstream.aborted[0] - gone < 1_000);
  const scope = scopes[0];
  await eventually(() => scope.signal.aborted, "the front request's scope ended");
  assert.equal(scope.signal.reason.message, `cache scope ${scope.id} ended: the client went away`);
  assert.equal(scope.stats.entries, 0);
}

test(`${nativeFetchServer} with withCacheScope: a client that goes away aborts the upstream call through cacheSignal()`, async () => {
  await using upstream = await slowUpstreamServer();
  const call = upstreamCall(upstream.server.url);
  const scopes: CacheScope[] = [];
  using _quiet = quietErrors();
  await using front = await serveFetch(
    nativeFetchServer,
    withCacheScope(async () => {
      scopes.push(currentScope()!);
      return new Response(await call("slow"));
    }),
  );
  await clientGoesAway(front, upstream, scopes);
});

test(`Hono cacheScope() on ${nativeFetchServer}: a client that goes away aborts the upstream call through cacheSignal()`, async () => {
  await using upstream = await slowUpstreamServer();
  const call = upstreamCall(upstream.server.url);
  const scopes: CacheScope[] = [];
  const app = new Hono();
  app.use(cacheScope());
  app.get("/", async (c) => {
    scopes.push(currentScope()!);
    return c.text(await call("slow"));
  });
  using _quiet = quietErrors();
  await using front = await serveFetch(nativeFetchServer, app.fetch);
  await clientGoesAway(front, upstream, scopes);
});

test("node:http with withListenerCacheScope: a client that goes away aborts the upstream call through cacheSignal()", async () => {
  await using upstream = await slowUpstreamServer();
  const call = upstreamCall(upstream.server.url);
  const scopes: CacheScope[] = [];
  await using front = await listenNodeHttp(
    withListenerCacheScope(async (_request: IncomingMessage, response: ServerResponse) => {
      scopes.push(currentScope()!);
      try {
        response.end(await call("slow"));
      } catch {
        response.destroy();
      }
    }),
  );
  await clientGoesAway(front, upstream, scopes);
});

test(`${nativeFetchServer} and node:http: the reason says the response was sent, or the handler threw`, async () => {
  const signals: AbortSignal[] = [];
  using _quiet = quietErrors();
  await using fetchFront = await serveFetch(
    nativeFetchServer,
    withCacheScope((request: Request) => {
      signals.push(cacheSignal()!);
      if (request.url.endsWith("/throw")) throw new Error("handler failed");
      return new Response("sent");
    }),
  );
  await using listenerFront = await listenNodeHttp(
    withListenerCacheScope((_request: IncomingMessage, response: ServerResponse) => {
      signals.push(cacheSignal()!);
      response.end("sent");
    }),
  );
  assert.equal(await (await fetch(fetchFront.url)).text(), "sent");
  assert.equal((await fetch(`${fetchFront.url}throw`)).status, 500);
  assert.equal(await (await fetch(listenerFront.url)).text(), "sent");
  await eventually(
    () => signals.length === 3 && signals.every((s) => s.aborted),
    "every scope ended",
  );
  const whys = signals.map((signal) =>
    signal.reason.message.replace(/^cache scope \S+ ended: /, "")
  );
  // Bun.serve gives no signal that a response was sent, and Bun tells a fixed body from a stream
  // without reading it: such a body runs no code while it is sent, so its scope ends with the
  // handler. Deno.serve and @hono/node-server say when the response was sent.
  const sent = isBun ? "the handler returned" : "the response was sent";
  assert.deepEqual(whys, [sent, "the handler threw", "the response was sent"]);
});

/** The upstream, disposable with its server. */
async function slowUpstreamServer() {
  const upstream = await slowUpstream();
  return { ...upstream, [Symbol.asyncDispose]: () => upstream.server[Symbol.asyncDispose]() };
}
