/** Property test: `maxEntries` against a least-recently-used model. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { perRequestCache, runInCacheScope } from "../../mod.ts";
import { seed } from "./_property_model.ts";

type LruOp = { kind: "call" | "invalidate" | "prime"; key: number; arity: number };

test("maxEntries evicts exactly what a least-recently-used model evicts, for every call shape", () => {
  const lruOp: fc.Arbitrary<LruOp> = fc.record({
    kind: fc.constantFrom(
      "call" as const,
      "call" as const,
      "call" as const,
      "invalidate" as const,
      "prime" as const,
    ),
    key: fc.integer({ min: 0, max: 7 }),
    arity: fc.integer({ min: 0, max: 3 }),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(lruOp, { minLength: 1, maxLength: 100, size: "max" }),
      (maxEntries, ops) => {
        let runs = 0;
        const fn = perRequestCache((..._args: unknown[]) => `run ${++runs}`, { maxEntries });
        /** Entries by "arity/key", least recently used first. */
        const model: { id: string; value: string }[] = [];
        let modelRuns = 0;
        let primes = 0;
        // One argument list per (key, arity): [], [k], [k, "k"], [k, "k", -0].
        const argsOf = (op: LruOp) => [op.key, String(op.key), -0].slice(0, op.arity);
        runInCacheScope({}, (scope) => {
          for (const op of ops) {
            const id = op.arity === 0 ? "0/" : `${op.arity}/${op.key}`;
            const at = model.findIndex((e) => e.id === id);
            const args = argsOf(op);
            if (op.kind === "call") {
              let expected: string;
              if (at >= 0) {
                const [entry] = model.splice(at, 1);
                model.push(entry);
                expected = entry.value;
              } else {
                expected = `run ${++modelRuns}`;
                model.push({ id, value: expected });
              }
              assert.equal(fn(...args), expected);
            } else if (op.kind === "invalidate") {
              if (at >= 0) model.splice(at, 1);
              assert.equal(fn.invalidate(...args), at >= 0);
            } else {
              const value = `primed ${++primes}`;
              if (at < 0) model.push({ id, value });
              assert.equal(fn.prime(args, value), at < 0);
            }
            if (model.length > maxEntries) model.shift();
            assert.equal(scope.stats.entries, model.length);
            assert.equal(runs, modelRuns);
          }
        });
      },
    ),
    { numRuns: 200, ...seed },
  );
});
