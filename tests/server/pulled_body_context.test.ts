/**
 * Where no server signal ends the scope, a body that may be a stream is read through a stream
 * of our own: each `pull` of the handler's stream then runs in the request's scope, whatever
 * context reads the response (here another request's scope), and sees the request's cache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { Hono } from "hono";
import {
  type CacheScope,
  currentScope,
  perRequestCache,
  runInCacheScope,
  withCacheScope,
} from "../../mod.ts";
import { cacheScope } from "../../hono.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A body of `total` chunks, one per pull, each naming the scope its pull ran in. */
function pulledBody(total: number): ReadableStream<Uint8Array> {
  let i = 0;
  const label = perRequestCache((n: number) => `chunk ${n}`);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i === total) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`${label(i++)}@${currentScope()?.id ?? "none"};`));
    },
  });
}

/** Reads `response` chunk by chunk in a scope of its own, waiting between reads. */
function readElsewhere(response: Response): Promise<string> {
  return runInCacheScope({ reader: true }, async (readerScope) => {
    const reader = response.body!.getReader();
    let text = "";
    for (;;) {
      await delay(1);
      assert.equal(currentScope(), readerScope);
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
    }
  });
}

function expected(id: string): string {
  return [0, 1, 2].map((n) => `chunk ${n}@${id};`).join("");
}

for (const answer of ["a response", "a promise of one"]) {
  test(`withCacheScope, a handler that returns ${answer}: every pull of a streamed body runs in the request's scope, whoever reads it`, async () => {
    let scope: CacheScope | undefined;
    const handler = withCacheScope((_request: Request) => {
      scope = currentScope();
      const response = new Response(pulledBody(3));
      return answer === "a response" ? response : delay(1).then(() => response);
    });
    const response = await handler(new Request("http://localhost/"));
    assert.equal(await readElsewhere(response), expected(scope!.id));
    assert.equal(scope!.disposed, true);
  });
}

test("cacheScope(): every pull of a streamed body runs in the request's scope, whoever reads it", async () => {
  let scope: CacheScope | undefined;
  const app = new Hono();
  app.use(cacheScope());
  app.get("/", (c) => {
    scope = currentScope();
    return c.body(pulledBody(3));
  });
  const response = await app.request("/");
  assert.equal(await readElsewhere(response), expected(scope!.id));
  assert.equal(scope!.disposed, true);
});
