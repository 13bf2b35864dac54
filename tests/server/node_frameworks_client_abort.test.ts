/**
 * A client that goes away while an Express, Fastify or Koa handler still runs, on a real server:
 * `node:http` closes the response unfinished, which ends the request's scope whatever its
 * handler still holds, and `cacheSignal()` aborts with the reason that the client went away.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type CacheScope, cacheSignal, currentScope } from "../../mod.ts";
import { frameworks } from "./_node_frameworks.ts";
import { eventually, quietErrors } from "./_servers.ts";

for (const framework of frameworks) {
  test(`${framework.name}: a client that goes away mid-handler ends the scope, and cacheSignal() aborts saying so`, async () => {
    // Koa reports the reset connection on Bun and Deno (console.error): expected, not shown.
    using _quiet = quietErrors();
    const started = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const scopes: CacheScope[] = [];
    const signals: AbortSignal[] = [];
    await using server = await framework.serve({
      async json() {
        scopes.push(currentScope()!);
        signals.push(cacheSignal()!);
        started.resolve();
        await release.promise;
        return {};
      },
    });
    const controller = new AbortController();
    const response = fetch(`${server.url}json`, { signal: controller.signal });
    await started.promise;
    controller.abort();
    await assert.rejects(response, { name: "AbortError" });
    await eventually(() => signals[0].aborted, "the scope's signal aborted", 20_000);
    assert.equal(scopes[0].disposed, true);
    assert.equal(
      signals[0].reason.message,
      `cache scope ${scopes[0].id} ended: the client went away`,
    );
    release.resolve();
  });
}
