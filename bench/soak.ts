/**
 * Soak: 1,000,000 request scopes with cached entries, then 1,000,000 distinct keys in one scope
 * with `maxEntries`, printing the heap before and after a full collection. Not part of CI (the
 * 100,000-scope version is tests/core/memory.test.ts); run it with `npm run soak`, which runs it on
 * Deno, Bun and Node in turn with the runtime's GC exposed:
 *
 * ```sh
 * deno run --v8-flags=--expose-gc bench/soak.ts
 * bun bench/soak.ts
 * node --expose-gc bench/soak.ts
 * ```
 *
 * Each request checks that every value it read was made for it (zero cross-request reads), and
 * one request in ten meets a fault (a throw, a rejection, or a call still in flight when its
 * scope ends). The process exits non-zero if any check fails or the retained heap grows by more
 * than 16 MiB.
 */
import { openCacheScope, perRequestCache, runInCacheScope } from "../mod.ts";
import { collect, mib, runtime } from "./_soak_heap.ts";

const SCOPES = 1_000_000;
const CONCURRENCY = 200;
const FLOOD_KEYS = 1_000_000;

interface Request {
  readonly n: number;
}

let crossReads = 0;
let faults = 0;

const getUser = perRequestCache(async (id: number, request: Request) => {
  await null;
  return { id, for: request.n };
});
const permissions = perRequestCache(
  (id: number, resource: string, request: Request) => ({ id, resource, for: request.n }),
);
const flags = perRequestCache((request: Request) => ({
  beta: request.n % 2 === 0,
  for: request.n,
}));
const flaky = perRequestCache(async (kind: number) => {
  await null;
  if (kind === 1) throw new Error("rejected");
  return kind;
});
const throwing = perRequestCache((_n: number): never => {
  throw new Error("thrown");
});
const slow = perRequestCache((_n: number) =>
  new Promise<number>((resolve) => setTimeout(resolve, 1, 1))
);

function check(value: { for: number }, request: Request): void {
  if (value.for !== request.n) crossReads++;
}

async function work(request: Request): Promise<void> {
  const { n } = request;
  for (const user of await Promise.all([getUser(n, request), getUser(n + 1, request)])) {
    check(user, request);
  }
  check(await getUser(n, request), request); // a hit
  for (const resource of ["read", "write", "read", "admin", "read"]) {
    check(permissions(n, resource, request), request);
  }
  check(flags(request), request);
  check(flags(request), request);
  if (n % 10 === 3) {
    faults++;
    await flaky(1).catch(() => {});
  } else if (n % 10 === 5) {
    faults++;
    try {
      throwing(n);
    } catch {
      // expected
    }
  } else if (n % 10 === 7) {
    faults++;
    void slow(n); // still in flight when the scope ends
  }
}

async function serve(n: number): Promise<void> {
  const request: Request = { n };
  if (n % 2 === 0) {
    await runInCacheScope(request, () => work(request));
  } else {
    await null;
    using _scope = openCacheScope(request);
    await work(request);
  }
}

async function serveMany(first: number, count: number): Promise<void> {
  for (let start = first; start < first + count; start += CONCURRENCY) {
    const batch: Promise<void>[] = [];
    for (let n = start; n < Math.min(start + CONCURRENCY, first + count); n++) batch.push(serve(n));
    await Promise.all(batch);
  }
}

console.log(`@reqcache/core soak on ${runtime}`);

await serveMany(0, 20_000); // warm up
const before = await collect();
const started = performance.now();
await serveMany(20_000, SCOPES);
const seconds = (performance.now() - started) / 1000;
const beforeGc = process.memoryUsage().heapUsed;
await new Promise((resolve) => setTimeout(resolve, 10)); // let the last in-flight calls settle
const after = await collect();
const retained = after - before;
console.log(
  `${SCOPES.toLocaleString("en")} scopes (${CONCURRENCY} in flight, 6 entries each, ` +
    `1 in 10 with a fault): ` +
    `${seconds.toFixed(1)} s, ${Math.round(SCOPES / seconds).toLocaleString("en")} scopes/s`,
);
console.log(
  `  heap: ${mib(before)} before, ${mib(beforeGc)} after the run, ${mib(after)} after GC: ` +
    `retained ${mib(retained)} (${(retained / SCOPES).toFixed(2)} bytes per scope)`,
);
console.log(
  `  cross-request reads: ${crossReads}; faults survived: ${faults.toLocaleString("en")}`,
);

const bounded = perRequestCache((key: number, tag: string) => ({ key, tag }), { maxEntries: 1000 });
const floodBefore = await collect();
let floodEntries = 0;
let floodHeld = 0;
await runInCacheScope({ flood: true }, async (scope) => {
  for (let i = 0; i < FLOOD_KEYS; i++) bounded(i, "t");
  floodEntries = scope.stats.entries;
  floodHeld = (await collect()) - floodBefore;
});
const floodAfter = (await collect()) - floodBefore;
console.log(
  `${FLOOD_KEYS.toLocaleString("en")} distinct keys in one scope, maxEntries 1000: ` +
    `${floodEntries} entries held, heap ${mib(floodHeld)} while open, ${mib(floodAfter)} after`,
);

const failures = [
  crossReads > 0 && `${crossReads} cross-request reads`,
  retained > 16 * 1024 * 1024 && `retained heap ${mib(retained)} > 16 MiB`,
  floodEntries > 1000 && `${floodEntries} entries > maxEntries`,
].filter(Boolean);
if (failures.length > 0) {
  console.error(`FAILED: ${failures.join("; ")}`);
  process.exit(1);
}
