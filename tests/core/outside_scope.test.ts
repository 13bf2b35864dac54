/**
 * Strict mode: what a call does when no cache scope is open (`outsideScope`, per function, and
 * `configureCache({ outsideScope })` for the process).
 */
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { configureCache, perRequestBatch, perRequestCache, runInCacheScope } from "../../mod.ts";

afterEach(() => configureCache({ outsideScope: "run" }));

/** Runs `body` with console.warn captured; gives back the warnings. */
function capturingWarnings(body: () => void): string[] {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    body();
  } finally {
    console.warn = warn;
  }
  return warnings;
}

const warning = (name: string) =>
  `@reqcache/core: ${name} was called outside any cache scope, so it ran uncached (and will on every such call). Wrap the handler with withCacheScope(handler) or withListenerCacheScope(listener), add the cacheScope() middleware, or make the call inside runInCacheScope(request, fn). This warning is shown once per function; outsideScope: "throw" makes it an error, "run" silences it.`;

const refusal = (name: string) =>
  `Cannot call ${name}: no cache scope is open, and outsideScope is "throw"; wrap the handler with withCacheScope(handler) or withListenerCacheScope(listener), add the cacheScope() middleware, or make the call inside runInCacheScope(request, fn)`;

test("by default a call outside any scope runs uncached, silently", () => {
  let runs = 0;
  const getUser = perRequestCache((id: number) => ({ id, run: ++runs }));
  const warnings = capturingWarnings(() => {
    getUser(1);
    getUser(1);
  });
  assert.equal(runs, 2);
  assert.deepEqual(warnings, []);
});

test('"warn" runs the call uncached and warns once per function, naming it and the fix', () => {
  let runs = 0;
  const getUser = perRequestCache((id: number) => ({ id, run: ++runs }), {
    name: "getUser",
    outsideScope: "warn",
  });
  const getTeam = perRequestCache((id: number) => `team ${id}`, { outsideScope: "warn" });
  const warnings = capturingWarnings(() => {
    getUser(1);
    getUser(1);
    getTeam(2);
    getTeam(3);
    runInCacheScope({}, () => getUser(1)); // inside a scope: no warning
  });
  assert.equal(runs, 3);
  assert.deepEqual(warnings, [warning("getUser"), warning("anonymous")]);
});

test('"throw" throws a TypeError naming the function and the fix, and does not run it', () => {
  let runs = 0;
  const getUser = perRequestCache((id: number) => ({ id, run: ++runs }), {
    name: "getUser",
    outsideScope: "throw",
  });
  assert.throws(() => getUser(1), { name: "TypeError", message: refusal("getUser") });
  assert.equal(runs, 0);
  assert.equal(runInCacheScope({}, () => getUser(1)).run, 1);
  // invalidate, clear and prime act on the current scope and have nothing to refuse.
  assert.equal(getUser.invalidate(1), false);
  assert.equal(getUser.clear(), 0);
  assert.equal(getUser.prime([1], { id: 1, run: 0 }), false);
});

test("a call after its scope ended finds no scope, so the mode applies to it too", async () => {
  const getUser = perRequestCache((id: number) => ({ id }), {
    name: "getUser",
    outsideScope: "throw",
  });
  let later!: () => unknown;
  await runInCacheScope({}, () => {
    later = () => getUser(1);
  });
  assert.throws(later, { name: "TypeError", message: refusal("getUser") });
});

test("configureCache sets the default of every function, made before or after it, read at the call", () => {
  const before = perRequestCache((id: number) => id, { name: "before" });
  configureCache({ outsideScope: "throw" });
  const after = perRequestCache((id: number) => id, { name: "after" });
  assert.throws(() => before(1), { name: "TypeError", message: refusal("before") });
  assert.throws(() => after(1), { name: "TypeError", message: refusal("after") });
  configureCache({ outsideScope: "warn" });
  const warnings = capturingWarnings(() => {
    assert.equal(before(1), 1);
    assert.equal(before(2), 2);
  });
  assert.deepEqual(warnings, [warning("before")]);
  configureCache({});
  configureCache({ outsideScope: undefined }); // left out: the setting stays
  assert.deepEqual(capturingWarnings(() => after(1)), [warning("after")]);
  configureCache({ outsideScope: "run" });
  assert.deepEqual(capturingWarnings(() => after(1)), []);
});

test("a function's own outsideScope wins over configureCache", () => {
  const lenient = perRequestCache((id: number) => id, { outsideScope: "run" });
  const strict = perRequestCache((id: number) => id, { name: "strict", outsideScope: "throw" });
  configureCache({ outsideScope: "throw" });
  assert.equal(lenient(1), 1);
  configureCache({ outsideScope: "run" });
  assert.throws(() => strict(1), { name: "TypeError", message: refusal("strict") });
});

test("perRequestBatch follows outsideScope and configureCache: a batch of one, a warning once, or a throw", async () => {
  const sent: number[][] = [];
  const batchFn = (ids: readonly number[]) => {
    sent.push([...ids]);
    return ids.map((id) => id * 10);
  };
  const silent = perRequestBatch(batchFn, { name: "silent" });
  const warned = perRequestBatch(batchFn, { name: "warned", outsideScope: "warn" });
  const strict = perRequestBatch(batchFn, { name: "strict", outsideScope: "throw" });
  let loads: Promise<number>[] = [];
  const warnings = capturingWarnings(() => {
    loads = [silent(1), warned(2), warned(3)];
    assert.throws(() => strict(4), { name: "TypeError", message: refusal("strict") });
    configureCache({ outsideScope: "throw" });
    assert.throws(() => silent(5), { name: "TypeError", message: refusal("silent") });
    loads.push(warned(6)); // its own option wins
  });
  assert.deepEqual(await Promise.all(loads), [10, 20, 30, 60]);
  assert.deepEqual(sent, [[1], [2], [3], [6]]); // each a batch of one, uncached
  assert.deepEqual(warnings, [warning("warned")]);
  assert.equal(await runInCacheScope({}, () => strict(7)), 70); // inside a scope: batched as ever
});
