/**
 * Every misuse of Elysia's `cacheScope()` plugin, and the exact message it gets. The plugin
 * does not load Elysia, so these run on every runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cacheScope } from "../../elysia.ts";

const plugin = (options?: unknown) => cacheScope(options as Record<string, never>);

test("cacheScope() checks its options by name and type when it is called", () => {
  const cases: [unknown, string][] = [
    ["fast", 'options must be an object, received the string "fast"'],
    [null, "options must be an object, received null"],
    [
      { waitForBodies: false },
      'unknown option "waitForBodies"; the options are waitForBody, serverTiming',
    ],
    [{ waitForBody: "no" }, 'waitForBody must be a boolean, received the string "no"'],
    [{ serverTiming: 1 }, "serverTiming must be a boolean, received number 1"],
  ];
  for (const [options, problem] of cases) {
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
