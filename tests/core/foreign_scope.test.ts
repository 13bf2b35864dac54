import { test } from "node:test";
import assert from "node:assert/strict";
import { currentScope, openCacheScope, perRequestCache } from "../../mod.ts";
import { shownWarnings } from "../../src/core/_warn_once.ts";

test("an entered scope never adopts another request's active scope, and warns once with the fix", () => {
  shownWarnings.clear();
  const warnings: unknown[][] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args);
  try {
    let runs = 0;
    const count = perRequestCache(() => ++runs);
    // What Deno.serve does to an enterWith store: the next request's handler starts in it.
    const first = openCacheScope({ url: "/first" });
    count();
    {
      using second = openCacheScope({ url: "/second" });
      assert.equal(count(), 2);
      assert.equal(currentScope(), second);
    }
    assert.equal(currentScope(), undefined, "the other request's scope is not restored");
    using third = openCacheScope({ url: "/third" });
    assert.equal(currentScope(), third);
    assert.equal(count(), 3);
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0][0]), /withCacheScope/);
    assert.equal(first.stats.entries, 1);
    first[Symbol.dispose]();
  } finally {
    console.warn = warn;
  }
});
