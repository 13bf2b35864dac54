/**
 * How a server integration notices the client leave while the handler runs, through
 * `request.signal`, called as the servers call it (a request whose signal the test aborts, as
 * a server does when the client disconnects): `request.signal` is read only once someone asks
 * for the scope's signal (Deno prints a warning on its first read), and is listened to only
 * while the handler runs; the client's leaving ends the scope even while the handler holds a
 * handle, but not before its `waitUntil` work has settled.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { cacheSignal, currentScope, openCacheScope, withCacheScope } from "../../mod.ts";
import { cacheScope } from "../../hono.ts";

/** A request as a server passes it, whose signal the test aborts, counting reads of it. */
function clientRequest() {
  const controller = new AbortController();
  const request = new Request("http://localhost/", { signal: controller.signal });
  let reads = 0;
  const counted = new Proxy(request, {
    get(target, key) {
      if (key === "signal") reads++;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { request: counted, leave: () => controller.abort(), reads: () => reads };
}

test("request.signal is not read for a request whose code never asks for the scope's signal", async () => {
  const client = clientRequest();
  const handler = withCacheScope((_request: Request) => {
    currentScope()!.waitUntil(Promise.resolve());
    return new Response("ok");
  });
  await (await handler(client.request)).text();
  assert.equal(client.reads(), 0);
});

test("the client leaving while the handler runs ends the scope, even while the handler holds a handle", async () => {
  const client = clientRequest();
  const seen: string[] = [];
  const handler = withCacheScope(async (request: Request) => {
    using scope = openCacheScope(request); // joins the wrapper's scope
    const signal = cacheSignal()!;
    client.leave();
    seen.push(signal.reason.message.replace(`cache scope ${scope.id} ended: `, ""));
    seen.push(`current: ${currentScope() === undefined ? "none" : "still"}`);
    await null;
    return new Response("unused");
  });
  await handler(client.request);
  assert.deepEqual(seen, ["the client went away", "current: none"]);
  assert.equal(client.reads(), 1);
});

test("with Hono's cacheScope(), the client leaving ends the scope while the handler runs", async () => {
  const client = clientRequest();
  const reasons: string[] = [];
  const app = new Hono();
  app.use(cacheScope());
  app.get("/", (c) => {
    const signal = cacheSignal()!;
    client.leave();
    reasons.push(signal.reason.message);
    return c.text("unused");
  });
  await app.fetch(client.request);
  assert.match(reasons[0], /^cache scope \S+ ended: the client went away$/);
});

test("waitUntil work outlives the client: the scope ends when it settles", async () => {
  const client = clientRequest();
  const work = Promise.withResolvers<void>();
  let signal!: AbortSignal;
  const handler = withCacheScope(async () => {
    currentScope()!.waitUntil(work.promise);
    signal = cacheSignal()!;
    client.leave();
    return new Response("ok");
  });
  await (await handler(client.request)).text();
  assert.equal(signal.aborted, false);
  work.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.match(signal.reason.message, / ended: its waitUntil work settled$/);
});

test("the request's signal aborting after the handler returned (Deno.serve does after every response) is not taken for the client leaving", async () => {
  const client = clientRequest();
  let signal!: AbortSignal;
  const handler = withCacheScope(() => {
    signal = cacheSignal()!;
    return new Response(new ReadableStream({ pull: (c) => c.close() }));
  });
  const response = await handler(client.request);
  client.leave();
  assert.equal(signal.aborted, false);
  await response.text();
  assert.match(signal.reason.message, / ended: the response was sent$/);
});
