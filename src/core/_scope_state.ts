import { AsyncLocalStorage } from "node:async_hooks";
import { EntryTable } from "./_entry_table.ts";
import { CacheScope } from "./cache_scope.ts";
import {
  publishScopeEnd,
  publishScopeStart,
  scopeEndChannel,
  scopeStartChannel,
} from "./_channels.ts";

/**
 * What the async context holds: a slot for the scope that cached functions use right now.
 *
 * There are two kinds of frame, and the difference is the whole isolation story:
 *
 * - A *run* frame is made by `storage.run(...)` (`runInCacheScope`, `withCacheScope`, the
 *   middleware). `run` restores the caller's store when its callback returns, so a run frame is
 *   seen only by the code that descends from that one call: one request. Opening a scope inside
 *   it fills the slot and disposing empties it again; no `enterWith` is needed, which is what
 *   makes `using` work on workerd, where `enterWith` throws.
 * - An *entered* frame is made by `storage.enterWith(...)` (`openCacheScope` with no run frame
 *   around it). `enterWith` changes the store of the execution that is running, and on
 *   `Deno.serve` that execution is the server's accept loop, so the next request's handler
 *   starts with this frame as its store. An entered frame may therefore be seen by a request
 *   that did not make it. `openCacheScope` treats it with that suspicion (it never adopts
 *   another request's active scope), but code that runs in such a handler *before* it opens its
 *   own scope reads the other request's cache: nothing in the store says which request is
 *   running. Only a run context per request (`withCacheScope`) closes that gap, which is why
 *   the README sends `Deno.serve` users there.
 *
 * When a scope ends, every frame that holds it has its slot emptied (or given back to the scope
 * it was opened over, for a run frame). Code that still runs in that context afterwards (a
 * timer, a late promise) then finds no scope and calls through uncached.
 */
export class Frame {
  /** The scope cached functions use in this context, or `undefined` for none. */
  current: ScopeState | undefined;
  /** Whether `storage.run` made this frame (see the class comment). */
  readonly isRun: boolean;

  constructor(current: ScopeState | undefined, isRun: boolean) {
    this.current = current;
    this.isRun = isRun;
  }
}

/** The one store of the package: every entry point reads the same instance. */
export const storage: AsyncLocalStorage<Frame> = new AsyncLocalStorage<Frame>();

/** Where a scope is opened: what {@linkcode ScopeState}'s constructor takes. */
export interface ScopeInit {
  /** The request the scope is for, as it was passed. */
  readonly request: object | undefined;
  /** What two openings compare to decide whether they are the same request. */
  readonly identity: object | undefined;
  /** The frame whose slot the scope fills. */
  readonly frame: Frame;
  /** For a run frame: the scope the slot held before, current again after this one. */
  readonly outer?: ScopeState;
  /** For an entered frame: the store to give back to the context that disposes the scope. */
  readonly storeBefore?: Frame;
  /** Given only for a worker's copy of a main-thread scope, which keeps the main one's id. */
  readonly id?: string;
}

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
   * Made on first read, as most scopes never show theirs: opening a scope allocates no string
   * (nor an array, see {@linkcode NO_TABLES}), since that is the cost a scope adds to a request.
   */
  #id: string | undefined;
  readonly request: object | undefined;
  /** What two openings compare to decide whether they are the same request. */
  readonly identity: object | undefined;
  /** The frame whose slot this scope was put in (see {@linkcode Frame}). */
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
  joins = 0;
  ended = false;
  references = 1;
  /** The handle `currentScope()` returns: the one that opened the scope. */
  readonly handle: CacheScope;
  /** Called once when the scope ends (worker pools drop what workers held for it). */
  endListeners: (() => void)[] | undefined;
  /** Why the scope ended, once it has: the `reason` of `reqcache:scope:end`. */
  endReason: Error | undefined;

  /** Opens a scope: it fills `init.frame`'s slot and makes the handle that opened it. */
  constructor(init: ScopeInit) {
    this.#id = init.id;
    this.request = init.request;
    this.identity = init.identity;
    this.frame = init.frame;
    this.outer = init.outer;
    this.storeBefore = init.storeBefore;
    init.frame.current = this;
    this.handle = new CacheScope(this);
    if (scopeStartChannel.hasSubscribers) publishScopeStart(this.handle);
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

  /** A second handle to this live scope, for an opening of the same request. */
  join(): CacheScope {
    this.references++;
    return new CacheScope(this);
  }

  /** Gives up one reference; the last one ends the scope. */
  release(): void {
    if (--this.references > 0) return;
    // Telemetry: the stats are read before the entries drop (see _channels.ts).
    const endStats = scopeEndChannel.hasSubscribers ? this.handle.stats : undefined;
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
    if (endStats !== undefined) {
      publishScopeEnd(
        this.handle,
        endStats,
        this.endReason ??= new Error(`cache scope ${this.id} ended`),
      );
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
