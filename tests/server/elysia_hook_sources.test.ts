/**
 * Elysia reads a hook's source to decide whether to await it (one hook it takes for async makes
 * the handler of every route async: an extra promise and task per request) and which parts of
 * the context to build for every route (a hook that seems to read the headers, the query or the
 * cookies, or passes the context on, makes every request parse them). The plugin's hooks are
 * written to cost neither; this checks them with Elysia's own readings, on the source as this
 * runtime's transpiler left it. It needs no server, so it runs on every runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Elysia } from "elysia";
import { isAsync } from "elysia/compose";
import { cacheScope } from "../../elysia.ts";

const everyOption = [undefined, { serverTiming: true }, { waitForBody: false }];

test("Elysia reads every hook of the cacheScope() plugin as synchronous, whatever the options", () => {
  for (const options of everyOption) {
    const app = new Elysia().use(cacheScope(options));
    const hooks = [
      ...(app.event.request ?? []),
      ...(app.event.afterHandle ?? []),
      ...(app.event.afterResponse ?? []),
    ];
    assert.equal(hooks.length, options?.waitForBody === false ? 2 : 3);
    for (const { fn } of hooks) {
      assert.equal(isAsync(fn), false, `${fn.name} with ${JSON.stringify(options)}`);
    }
  }
});

test("the cacheScope() plugin makes Elysia build no part of the context, but set for serverTiming", () => {
  for (const options of everyOption) {
    const app = new Elysia().use(cacheScope(options));
    // Elysia's own reading of the app's hooks (a protected field): what every route builds.
    const { inference } = app as unknown as { inference: Record<string, boolean> };
    const built = Object.keys(inference).filter((part) => inference[part]);
    assert.deepEqual(built, options?.serverTiming ? ["set"] : [], JSON.stringify(options));
  }
});
