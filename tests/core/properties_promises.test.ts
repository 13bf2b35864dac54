/**
 * Property test: promises are shared while in flight, evicted on rejection, and never stored in
 * a dead scope.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { currentScope, perRequestCache, runInCacheScope } from "../../mod.ts";
import { seed } from "./_property_model.ts";

type PromiseOp =
  | { kind: "call"; key: number }
  | { kind: "invalidate"; key: number }
  | { kind: "settle"; run: number; reject: boolean };

const promiseOp: fc.Arbitrary<PromiseOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("call" as const),
      key: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("invalidate" as const),
      key: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      run: fc.nat(),
      reject: fc.boolean(),
    }),
  },
);

/** Lets the library's rejection handlers run (each is one reaction away from the settlement). */
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await null;
}

test("promises: shared in flight, a rejection evicted unless cacheRejections, nothing kept after disposal", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.array(promiseOp, { minLength: 1, maxLength: 40, size: "max" }),
      fc.boolean(),
      async (cacheRejections, ops, disposeEarly) => {
        const pending: PromiseWithResolvers<string>[] = [];
        const fn = perRequestCache((_key: number) => {
          const run = Promise.withResolvers<string>();
          run.promise.catch(() => {});
          pending.push(run);
          return run.promise;
        }, { cacheRejections });
        /** The model: key → run number whose promise the entry holds. */
        const entries = new Map<number, number>();
        const settled = new Map<number, "resolved" | "rejected">();
        const returned: Promise<string>[] = [];
        const scope = await runInCacheScope({}, async (scope) => {
          for (const op of ops) {
            if (op.kind === "call") {
              const promise = fn(op.key);
              returned.push(promise);
              const run = entries.get(op.key);
              if (run === undefined) {
                entries.set(op.key, pending.length - 1);
                assert.equal(promise, pending.at(-1)!.promise, "a miss runs the function");
              } else {
                assert.equal(promise, pending[run].promise, "a hit shares the stored promise");
              }
            } else if (op.kind === "invalidate") {
              assert.equal(fn.invalidate(op.key), entries.delete(op.key));
            } else {
              const open = pending.map((_, i) => i).filter((i) => !settled.has(i));
              if (open.length === 0) continue;
              const run = open[op.run % open.length];
              if (op.reject) pending[run].reject(new Error(`run ${run}`));
              else pending[run].resolve(`run ${run}`);
              settled.set(run, op.reject ? "rejected" : "resolved");
              await flush();
              if (op.reject && !cacheRejections) {
                for (const [key, r] of entries) if (r === run) entries.delete(key);
              }
            }
            assert.equal(scope.stats.entries, entries.size);
            assert.equal(scope.stats.misses, pending.length);
          }
          if (disposeEarly) scope[Symbol.dispose]();
          return scope;
        });
        // Whatever was still in flight settles after the scope ended: nothing is stored.
        assert.equal(scope.disposed, true);
        pending.forEach((run, i) => settled.has(i) || run.resolve("late"));
        await flush();
        assert.equal(scope.stats.entries, 0);
        assert.equal(currentScope(), undefined);
        await Promise.allSettled(returned);
      },
    ),
    { numRuns: 200, ...seed },
  );
});
