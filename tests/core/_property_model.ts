/**
 * The reference model of the property tests (`properties_*.test.ts`): what the README's rules
 * ("The rules") say a program does, written from the README alone. The library and the model must
 * agree on every result, every run of the wrapped function, and every stats row.
 *
 * The model is deliberately naive (arrays searched with SameValueZero, oldest entry first), so
 * it shares no code or data structure with `src/`. fast-check prints the seed and the shrunk
 * counterexample on failure; to replay one, set `FC_SEED` (and `FC_PATH`) in the environment.
 */

/** fast-check's replay parameters, from `FC_SEED` and `FC_PATH` when they are set. */
export const seed = process.env.FC_SEED === undefined ? {} : {
  seed: Number(process.env.FC_SEED),
  path: process.env.FC_PATH,
};

/** SameValueZero, written out: the equality the README promises for arguments and keys. */
export function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

export function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => same(value, b[i]));
}

export interface FnSpec {
  name: string;
  /** Which spec this one wraps (a cached function over a cached function), if any. */
  wraps?: number;
  key?: (...args: unknown[]) => unknown;
  maxEntries?: number;
  tags?: (...args: unknown[]) => string[];
}

/** The tags `specsFor`'s functions give their entries, and one that none gives. */
export const tagVocabulary: readonly string[] = [
  "all",
  "arity:0",
  "arity:1",
  "arity:2",
  "stacked",
  "none",
];

export function specsFor(maxEntries: number): FnSpec[] {
  return [
    { name: "plain", tags: (...args) => ["all", `arity:${args.length}`] },
    { name: "bounded", maxEntries },
    // Keyed by the first argument but tagged by arity: the tags of the call that missed count.
    { name: "keyed", key: (...args) => args[0], tags: (...args) => [`arity:${args.length}`] },
    { name: "method", maxEntries: maxEntries + 1, tags: (...args) => args.length ? ["all"] : [] },
    { name: "stacked", wraps: 0, tags: () => ["stacked", "all", "stacked"] },
  ];
}

/** The model of one scope: its entries per function, oldest first, and its counters. */
export class ModelScope {
  readonly request: object | undefined;
  readonly tables = new Map<number, { hits: number; misses: number; entries: ModelEntry[] }>();
  hits = 0;
  misses = 0;
  references = 1;

  constructor(request: object | undefined) {
    this.request = request;
  }

  table(fn: number) {
    let table = this.tables.get(fn);
    if (table === undefined) this.tables.set(fn, table = { hits: 0, misses: 0, entries: [] });
    return table;
  }

  find(fn: number, receiver: unknown, parts: unknown[]): number {
    const entries = this.tables.get(fn)?.entries ?? [];
    return entries.findIndex((e) => same(e.receiver, receiver) && sameList(e.parts, parts));
  }
}

export interface ModelEntry {
  receiver: unknown;
  parts: unknown[];
  value: string;
  tags: readonly string[];
}

/** What the README says a program does. */
export class Model {
  readonly specs: FnSpec[];
  /** Runs of each function's body so far. */
  readonly runs: number[];
  primes = 0;

  constructor(specs: FnSpec[]) {
    this.specs = specs;
    this.runs = specs.map(() => 0);
  }

  partsOf(fn: number, args: unknown[]): unknown[] {
    const key = this.specs[fn].key;
    return key === undefined ? args : [key(...args)];
  }

  call(scope: ModelScope | undefined, fn: number, receiver: unknown, args: unknown[]): string {
    if (scope !== undefined) {
      const parts = this.partsOf(fn, args);
      const at = scope.find(fn, receiver, parts);
      const table = scope.table(fn);
      if (at >= 0) {
        table.hits++;
        scope.hits++;
        const [entry] = table.entries.splice(at, 1);
        table.entries.push(entry);
        return entry.value;
      }
      table.misses++;
      scope.misses++;
      const tags = this.specs[fn].tags?.(...args) ?? [];
      const value = this.run(scope, fn, receiver, args);
      table.entries.push({ receiver, parts, value, tags });
      this.evict(fn, table.entries);
      return value;
    }
    return this.run(undefined, fn, receiver, args);
  }

  run(scope: ModelScope | undefined, fn: number, receiver: unknown, args: unknown[]): string {
    const wraps = this.specs[fn].wraps;
    if (wraps !== undefined) return this.call(scope, wraps, receiver, args);
    return `${this.specs[fn].name}#${++this.runs[fn]}`;
  }

  evict(fn: number, entries: ModelEntry[]): void {
    const max = this.specs[fn].maxEntries ?? Infinity;
    while (entries.length > max) entries.shift();
  }

  invalidate(scope: ModelScope | undefined, fn: number, receiver: unknown, args: unknown[]) {
    const wraps = this.specs[fn].wraps;
    if (wraps !== undefined) this.invalidate(scope, wraps, receiver, args);
    if (scope === undefined) return false;
    const at = scope.find(fn, receiver, this.partsOf(fn, args));
    if (at < 0) return false;
    scope.tables.get(fn)!.entries.splice(at, 1);
    return true;
  }

  clear(scope: ModelScope | undefined, fn: number): number {
    const wraps = this.specs[fn].wraps;
    if (wraps !== undefined) this.clear(scope, wraps);
    const entries = scope?.tables.get(fn)?.entries;
    if (entries === undefined) return 0;
    return entries.splice(0).length;
  }

  /** README, "Invalidation": every entry of every function carrying any of the tags. */
  invalidateTags(scope: ModelScope | undefined, tags: readonly string[]): number {
    let dropped = 0;
    for (const table of scope?.tables.values() ?? []) {
      const kept = table.entries.filter((e) => !e.tags.some((tag) => tags.includes(tag)));
      dropped += table.entries.length - kept.length;
      table.entries.splice(0, Infinity, ...kept);
    }
    return dropped;
  }

  prime(
    scope: ModelScope | undefined,
    fn: number,
    receiver: unknown,
    args: unknown[],
  ): [boolean, string] {
    const value = `primed#${++this.primes}`;
    if (scope === undefined) return [false, value];
    const parts = this.partsOf(fn, args);
    const table = scope.table(fn);
    if (scope.find(fn, receiver, parts) >= 0) return [false, value];
    table.entries.push({ receiver, parts, value, tags: this.specs[fn].tags?.(...args) ?? [] });
    this.evict(fn, table.entries);
    return [true, value];
  }

  stats(scope: ModelScope) {
    let entries = 0;
    const functions = [...scope.tables.entries()].sort(([a], [b]) => a - b).map(([fn, t]) => {
      entries += t.entries.length;
      return {
        name: this.specs[fn].name,
        hits: t.hits,
        misses: t.misses,
        joins: 0, // the model's functions are synchronous: nothing is ever in flight
        entries: t.entries.length,
      };
    });
    return { hits: scope.hits, misses: scope.misses, joins: 0, entries, functions };
  }
}

export interface ModelLane {
  /** Scopes opened by "open", innermost last, and what becomes current when each ends. */
  readonly stack: { scope: ModelScope; joined: boolean; restore: ModelScope | undefined }[];
  current: ModelScope | undefined;
  readonly base: ModelScope;
}
