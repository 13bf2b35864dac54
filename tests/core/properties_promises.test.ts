/**
 * Property test: promises are shared while in flight (joins) and hit once settled, evicted on
 * rejection unless the policy keeps it, dropped by tag while in flight without coming back, and
 * never stored in a dead scope.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { currentScope, invalidateTags, perRequestCache, runInCacheScope } from "../../mod.ts";
import { seed } from "./_property_model.ts";

type PromiseOp =
  | { kind: "call"; key: number }
  | { kind: "invalidate"; key: number }
  | { kind: "invalidateTag"; tag: string }
  | { kind: "settle"; run: number; reject: boolean; keep: boolean };

/** Each call's entry is tagged with its key and its parity. */
const tagsOf = (key: number) => [`k${key}`, key % 2 === 0 ? "even" : "odd"];

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
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("invalidateTag" as const),
      tag: fc.constantFrom("k0", "k1", "k2", "k3", "even", "odd", "none"),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      run: fc.nat(),
      reject: fc.boolean(),
      keep: fc.boolean(),
    }),
  },
);

/** Lets the library's rejection handlers run (each is one reaction away from the settlement). */
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await null;
}

test("promises: joins in flight, hits once settled, rejections kept by the policy, tags reach entries in flight, nothing kept after disposal", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("never" as const, "always" as const, "predicate" as const),
      fc.array(promiseOp, { minLength: 1, maxLength: 40, size: "max" }),
      fc.boolean(),
      async (policy, ops, disposeEarly) => {
        const pending: PromiseWithResolvers<string>[] = [];
        const cacheRejections = policy === "predicate"
          ? (error: unknown) => (error as Error).message.endsWith("keep")
          : policy === "always";
        const fn = perRequestCache((_key: number) => {
          const run = Promise.withResolvers<string>();
          run.promise.catch(() => {});
          pending.push(run);
          return run.promise;
        }, { cacheRejections, tags: tagsOf });
        /** The model: key → run number whose promise the entry holds. */
        const entries = new Map<number, number>();
        const settled = new Map<number, "resolved" | "rejected">();
        const counts = { hits: 0, misses: 0, joins: 0 };
        const returned: Promise<string>[] = [];
        const scope = await runInCacheScope({}, async (scope) => {
          for (const op of ops) {
            if (op.kind === "call") {
              const promise = fn(op.key);
              returned.push(promise);
              const run = entries.get(op.key);
              if (run === undefined) {
                counts.misses++;
                entries.set(op.key, pending.length - 1);
                assert.equal(promise, pending.at(-1)!.promise, "a miss runs the function");
              } else {
                // Settled: a hit; still in flight: a join. Both get the stored promise.
                counts[settled.has(run) ? "hits" : "joins"]++;
                assert.equal(promise, pending[run].promise, "a hit shares the stored promise");
              }
            } else if (op.kind === "invalidate") {
              assert.equal(fn.invalidate(op.key), entries.delete(op.key));
            } else if (op.kind === "invalidateTag") {
              const keys = [...entries.keys()].filter((key) => tagsOf(key).includes(op.tag));
              for (const key of keys) entries.delete(key);
              assert.equal(invalidateTags(op.tag), keys.length);
            } else {
              const open = pending.map((_, i) => i).filter((i) => !settled.has(i));
              if (open.length === 0) continue;
              const run = open[op.run % open.length];
              if (op.reject) {
                pending[run].reject(new Error(`run ${run} ${op.keep ? "keep" : "drop"}`));
              } else pending[run].resolve(`run ${run}`);
              settled.set(run, op.reject ? "rejected" : "resolved");
              await flush();
              const kept = policy === "always" || (policy === "predicate" && op.keep);
              if (op.reject && !kept) {
                for (const [key, r] of entries) if (r === run) entries.delete(key);
              }
            }
            assert.equal(scope.stats.entries, entries.size);
            assert.equal(scope.stats.misses, pending.length);
            const { hits, misses, joins } = scope.stats;
            assert.deepEqual({ hits, misses, joins }, counts);
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
