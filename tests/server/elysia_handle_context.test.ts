/**
 * Elysia's `cacheScope()` plugin called through `app.handle(request)`, on every runtime: inside
 * `withCacheScope` every request gets its own scope; outside any run frame on Deno, whose
 * `Deno.serve` keeps one request's context for the next, the plugin refuses to open a scope
 * rather than let the next request's hooks read it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Elysia } from "elysia";
import { currentScope, withCacheScope } from "../../mod.ts";
import { cacheScope } from "../../elysia.ts";
import { isDeno } from "./_servers.ts";

const onDeno = isDeno ? test : test.skip;

/** An app whose first hook (before the plugin) and handler report the scope they see. */
function reportingApp(before: (string | undefined)[], handled: (string | undefined)[]) {
  return new Elysia()
    .onRequest(function first() {
      before.push(currentScope()?.id);
    })
    .use(cacheScope())
    .get("/", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      handled.push(currentScope()?.id);
      return "ok";
    });
}

test("withCacheScope around app.handle gives two concurrent requests separate scopes, each seen by its own first hook", async () => {
  const before: (string | undefined)[] = [];
  const handled: (string | undefined)[] = [];
  const app = reportingApp(before, handled);
  const handle = withCacheScope((request: Request) => app.handle(request));
  const answers = await Promise.all([
    handle(new Request("http://localhost/")),
    handle(new Request("http://localhost/")),
  ]);
  assert.deepEqual(await Promise.all(answers.map((answer) => answer.text())), ["ok", "ok"]);
  assert.equal(handled.length, 2);
  assert.ok(handled.every((id) => id !== undefined), "a handler ran without a scope");
  assert.notEqual(handled[0], handled[1]);
  assert.deepEqual(before.toSorted(), handled.toSorted(), "each first hook sees its own scope");
  assert.equal(currentScope(), undefined, "the caller's context was left without a scope");
});

onDeno(
  "on Deno, the plugin refuses to open a scope through app.handle outside withCacheScope",
  async () => {
    const errors: unknown[] = [];
    const handled: (string | undefined)[] = [];
    const app = new Elysia()
      .onError(({ error }) => {
        errors.push(error);
        return new Response("refused", { status: 500 });
      })
      .use(cacheScope())
      .get("/", () => {
        handled.push(currentScope()?.id);
        return "ok";
      });
    const response = await app.handle(new Request("http://localhost/"));
    assert.equal(response.status, 500);
    assert.equal(await response.text(), "refused");
    assert.deepEqual(handled, [], "the handler ran");
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
    assert.equal(
      errors[0].message,
      "Cannot open the request's cache scope in Elysia: on Deno, a request's context is kept for the next request's handler, so the scope must open inside withCacheScope; serve withCacheScope(app.fetch), or call withCacheScope((request) => app.handle(request))",
    );
    assert.equal(currentScope(), undefined, "a scope was entered in the caller's context");
  },
);
