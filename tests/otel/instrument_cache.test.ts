/**
 * `instrumentCache()` against the real SDK (see `_otel_sdk.ts`): a `withCacheScope` handler
 * inside an active span, and a Hono app on real servers with a request span per request, then
 * the spans, their parents and attributes, and the metric sums.
 */
import { test } from "node:test";
import diagnosticsChannel from "node:diagnostics_channel";
import assert from "node:assert/strict";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { Hono } from "hono";
import { perRequestBatch, perRequestCache, runInCacheScope, withCacheScope } from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import { instrumentCache } from "../../otel.ts";
import { parentOf, startSdk } from "./_otel_sdk.ts";
import { driveLoad } from "../server/_load.ts";
import { type FetchServer, nativeFetchServer, serveFetch } from "../server/_servers.ts";

/** What each request does: two async misses (one rejects), a join, a hit and a sync miss. */
function cachedWork() {
  const getUser = perRequestCache(async (id: string) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { id };
  }, { name: "getUser" });
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  const failing = perRequestCache(async (id: string): Promise<never> => {
    await Promise.resolve();
    throw new RangeError(`no user ${id}`);
  }, { name: "failing" });
  return async function work(id: string): Promise<{ id: string; doubled: number }> {
    const first = getUser(id); // miss: a span
    const joined = getUser(id); // in flight: a join
    await first;
    const user = await getUser(id); // settled: a hit
    assert.equal(await joined, user);
    await assert.rejects(failing(id), RangeError); // miss: a span with an error status
    return { id: user.id, doubled: double(21) }; // a synchronous miss: a span too
  };
}

/** Every request makes these calls: one counter point per function and outcome. */
function expectedCalls(requests: number): string[] {
  return [
    `reqcache.function=double,reqcache.outcome=miss → ${requests}`,
    `reqcache.function=failing,reqcache.outcome=miss → ${requests}`,
    `reqcache.function=getUser,reqcache.outcome=hit → ${requests}`,
    `reqcache.function=getUser,reqcache.outcome=join → ${requests}`,
    `reqcache.function=getUser,reqcache.outcome=miss → ${requests}`,
  ];
}

/** Checks one request's spans: its request span, and a span per miss under it. */
function assertRequestSpans(request: ReadableSpan, all: ReadableSpan[]): void {
  assert.deepEqual(
    {
      hits: request.attributes["reqcache.hits"],
      misses: request.attributes["reqcache.misses"],
      joins: request.attributes["reqcache.joins"],
    },
    { hits: 1, misses: 3, joins: 1 },
    request.name,
  );
  const children = all.filter((span) => parentOf(span) === request.spanContext().spanId);
  assert.deepEqual(children.map((span) => span.name).sort(), [
    "reqcache double",
    "reqcache failing",
    "reqcache getUser",
  ]);
  for (const child of children) {
    assert.equal(child.spanContext().traceId, request.spanContext().traceId);
    assert.equal(child.attributes["reqcache.function"], child.name.slice("reqcache ".length));
  }
  const user = children.find((span) => span.name === "reqcache getUser")!;
  assert.equal(user.status.code, SpanStatusCode.UNSET);
  assert.deepEqual(user.events, []);
  const failed = children.find((span) => span.name === "reqcache failing")!;
  assert.equal(failed.status.code, SpanStatusCode.ERROR);
  assert.match(failed.status.message!, /^no user /);
  assert.equal(failed.attributes["error.type"], "RangeError");
  assert.equal(failed.events.length, 1);
  assert.equal(failed.events[0].name, "exception");
  assert.equal(failed.events[0].attributes?.["exception.type"], "RangeError");
}

test("a withCacheScope handler inside an active span: miss spans under it, counts on it", async () => {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  const work = cachedWork();
  const handler = withCacheScope(async (request: Request) => {
    return Response.json(await work(new URL(request.url).searchParams.get("id")!));
  });
  const tracer = sdk.tracerProvider.getTracer("test server");
  const body = await tracer.startActiveSpan("GET /users", async (span) => {
    const response = await handler(new Request("http://localhost/users?id=7"));
    const text = await response.text(); // the response has been produced and sent
    span.end();
    return text;
  });
  assert.deepEqual(JSON.parse(body), { id: "7", doubled: 42 });
  const spans = await sdk.spans();
  assert.equal(spans.length, 4);
  const request = spans.find((span) => span.name === "GET /users")!;
  assert.equal(parentOf(request), undefined);
  assertRequestSpans(request, spans);
  assert.deepEqual(await sdk.points("reqcache.calls"), expectedCalls(1));
});

/** A Hono app whose first middleware makes each request's span, as a server instrumentation would. */
function tracedApp(tracerProvider: ReturnType<typeof startSdk>["tracerProvider"]): Hono {
  const tracer = tracerProvider.getTracer("test server");
  const work = cachedWork();
  const app = new Hono();
  app.use((c, next) =>
    tracer.startActiveSpan(`${c.req.method} /users/:id`, async (span) => {
      try {
        await next();
      } finally {
        span.end(); // the response has been produced
      }
    })
  );
  app.use(cacheScope());
  app.get("/users/:id", async (c) => c.json(await work(c.req.param("id"))));
  return app;
}

const REQUESTS = 100;

