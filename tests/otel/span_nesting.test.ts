/**
 * The trees `instrumentCache()` makes with the real SDK (see `_otel_sdk.ts`): a span the cached
 * function starts, after awaits, is the miss span's child; the batched query's span is the batch
 * span's child; every cache span descends from the request's span, in one trace per request.
 * The request span comes from `@hono/otel`'s `httpInstrumentationMiddleware` before
 * `cacheScope()` on real servers, or from `tracer.startActiveSpan` around `withCacheScope`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SpanKind, type Tracer } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { httpInstrumentationMiddleware } from "@hono/otel";
import { Hono } from "hono";
import { perRequestBatch, perRequestCache, withCacheScope } from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import { instrumentCache } from "../../otel.ts";
import { parentOf, startSdk } from "./_otel_sdk.ts";
import { driveLoad } from "../server/_load.ts";
import { type FetchServer, nativeFetchServer, serveFetch } from "../server/_servers.ts";

/**
 * One page of a blog: a user (a miss whose function starts a database span after two awaits, a
 * join, then a hit) and two users' posts in one batch (whose function starts its query's span
 * after an await), the second loaded from inside a cached function.
 */
function blog(tracer: Tracer) {
  const getUser = perRequestCache(async (id: string) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    await Promise.resolve();
    return await tracer.startActiveSpan(`db.user ${id}`, async (span) => {
      await Promise.resolve();
      span.end();
      return { id };
    });
  }, { name: "getUser" });
  const postsOf = perRequestBatch(async (ids: readonly string[]) => {
    await Promise.resolve();
    tracer.startSpan(`db.posts ${ids.join(",")}`).end();
    return ids.map((id) => [`a post by ${id}`]);
  }, { name: "postsOf" });
  const featured = perRequestCache(() => postsOf("0"), { name: "featured" });
  return async function page(id: string): Promise<{ user: string; posts: number }> {
    const [user, joined] = await Promise.all([getUser(id), getUser(id)]);
    assert.equal(joined, user);
    const [mine, theirs] = await Promise.all([postsOf(id), featured()]);
    assert.equal((await getUser(id)).id, id); // a hit
    return { user: user.id, posts: mine.length + theirs.length };
  };
}

/**
 * Checks one request's tree, under its span `request`:
 *
 * ```
 * request                 reqcache.hits 1, reqcache.misses 4, reqcache.joins 1
 * ├─ reqcache getUser
 * │  └─ db.user <id>
 * ├─ reqcache featured
 * └─ reqcache postsOf     reqcache.batch.size 2 (under the request, or under featured)
 *    └─ db.posts <id>,0
 * ```
 */
function assertRequestTree(request: ReadableSpan, all: ReadableSpan[], id: string): void {
  const traceId = request.spanContext().traceId;
  const trace = all.filter((span) => span.spanContext().traceId === traceId);
  const byId = new Map(trace.map((span) => [span.spanContext().spanId, span]));
  const named = (name: string) => {
    const found = trace.filter((span) => span.name === name);
    assert.equal(found.length, 1, `one span ${name} in the trace of ${id}`);
    return found[0];
  };
  const ancestors = (span: ReadableSpan): string[] => {
    const names: string[] = [];
    for (let at = byId.get(parentOf(span)!); at !== undefined; at = byId.get(parentOf(at)!)) {
      names.push(at.name);
    }
    return names;
  };
  assert.deepEqual(
    trace.map((span) => span.name).sort(),
    [
      `db.posts ${id},0`,
      `db.user ${id}`,
      request.name,
      "reqcache featured",
      "reqcache getUser",
      "reqcache postsOf",
    ].sort(),
  );
  assert.equal(parentOf(request), undefined);
  assert.deepEqual(ancestors(named(`db.user ${id}`)), ["reqcache getUser", request.name]);
  assert.deepEqual(ancestors(named("reqcache featured")), [request.name]);
  const batch = named("reqcache postsOf");
  assert.equal(batch.attributes["reqcache.batch.size"], 2);
  assert.equal(ancestors(batch).at(-1), request.name);
  assert.deepEqual(ancestors(named(`db.posts ${id},0`)), ["reqcache postsOf", ...ancestors(batch)]);
  assert.deepEqual(
    ["reqcache.hits", "reqcache.misses", "reqcache.joins"].map((name) => request.attributes[name]),
    [1, 4, 1],
    request.name,
  );
}

test("tracer.startActiveSpan around withCacheScope: the function's and the batch's spans nest under the cache spans, all under the request", async () => {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  const tracer = sdk.tracerProvider.getTracer("test server");
  const page = blog(tracer);
  const handler = withCacheScope(async (request: Request) =>
    Response.json(await page(new URL(request.url).searchParams.get("id")!))
  );
  const bodies = await Promise.all(
    ["7", "8"].map((id) =>
      tracer.startActiveSpan(`GET /users?id=${id}`, async (span) => {
        const response = await handler(new Request(`http://localhost/users?id=${id}`));
        const body = await response.json(); // the response has been sent
        span.end();
        return body;
      })
    ),
  );
  assert.deepEqual(bodies, [{ user: "7", posts: 2 }, { user: "8", posts: 2 }]);
  const spans = await sdk.spans();
  assert.equal(spans.length, 12);
  for (const id of ["7", "8"]) {
    assertRequestTree(spans.find((span) => span.name === `GET /users?id=${id}`)!, spans, id);
  }
});

const REQUESTS = 40;

async function loadHonoOtel(kind: FetchServer): Promise<void> {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  const page = blog(sdk.tracerProvider.getTracer("test app"));
  const app = new Hono();
  app.use(httpInstrumentationMiddleware({ tracerProvider: sdk.tracerProvider }));
  app.use(cacheScope());
  app.get("/users/:id", async (c) => c.json(await page(c.req.param("id"))));
  await using server = await serveFetch(kind, app.fetch);
  const bodies = await driveLoad(async (i, signal) => {
    const response = await fetch(`${server.url}users/${i + 1}`, { signal }); // not 0: featured
    assert.equal(response.status, 200);
    return await response.json();
  }, { total: REQUESTS, concurrency: REQUESTS, deadline: 60_000 });
  bodies.forEach((body, i) => assert.deepEqual(body, { user: String(i + 1), posts: 2 }));

  const spans = await sdk.spans();
  const requests = spans.filter((span) => span.kind === SpanKind.SERVER);
  assert.equal(requests.length, REQUESTS);
  assert.equal(spans.length, REQUESTS * 6);
  assert.equal(new Set(requests.map((span) => span.spanContext().traceId)).size, REQUESTS);
  for (const request of requests) {
    const id = new URL(String(request.attributes["url.full"])).pathname.slice("/users/".length);
    assertRequestTree(request, spans, id);
  }
}

test(
  `@hono/otel's middleware before cacheScope() on ${nativeFetchServer}: ${REQUESTS} concurrent requests, each one trace with its cache spans nested`,
  { timeout: 120_000 },
  () => loadHonoOtel(nativeFetchServer),
);

if (nativeFetchServer !== "@hono/node-server") {
  test(
    `@hono/otel's middleware before cacheScope() on @hono/node-server: ${REQUESTS} concurrent requests, each one trace with its cache spans nested`,
    { timeout: 120_000 },
    () => loadHonoOtel("@hono/node-server"),
  );
}
