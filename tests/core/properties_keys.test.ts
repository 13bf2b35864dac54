/**
 * Property tests: key equality for arbitrary argument lists, receivers and custom keys, against
 * SameValueZero written out (`_property_model.ts`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { perRequestCache, runInCacheScope } from "../../mod.ts";
import { same, sameList, seed } from "./_property_model.ts";

/**
 * Values the rules must tell apart or together. Objects, arrays and functions are fresh each
 * time they are generated, so two of them are never identical unless the pool repeats one.
 */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, undefined, null, true, false, "", "0"),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "prototype"),
  fc.integer({ min: -3, max: 3 }),
  fc.double(),
  fc.string({ maxLength: 3 }),
  fc.bigInt({ min: -2n, max: 2n }),
  fc.string({ maxLength: 2 }).map((description) => Symbol(description)),
  fc.constantFrom(Symbol.iterator, Symbol.for("shared")),
  fc.string({ maxLength: 2 }).map((label) => Object.assign(() => label, { label })),
  fc.object({ maxDepth: 3 }),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }),
);

/** A deep copy that is equal in content and different in identity (functions are wrapped). */
function lookalike(value: unknown): unknown {
  if (typeof value === "function") return Object.assign(() => value(), { ...value });
  if (Array.isArray(value)) return value.map(lookalike);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, lookalike(v)]));
  }
  return value;
}

/** A call: a receiver and arguments, each an index into the pool, or a lookalike of one. */
const callShape = fc.record({
  receiver: fc.option(fc.nat(), { nil: undefined }),
  args: fc.array(fc.record({ at: fc.nat(), copy: fc.boolean() }), { maxLength: 4 }),
});

/**
 * Locks the object graph reachable from `value` behind revoked proxies' twins: the returned
 * value is a proxy that throws on any access, so a library that reads an argument fails.
 */
function untouchable(value: unknown): unknown {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return value;
  const { proxy, revoke } = Proxy.revocable(value as object, {});
  revoke();
  return proxy;
}

test("arguments and receivers key by arity, SameValueZero and identity, never by content", () => {
  fc.assert(
    fc.property(
      fc.array(anyValue, { minLength: 1, maxLength: 8 }),
      fc.array(callShape, { minLength: 1, maxLength: 30 }),
      (values, shapes) => {
        const pool = values.map(untouchable);
        const copies = new Map<number, unknown>();
        const copyOf = (i: number) => {
          if (!copies.has(i)) copies.set(i, untouchable(lookalike(values[i])));
          return copies.get(i);
        };
        const calls = shapes.map(({ receiver, args }) => ({
          receiver: receiver === undefined ? undefined : pool[receiver % pool.length],
          args: args.map(({ at, copy }) =>
            copy && typeof values[at % pool.length] === "object"
              ? copyOf(at % pool.length)
              : pool[at % pool.length]
          ),
        }));
        const runs: number[] = [];
        const fn = perRequestCache(function (this: unknown, ..._args: unknown[]) {
          return runs.push(runs.length);
        });
        const results = runInCacheScope({}, (scope) => {
          const results = calls.map((call) => fn.apply(call.receiver, call.args));
          assert.equal(scope.stats.entries, runs.length);
          return results;
        });
        // The model: a call hits the first earlier call with the same receiver and arguments.
        calls.forEach((call, i) => {
          const first = calls.findIndex((c) =>
            same(c.receiver, call.receiver) && sameList(c.args, call.args)
          );
          assert.equal(results[i], results[first], `call ${i} meets call ${first}`);
          if (first === i) {
            assert.equal(results.indexOf(results[i]), i, `call ${i} runs anew`);
          }
        });
        const distinct = calls.filter((call, i) =>
          calls.findIndex((c) => same(c.receiver, call.receiver) && sameList(c.args, call.args)) ===
            i
        );
        assert.equal(runs.length, distinct.length);
      },
    ),
    { numRuns: 300, ...seed },
  );
});

test("a custom key replaces the arguments: calls meet when their keys are SameValueZero", () => {
  const keyFunctions: ((...args: unknown[]) => unknown)[] = [
    (...args) => args.length,
    (...args) => args[0],
    (...args) => typeof args[args.length - 1],
    () => NaN,
  ];
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: keyFunctions.length - 1 }),
      fc.array(anyValue, { minLength: 1, maxLength: 6 }),
      fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: 1, maxLength: 20 }),
      (which, pool, argIndices) => {
        const key = keyFunctions[which];
        const calls = argIndices.map((indices) => indices.map((i) => pool[i % pool.length]));
        let runs = 0;
        const fn = perRequestCache((..._args: unknown[]) => ++runs, { key });
        const results = runInCacheScope({}, () => calls.map((args) => fn(...args)));
        const keys = calls.map((args) => key(...args));
        keys.forEach((k, i) => {
          const first = keys.findIndex((other) => same(other, k));
          assert.equal(results[i], results[first]);
        });
        assert.equal(runs, keys.filter((k, i) => keys.findIndex((o) => same(o, k)) === i).length);
      },
    ),
    { numRuns: 200, ...seed },
  );
});
