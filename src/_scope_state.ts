import { EntryTable } from "./_entry_table.ts";
import { type Frame, storage } from "./_frame.ts";
import type { CacheScope } from "./cache_scope.ts";

let scopeCount = 0;
/** Drawn by the first scope, not at load: workerd refuses random values in global scope. */
let idPrefix: string | undefined;

/**
 * Everything one request's cache holds. A scope owns its entries; cached functions own only
 * their options and find their table here by index, so ending a scope drops every entry of
 * every function at once.
 *
 * Handles ({@linkcode CacheScope}) count as references: the scope ends when the last one that
 * opened or joined it is disposed.
 */
export class ScopeState {
  /**
   * Made on first read, as most scopes never show theirs. This and {@linkcode NO_TABLES} (no
   * string and no array per scope) took `openCacheScope` + dispose from 78 to 48 ns on Bun and
   * `runInCacheScope` from 104 to 61 ns, whose `enterWith` and `run` cost 15 and 20.
   */
  #id: string | undefined;
  readonly request: object | undefined;
  /** What two openings compare to decide whether they are the same request. */
  readonly identity: object | undefined;
  /** The frame whose slot this scope was put in (see `_frame.ts`). */
  readonly frame: Frame;
  /** For a run frame: the scope the slot held before this one, current again after it. */
  readonly outer: ScopeState | undefined;
  /** For an entered frame: the store to give back to the context that disposes this scope. */
  readonly storeBefore: Frame | undefined;
  /**
   * Entry tables, indexed by the cached function's number: a sparse array, holes read as
   * undefined. {@linkcode NO_TABLES} until the first miss, and again once the scope has ended.
   */
  tables: EntryTable[] = NO_TABLES;
  hits = 0;
  misses = 0;
  ended = false;
  references = 1;
  /** The handle `currentScope()` returns: the one that opened the scope. */
  handle!: CacheScope;
  /** Called once when the scope ends (worker pools drop what workers held for it). */
  endListeners: (() => void)[] | undefined;

  constructor(
    request: object | undefined,
    identity: object | undefined,
    frame: Frame,
    outer: ScopeState | undefined,
    storeBefore: Frame | undefined,
    /** Given only for a worker's copy of a main-thread scope, which keeps the main one's id. */
    id?: string,
  ) {
    this.#id = id;
    this.request = request;
    this.identity = identity;
    this.frame = frame;
    this.outer = outer;
    this.storeBefore = storeBefore;
  }

  /** Unique among all scopes of this process and of its workers. */
  get id(): string {
    return this.#id ??= `${idPrefix ??= crypto.randomUUID().slice(0, 8)}-${
      (++scopeCount).toString(36)
    }`;
  }

  /** The function's table; only for a scope that has not ended. */
  table(index: number, name: string): EntryTable {
    if (this.tables === NO_TABLES) this.tables = [];
    return this.tables[index] ??= new EntryTable(name);
  }

  /** Gives up one reference; the last one ends the scope. */
  release(): void {
    if (--this.references > 0) return;
    this.ended = true;
    this.tables = NO_TABLES;
    const listeners = this.endListeners;
    this.endListeners = undefined;
    const frame = this.frame;
    if (frame.isRun) {
      // Scopes opened inside one run frame may end out of order (concurrent branches), so
      // the slot goes back to the nearest outer scope that is still alive.
      if (frame.current === this) {
        let outer = this.outer;
        while (outer !== undefined && outer.ended) outer = outer.outer;
        frame.current = outer;
      }
    } else {
      frame.current = undefined;
      // Only the context that is still in this scope's frame gets the earlier store back;
      // disposing from anywhere else must not overwrite that other context's store.
      if (storage.getStore() === frame) storage.enterWith(this.storeBefore as Frame);
    }
    if (listeners !== undefined) runEndListeners(this.id, listeners);
  }

  /** Calls `listener` when the scope ends; at once if it has ended already. */
  onEnd(listener: () => void): void {
    if (this.ended) listener();
    else (this.endListeners ??= []).push(listener);
  }
}

/** The tables of a scope that has none: shared, never written (`table()` replaces it first). */
const NO_TABLES: EntryTable[] = [];

/** Every listener runs even if one throws; the errors are rethrown together afterwards. */
function runEndListeners(id: string, listeners: (() => void)[]): void {
  const errors: unknown[] = [];
  for (const listener of listeners) {
    try {
      listener();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) {
    throw new AggregateError(
      errors,
      `Cannot end cache scope ${id} cleanly: ${errors.length} end listener(s) threw`,
    );
  }
}
