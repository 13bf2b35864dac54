/**
 * This thread's shared cached functions, by name: the name is what matches a function across
 * threads, and here it finds the function's table in a scope (its index in `scope.tables`).
 *
 * A name gets its index from the first of: the shared function made with it on this thread, or
 * a message from another thread that names it (the main thread keeps the entries of a function
 * that only workers define, under that name, in the scope's tables like any other). Two
 * different functions may not share a name on one thread (see `claimIndex`).
 */
import { nextFunctionIndex } from "../core/_function_index.ts";
import type { Entry, EntryTable } from "../core/_entry_table.ts";
import type { ScopeState } from "../core/_scope_state.ts";
import { describe } from "../_errors.ts";
import type { SharedDrop } from "./_protocol.ts";
import { localKey } from "./_value_key.ts";

interface Named {
  readonly index: number;
  /** The function made with this name, once one was. */
  fn: unknown;
  /** That function's `maxEntries` (until one was made: unbounded). */
  maxEntries: number;
}

const byName = new Map<string, Named>();
/** The indexes of `byName`, in one array read by every report. */
const indexes: number[] = [];

function register(name: string, fn: unknown, maxEntries: number): number {
  const index = nextFunctionIndex();
  byName.set(name, { index, fn, maxEntries });
  indexes.push(index);
  return index;
}

/**
 * The index of the shared function `fn` made as `name`, or a TypeError if the name is taken.
 *
 * A name is matched by the function's identity only: the same function made again under its
 * name shares its index, and any other function is refused. Matching by source would take two
 * closures of one factory, or two bound functions (whose source is `[native code]`), for one
 * function, and answer one's calls with the other's results. A module evaluated twice on one
 * thread makes new functions and is refused too; no runtime we test on does that (Bun's test
 * runner, one process for every file, evaluates a module once).
 */
export function claimIndex(
  name: string,
  fn: (...args: never[]) => unknown,
  maxEntries: number,
): number {
  const named = byName.get(name);
  if (named === undefined) return register(name, fn, maxEntries);
  if (named.fn !== undefined && named.fn !== fn) {
    throw new TypeError(
      `Cannot create a shared per-request cache: name is taken by another function on this thread; give each shared function its own name (it matches the function across threads), received ${
        describe(name)
      }`,
    );
  }
  named.fn = fn;
  named.maxEntries = maxEntries;
  return named.index;
}

/** The index of the shared function called `name`, made on first need (a message names it). */
export function indexOf(name: string): number {
  return byName.get(name)?.index ?? register(name, undefined, Infinity);
}

/**
 * Stores an entry of a shared function's `table` on another thread's behalf, as the function
 * made here stores its own: tagged, and within its `maxEntries`, the least recently used out
 * (the new entry is the most recent). A function not made here keeps every entry. A promise
 * needs no watch: its owner reports how it settled.
 */
export function storeShared(
  table: EntryTable,
  key: unknown,
  entry: Entry,
  tags: readonly string[] | undefined,
): void {
  table.set(key, entry);
  if (tags !== undefined) table.tag(key, tags);
  table.evictBeyond(byName.get(table.name)?.maxEntries ?? Infinity);
}

/** An entry of a shared function's `table` was used for another thread: now the most recent. */
export function touchShared(table: EntryTable, key: unknown, entry: Entry): void {
  if ((byName.get(table.name)?.maxEntries ?? Infinity) !== Infinity) table.touch(key, entry);
}

/** The indexes of every shared function this thread knows: the tables whose entries cross threads. */
export function sharedIndexes(): readonly number[] {
  return indexes;
}

/** Drops in this thread's tables of `scope` what another thread dropped in its own. */
export function applyDrop(scope: ScopeState, drop: SharedDrop): void {
  if (drop.op === "tags") {
    for (const index of indexes) {
      const table = scope.tables[index];
      if (table !== undefined) { for (const tag of drop.tags) table.invalidateTag(tag); }
    }
    return;
  }
  const index = byName.get(drop.fn)?.index;
  const table = index === undefined ? undefined : scope.tables[index];
  if (table === undefined) return;
  if (drop.all) table.clear();
  else table.delete(localKey(table, drop.key, false));
}
