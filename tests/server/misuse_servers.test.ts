/** Every misuse of the server integrations, and the exact message it gets. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import {
  type CacheScope,
  currentScope,
  withCacheScope,
  withListenerCacheScope,
} from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import { optionMisuses } from "./_option_misuses.ts";

type Handler = (request: Request) => Response;
const wrap = (handler: unknown, options?: unknown) =>
  withCacheScope(handler as Handler, options as Record<string, never>);
const middleware = (options?: unknown) => cacheScope(options as Record<string, never>);

test("withCacheScope names a handler that is not a function", () => {
  assert.throws(() => wrap(42), {
    name: "TypeError",
    message:
      "Cannot wrap a handler with a cache scope: handler must be a function, received number 42",
  });
  assert.throws(() => wrap({ fetch() {} }), {
    name: "TypeError",
    message:
      "Cannot wrap a handler with a cache scope: handler must be a function, received an object",
  });
});

test("withCacheScope and cacheScope() check their options by name and type, once", () => {
  for (const [options, problem] of optionMisuses) {
    assert.throws(() => wrap(() => new Response(), options), {
      name: "TypeError",
      message: `Cannot wrap a handler with a cache scope: ${problem}`,
    });
    assert.throws(() => middleware(options), {
      name: "TypeError",
      message: `Cannot create the cacheScope() middleware: ${problem}`,
    });
  }
  // Every documented option, and undefined for a default, is accepted.
  wrap(() => new Response(), { waitForBody: false, serverTiming: true });
  middleware({ waitForBody: undefined, serverTiming: false });
});

test("withListenerCacheScope names a listener that is not a function", () => {
  assert.throws(
    () => withListenerCacheScope("app" as unknown as () => void),
    {
      name: "TypeError",
      message:
        'Cannot wrap a request listener with a cache scope: listener must be a function, received the string "app"',
    },
  );
});

test("a handler that returns something other than a Response is named, and its scope ends", async () => {
  let scope: CacheScope | undefined;
  const returning = (value: unknown) =>
    wrap(() => {
      scope = currentScope();
      return value;
    });
  const cases: [unknown, string][] = [
    [{ status: 200, body: "ok" }, "an object"],
    ["ok", 'the string "ok"'],
    [null, "null"],
  ];
  for (const [value, shown] of cases) {
    await assert.rejects(returning(value)(new Request("http://localhost/")), {
      name: "TypeError",
      message: `Cannot send the handler's response: it must be a Response, received ${shown}`,
    });
    assert.equal(scope?.disposed, true);
  }
  // A promise of a non-Response is named the same way.
  await assert.rejects(returning(Promise.resolve(42))(new Request("http://localhost/")), {
    name: "TypeError",
    message: "Cannot send the handler's response: it must be a Response, received number 42",
  });
});

test("a wrapped handler names a request that is not an object", () => {
  const handler = wrap(() => new Response());
  assert.throws(() => handler("http://localhost/" as unknown as Request), {
    name: "TypeError",
    message:
      'Cannot handle a request with a cache scope: request must be an object (the incoming request) or undefined, received the string "http://localhost/"',
  });
});

test("the middleware's errors reach Hono's error handler, and the scope still ends", async () => {
  let scope: CacheScope | undefined;
  const seen: unknown[] = [];
  const app = new Hono().use(cacheScope());
  app.onError((error, c) => {
    seen.push(error);
    return c.text("failed", 500);
  });
  app.get("/", () => {
    scope = currentScope();
    throw new RangeError("page out of range");
  });
  const response = await app.request("/");
  assert.equal(response.status, 500);
  assert.equal(await response.text(), "failed");
  assert.equal((seen[0] as Error).message, "page out of range");
  assert.equal(scope?.disposed, true);
});
