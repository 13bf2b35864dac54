/**
 * Property test: random programs of calls, invalidations (by arguments and by tag), primes,
 * clears, nested scopes and disposals across concurrent scopes, run against the library and
 * against the reference model in `_property_model.ts`, which must agree on every result, every
 * run of the wrapped function, and every stats row.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { currentScope, invalidateTags, openCacheScope, perRequestCache } from "../../mod.ts";
import { endLane, type RealLane, startLane } from "./_property_lanes.ts";
import {
  Model,
  type ModelLane,
  ModelScope,
  seed,
  specsFor,
  tagVocabulary,
} from "./_property_model.ts";

const receiverA = { receiver: "A" };
const receiverB = { receiver: "B" };
/** Receivers a call may have; `undefined` is a plain call. */
const receivers: readonly unknown[] = [undefined, undefined, receiverA, receiverB, 7];
const symbol = Symbol("s");
const objectA = { id: 1 };
const objectB = { id: 1 };
const functionA = () => 1;
/** Arguments that the rules tell apart or together: 0 and -0 meet, NaN meets NaN, "1" is not 1. */
const pool: readonly unknown[] = [
  0,
  -0,
  NaN,
  1,
  "1",
  "",
  undefined,
  null,
  false,
  symbol,
  objectA,
  objectB,
  functionA,
  1n,
  "__proto__",
];

type CallOp = {
  kind: "call" | "invalidate" | "prime";
  lane: number;
  fn: number;
  receiver: number;
  args: number[];
};
type Op =
  | CallOp
  | { kind: "clear"; lane: number; fn: number }
  | { kind: "invalidateTags"; lane: number; tags: string[] }
  | { kind: "open"; lane: number; request: "own" | "other" | "none" }
  | { kind: "close"; lane: number }
  | { kind: "end"; lane: number }
  | { kind: "late"; lane: number; fn: number; args: number[] }
  | { kind: "outside"; fn: number; args: number[] }
  | { kind: "stats"; lane: number };

const LANES = 3;
const lane = fc.integer({ min: 0, max: LANES - 1 });
const fnIndex = fc.integer({ min: 0, max: 4 });
/** Indices into `pool`, mostly among the first few so that calls meet often. */
const argList = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: pool.length - 1 })),
  { maxLength: 3 },
);
const receiverIndex = fc.integer({ min: 0, max: receivers.length - 1 });

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("call" as const),
      lane,
      fn: fnIndex,
      receiver: receiverIndex,
      args: argList,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom("invalidate" as const, "prime" as const),
      lane,
      fn: fnIndex,
      receiver: receiverIndex,
      args: argList,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("clear" as const), lane, fn: fnIndex }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("invalidateTags" as const),
      lane,
      tags: fc.array(fc.constantFrom(...tagVocabulary), { maxLength: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("open" as const),
      lane,
      request: fc.constantFrom("own" as const, "other" as const, "none" as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("close" as const), lane }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("end" as const), lane }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("late" as const), lane, fn: fnIndex, args: argList }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("outside" as const), fn: fnIndex, args: argList }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("stats" as const), lane }) },
);

