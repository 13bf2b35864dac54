/**
 * Bodies that run no user code while they are sent (a string, bytes, JSON, no body at all):
 * where the runtime tells them apart from a stream without making one (Deno, Bun), they are passed
 * through untouched and the scope ends when the handler returns; everywhere else they are
 * tracked like a stream. Either way the client gets the same bytes, and the scope has ended
 * once the body is read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { type CacheScope, currentScope, withCacheScope } from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import { isBun, isDeno, nativeFetchServer, serveFetch } from "./_servers.ts";

/** Each body, what the client reads, and whether this runtime passes it through untouched. */
const tellsFixedBodies = isDeno || isBun;
const fixedBodies: [string, () => Response, string, boolean][] = [
  ["a string", () => new Response("hello"), "hello", tellsFixedBodies],
  ["bytes", () => new Response(new TextEncoder().encode("bytes")), "bytes", tellsFixedBodies],
  ["JSON", () => Response.json({ a: 1 }), '{"a":1}', tellsFixedBodies],
  // Every runtime says there is no body without making a stream.
  ["no body", () => new Response(null, { status: 204 }), "", true],
];

for (const [kind, make, text, passedThrough] of fixedBodies) {
  test(`withCacheScope: a response with ${kind} reaches the caller whole, and its scope ends by the end of the body`, async () => {
    let scope: CacheScope | undefined;
    let made: Response | undefined;
    const handler = withCacheScope((_request: Request) => {
      scope = currentScope();
      return made = make();
    });
    const response = await handler(new Request("http://localhost/"));
    // Passed through: the handler's own response, its scope over already.
    assert.equal(response === made, passedThrough);
    assert.equal(scope?.disposed, passedThrough);
    assert.equal(await response.text(), text);
    assert.equal(scope?.disposed, true);
  });
}

test("cacheScope(): a c.text() body is passed through on Deno and Bun and its scope ends with the handler", async () => {
  let scope: CacheScope | undefined;
  const app = new Hono();
  app.use(cacheScope());
  app.get("/", (c) => {
    scope = currentScope();
    return c.text("hi");
  });
  const response = await app.request("/");
  assert.equal(scope?.disposed, tellsFixedBodies);
  assert.equal(await response.text(), "hi");
  assert.equal(scope?.disposed, true);
});

/** Asserts that `make`'s body keeps its request's scope open until the caller has read it. */
async function assertTrackedUntilRead(make: () => Response, text: string): Promise<void> {
  let scope: CacheScope | undefined;
  const handler = withCacheScope((_request: Request) => {
    scope = currentScope();
    return make();
  });
  const response = await handler(new Request("http://localhost/"));
  assert.equal(scope?.disposed, false);
  assert.equal(await response.text(), text);
  assert.equal(scope?.disposed, true);
}

test("a stream the handler built is tracked on every runtime: its scope lasts until the body is read", async () => {
  const body = () =>
    new ReadableStream({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("streamed"));
        controller.close();
      },
    });
  await assertTrackedUntilRead(() => new Response(body()), "streamed");
});

test("a Blob body is tracked like a stream, and reaches the caller whole", async () => {
  await assertTrackedUntilRead(() => new Response(new Blob(["blob"])), "blob");
});

test("a stream with a statusText is tracked: the text is not taken for a fixed body", async () => {
  const body = () =>
    new ReadableStream({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("streamed"));
        controller.close();
      },
    });
  await assertTrackedUntilRead(
    () => new Response(body(), { status: 201, statusText: "Created with a long reason" }),
    "streamed",
  );
});

test("a response from fetch() is tracked: its body is a stream the request's signal may stop", async () => {
  await using upstream = await serveFetch(
    nativeFetchServer,
    () => new Response("from upstream"),
  );
  const url = upstream.url;
  let scope: CacheScope | undefined;
  const handler = withCacheScope(async (_request: Request) => {
    scope = currentScope();
    return await fetch(url);
  });
  const response = await handler(new Request("http://localhost/"));
  assert.equal(scope?.disposed, false);
  assert.equal(await response.text(), "from upstream");
  assert.equal(scope?.disposed, true);
});