async function loadTracedHono(kind: FetchServer): Promise<void> {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  await using server = await serveFetch(kind, tracedApp(sdk.tracerProvider).fetch);
  const bodies = await driveLoad(async (i, signal) => {
    const response = await fetch(`${server.url}users/${i}`, { signal });
    assert.equal(response.status, 200);
    return await response.json();
  }, { total: REQUESTS, concurrency: REQUESTS, deadline: 60_000 });
  bodies.forEach((body, i) => assert.deepEqual(body, { id: String(i), doubled: 42 }));

  const spans = await sdk.spans();
  const requests = spans.filter((span) => span.name === "GET /users/:id");
  assert.equal(requests.length, REQUESTS);
  assert.equal(spans.length, REQUESTS * 4);
  assert.equal(new Set(requests.map((span) => span.spanContext().traceId)).size, REQUESTS);
  for (const request of requests) {
    assert.equal(parentOf(request), undefined);
    assertRequestSpans(request, spans);
  }
  assert.deepEqual(await sdk.points("reqcache.calls"), expectedCalls(REQUESTS));
}

test(
  `a Hono app on ${nativeFetchServer}: ${REQUESTS} concurrent requests, each with its spans and counts`,
  {
    timeout: 120_000,
  },
  () => loadTracedHono(nativeFetchServer),
);

if (nativeFetchServer !== "@hono/node-server") {
  test(
    `a Hono app on @hono/node-server: ${REQUESTS} concurrent requests, each with its spans and counts`,
    {
      timeout: 120_000,
    },
    () => loadTracedHono("@hono/node-server"),
  );
}

test("with no active span where the scope opens, misses still make root spans and counters", async () => {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  const work = cachedWork();
  const handler = withCacheScope(async () => Response.json(await work("1")));
  await (await handler(new Request("http://localhost/"))).text();
  const spans = await sdk.spans();
  assert.deepEqual(spans.map((span) => [span.name, parentOf(span)]).sort(), [
    ["reqcache double", undefined],
    ["reqcache failing", undefined],
    ["reqcache getUser", undefined],
  ]);
  assert.deepEqual(await sdk.points("reqcache.calls"), expectedCalls(1));
});

test("a perRequestBatch function: one span and one reqcache.batch.size point per batch, its loads counted by outcome", async () => {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  const getUsers = perRequestBatch(async (ids: readonly number[]) => ids.map((id) => ({ id })), {
    name: "getUsers",
    maxBatchSize: 2,
  });
  const handler = withCacheScope(async () => {
    const users = await Promise.all([1, 2, 3, 1, 4].map((id) => getUsers(id))); // 2 + 2
    await getUsers(2); // settled: a hit
    return Response.json(users.length);
  });
  await (await handler(new Request("http://localhost/"))).text();
  assert.deepEqual(await sdk.points("reqcache.batch.size"), [
    "reqcache.function=getUsers → count=2 sum=4",
  ]);
  assert.deepEqual(await sdk.points("reqcache.calls"), [
    "reqcache.function=getUsers,reqcache.outcome=hit → 1",
    "reqcache.function=getUsers,reqcache.outcome=join → 1",
    "reqcache.function=getUsers,reqcache.outcome=miss → 4",
  ]);
  const spans = await sdk.spans(); // the loads make no span of their own
  assert.deepEqual(
    spans.map((span) => [span.name, span.attributes["reqcache.batch.size"]]),
    [["reqcache getUsers", 2], ["reqcache getUsers", 2]],
  );
});

test("each instrumentCache() is its own subscription; disposing one leaves the others", async () => {
  await using first = startSdk();
  await using second = startSdk();
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  const handler = withCacheScope(() => new Response(String(double(1) + double(1))));
  const one = instrumentCache({ meterProvider: first.meterProvider });
  const two = instrumentCache({ meterProvider: second.meterProvider });
  await (await handler(new Request("http://localhost/"))).text();
  one[Symbol.dispose]();
  await (await handler(new Request("http://localhost/"))).text();
  two[Symbol.dispose]();
  await (await handler(new Request("http://localhost/"))).text();
  assert.deepEqual(await first.points("reqcache.calls"), [
    "reqcache.function=double,reqcache.outcome=hit → 1",
    "reqcache.function=double,reqcache.outcome=miss → 1",
  ]);
  assert.deepEqual(await second.points("reqcache.calls"), [
    "reqcache.function=double,reqcache.outcome=hit → 2",
    "reqcache.function=double,reqcache.outcome=miss → 2",
  ]);
});

test("the global providers are used by default", async () => {
  await using sdk = startSdk();
  assert.equal(trace.setGlobalTracerProvider(sdk.tracerProvider), true);
  try {
    using _instrumented = instrumentCache();
    const getUser = cachedWork();
    await (await withCacheScope(async () => Response.json(await getUser("3")))(
      new Request("http://localhost/"),
    )).text();
  } finally {
    trace.disable();
  }
  const spans = await sdk.spans();
  assert.deepEqual(spans.map((span) => span.name).sort(), [
    "reqcache double",
    "reqcache failing",
    "reqcache getUser",
  ]);
});

test("while instrumented, hits and joins publish nothing: reqcache:call and reqcache:batch have no subscriber", async () => {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  assert.equal(diagnosticsChannel.hasSubscribers("reqcache:call"), false);
  assert.equal(diagnosticsChannel.hasSubscribers("reqcache:batch"), false);
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  await tracerOf(sdk).startActiveSpan("GET /", async (request) => {
    runInCacheScope({ url: "/" }, () => {
      double(1);
      for (let i = 0; i < 5; i++) double(1);
    });
    request.end();
  });
  const [miss, request] = await sdk.spans();
  assert.equal(miss.name, "reqcache double");
  assert.equal(request.attributes["reqcache.hits"], 5); // counted by the scope, read at the end
});

function tracerOf(sdk: ReturnType<typeof startSdk>) {
  return sdk.tracerProvider.getTracer("test server");
}
