/**
 * Every misuse of Elysia's `cacheScope()` plugin, and the exact message it gets, on every
 * runtime (`app.use` runs a plugin on any of them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Elysia } from "elysia";
import { cacheScope } from "../../elysia.ts";
import { optionMisuses } from "./_option_misuses.ts";

const plugin = (options?: unknown) => cacheScope(options as Record<string, never>);

test("cacheScope() checks its options by name and type when it is called", () => {
  for (const [options, problem] of optionMisuses) {
    assert.throws(() => plugin(options), {
      name: "TypeError",
      message: `Cannot create the cacheScope() plugin: ${problem}`,
    });
  }
  // Every documented option, and undefined for a default, is accepted.
  plugin({ waitForBody: false, serverTiming: true });
  plugin({ waitForBody: undefined, serverTiming: false });
  plugin(undefined);
});

test("the cacheScope() plugin names an app that is not an Elysia app", () => {
  const use = cacheScope() as (app: unknown) => unknown;
  assert.throws(() => use(undefined), {
    name: "TypeError",
    message: "Cannot use the cacheScope() plugin: app must be an Elysia app, received undefined",
  });
  assert.throws(() => use({ onRequest() {} }), {
    name: "TypeError",
    message: "Cannot use the cacheScope() plugin: app must be an Elysia app, received an object",
  });
});

test("app.use(cacheScope) without the call names the mistake, not Elysia's properties", () => {
  assert.throws(() => new Elysia().use(cacheScope as never), {
    name: "TypeError",
    message:
      "Cannot create the cacheScope() plugin: cacheScope takes the options, not what app.use gives a plugin, received 1 argument starting with an object; give app.use the plugin cacheScope() returns, not cacheScope itself",
  });
});
