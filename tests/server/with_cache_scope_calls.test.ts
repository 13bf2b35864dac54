/**
 * How `withCacheScope` calls the handler it wraps: with exactly the arguments the server gave
 * (Deno's `info`, Bun's `server`, workerd's `env` and `ctx`, and any more), inside the request's
 * scope, and always answering with a promise, whether the handler returned a response, a
 * promise of one, or threw.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { currentScope, withCacheScope } from "../../mod.ts";

test("withCacheScope passes the handler exactly the arguments the server gave, however many", async () => {
  const seen: unknown[][] = [];
  const handler = withCacheScope((...args: unknown[]) => {
    assert.ok(currentScope() !== undefined);
    seen.push(args);
    return new Response("ok");
  });
  const request = new Request("http://localhost/");
  const call = handler as (...args: unknown[]) => Promise<Response>;
  for (let extra = 0; extra <= 4; extra++) {
    const rest = Array.from({ length: extra }, (_, i) => ({ argument: i }));
    assert.equal(await (await call(request, ...rest)).text(), "ok");
  }
  assert.deepEqual(
    seen.map((args) => args.length),
    [1, 2, 3, 4, 5],
  );
  for (const args of seen) assert.equal(args[0], request);
  assert.deepEqual(seen[4].slice(1), [{ argument: 0 }, { argument: 1 }, { argument: 2 }, {
    argument: 3,
  }]);
});

test("withCacheScope answers with a promise whether the handler returns, resolves or throws", async () => {
  const request = () => new Request("http://localhost/");
  const returned = withCacheScope((_request: Request) => new Response("returned"))(request());
  assert.ok(returned instanceof Promise);
  assert.equal(await (await returned).text(), "returned");

  const resolved = withCacheScope(async (_request: Request) => new Response("resolved"))(request());
  assert.ok(resolved instanceof Promise);
  assert.equal(await (await resolved).text(), "resolved");

  const thrown = withCacheScope((_request: Request): Response => {
    throw new RangeError("handler failed");
  })(request());
  assert.ok(thrown instanceof Promise);
  await assert.rejects(thrown, RangeError);
});