test("random programs over concurrent scopes agree with the model: results, runs and stats", async () => {
  const warn = console.warn;
  console.warn = () => {}; // entered lanes nesting another request warn once, by design
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.boolean(), { minLength: LANES, maxLength: LANES }),
        fc.array(opArbitrary, { minLength: 1, maxLength: 80, size: "max" }),
        async (maxEntries, enteredLanes, ops) => {
          const specs = specsFor(maxEntries);
          const model = new Model(specs);
          const realRuns = specs.map(() => 0);
          const fns: ((...args: unknown[]) => unknown)[] = [];
          for (const [i, spec] of specs.entries()) {
            const body = spec.wraps === undefined
              ? function (this: unknown, ..._args: unknown[]) {
                return `${spec.name}#${++realRuns[i]}`;
              }
              : fns[spec.wraps];
            const { name, key, maxEntries, tags } = spec;
            const options = { name, key, maxEntries, tags };
            fns.push(perRequestCache(body, options) as (...args: unknown[]) => unknown);
          }
          type Cached = ReturnType<typeof perRequestCache<(...args: unknown[]) => unknown>>;
          const cached = fns as Cached[];

          const real: RealLane[] = [];
          const modelLanes: ModelLane[] = [];
          const ghosts: RealLane[] = [];
          const open = (i: number) => {
            real[i] = startLane(enteredLanes[i]);
            const base = new ModelScope(real[i].request);
            modelLanes[i] = { stack: [], current: base, base };
          };
          for (let i = 0; i < LANES; i++) open(i);

          const check = (what: string, actual: unknown, expected: unknown) =>
            assert.deepEqual(actual, expected, what);

          try {
            for (const op of ops) {
              const where = JSON.stringify(op);
              if (op.kind === "outside" || op.kind === "late") {
                const args = op.args.map((i) => pool[i]);
                const ghost = op.kind === "late"
                  ? ghosts[op.lane % (ghosts.length || 1)]
                  : undefined;
                const thunk = () => [currentScope(), cached[op.fn](...args)];
                const [scope, value] = ghost === undefined ? thunk() : await ghost.late.ask(thunk);
                check(`${where}: no scope`, scope, undefined);
                check(`${where}: uncached`, value, model.call(undefined, op.fn, undefined, args));
                continue;
              }
              const lane = real[op.lane];
              const m = modelLanes[op.lane];
              switch (op.kind) {
                case "call":
                case "invalidate":
                case "prime": {
                  const receiver = receivers[op.receiver];
                  const args = op.args.map((i) => pool[i]);
                  const fn = cached[op.fn];
                  if (op.kind === "call") {
                    const value = await lane.jobs.ask(() => fn.apply(receiver, args));
                    check(where, value, model.call(m.current, op.fn, receiver, args));
                  } else if (op.kind === "invalidate") {
                    const dropped = await lane.jobs.ask(() => fn.invalidate.apply(receiver, args));
                    check(where, dropped, model.invalidate(m.current, op.fn, receiver, args));
                  } else {
                    const [stored, value] = model.prime(m.current, op.fn, receiver, args);
                    const primed = await lane.jobs.ask(() =>
                      fn.prime.call(receiver, args as never, value)
                    );
                    check(where, primed, stored);
                  }
                  break;
                }
                case "clear": {
                  const dropped = await lane.jobs.ask(() => cached[op.fn].clear());
                  check(where, dropped, model.clear(m.current, op.fn));
                  break;
                }
                case "invalidateTags": {
                  const dropped = await lane.jobs.ask(() => invalidateTags(...op.tags));
                  check(where, dropped, model.invalidateTags(m.current, op.tags));
                  break;
                }
                case "open": {
                  const request = op.request === "own"
                    ? lane.request
                    : op.request === "other"
                    ? lane.other
                    : undefined;
                  const handle = await lane.jobs.ask(() => openCacheScope(request));
                  lane.handles.push(handle);
                  const current = m.current;
                  if (request !== undefined && current?.request === request) {
                    current.references++;
                    m.stack.push({ scope: current, joined: true, restore: current });
                  } else {
                    const scope = new ModelScope(request);
                    // README, "Nesting": with bare enterWith scopes, another request's scope
                    // found current is never restored afterwards.
                    const adopts = !lane.entered || request === undefined ||
                      current?.request === undefined;
                    m.stack.push({ scope, joined: false, restore: adopts ? current : undefined });
                    m.current = scope;
                  }
                  break;
                }
                case "close": {
                  const handle = lane.handles.pop();
                  const top = m.stack.pop();
                  if (handle === undefined || top === undefined) break;
                  await lane.jobs.ask(() => handle[Symbol.dispose]());
                  if (--top.scope.references === 0 && m.current === top.scope) {
                    m.current = top.restore;
                  }
                  break;
                }
                case "end": {
                  await endLane(lane);
                  ghosts.push(lane);
                  open(op.lane);
                  break;
                }
                case "stats": {
                  const stats = await lane.jobs.ask(() => currentScope()?.stats);
                  check(where, stats, m.current && model.stats(m.current));
                  break;
                }
              }
              check(`${where}: runs`, realRuns, model.runs);
            }
            for (let i = 0; i < LANES; i++) {
              const stats = await real[i].jobs.ask(() => currentScope()?.stats);
              const m = modelLanes[i];
              check(`lane ${i} at the end`, stats, m.current && model.stats(m.current));
            }
          } finally {
            for (const lane of real) await endLane(lane);
            for (const lane of [...real, ...ghosts]) lane.late.put(null);
          }
          assert.equal(currentScope(), undefined);
        },
      ),
      { numRuns: 150, ...seed },
    );
  } finally {
    console.warn = warn;
  }
});
