import { type Frame, storage } from "./_frame.ts";
import { EntryTable } from "./_entry_table.ts";
import { CacheScope } from "./cache_scope.ts";
import {
  publishScopeEnd,
  publishScopeStart,
  scopeEndChannel,
  scopeStartChannel,
} from "./_channels.ts";
import {
  EndedBecause,
  endReasonError,
  reportEndListenerError,
  runEndListeners,
} from "./_end_reasons.ts";

/** The tables of a scope that has none: shared, never written (`table()` replaces it first). */
const NO_TABLES: EntryTable[] = [];

/**
 * What few scopes use, kept out of `ScopeState` and made on first need: a scope is allocated
 * per request, and its cost grows with its field count (on Bun each field adds to every
 * opening: see the "floor: …, and a scope's objects" rows of `bench/_micro.ts`).
 */
class ScopeExtras {
  /** The scope's id: drawn on first read, or a worker's copy of a main-thread scope's. */
  id: string | undefined = undefined;
  /** Called once when the scope ends (worker pools drop what workers held for it). */
  endListeners: (() => void)[] | undefined = undefined;
  /** Stops watching the client leave: set once the signal was read inside a server handler. */
  unwatchClient: (() => void) | undefined = undefined;
  /** `waitUntil` promises not settled yet: each keeps the scope alive after its last handle. */
  waits = 0;
  /** The scope's end reason, made on first read once it has ended. */
  reason: Error | undefined = undefined;
  /** Made on the first read of the scope's signal: most scopes never need one. */
  controller: AbortController | undefined = undefined;
}

let scopeCount = 0;
/** Drawn by the first scope, not at load: workerd refuses random values in global scope. */
let idPrefix: string | undefined;

/** A new scope id, unique among all scopes of this process and of its workers. */
function drawScopeId(): string {
  return `${idPrefix ??= crypto.randomUUID().slice(0, 8)}-${(++scopeCount).toString(36)}`;
}

/**
 * Everything one request's cache holds. A scope owns its entries; cached functions own only
 * their options and find their table here by index, so ending a scope drops every entry of
 * every function at once.
 *
 * Handles ({@linkcode CacheScope}) count as references: the scope ends when the last one that
 * opened or joined it is disposed.
 */
export class ScopeState {
  declare readonly request: object | undefined;
  /** What two openings compare to decide whether they are the same request. */
  declare readonly identity: object | undefined;
  /** The frame whose slot this scope was put in (see {@linkcode Frame}). */
  declare readonly frame: Frame;
  /**
   * In a run frame: the scope the slot held before this one, current again after it. In an
   * entered frame: the store to give back to the context that disposes this scope.
   */
  #before: ScopeState | Frame | undefined;
  /**
   * Entry tables, indexed by the cached function's number: a sparse array, holes read as
   * undefined. {@linkcode NO_TABLES} until the first miss, and again once the scope has ended.
   */
  declare tables: EntryTable[];
  /** Hits of the tables dropped at the end; a live table counts its own (one increment a hit). */
  declare hits: number;
  declare misses: number;
  declare joins: number;
  declare ended: boolean;
  /** Handles not disposed yet; 0 once the last one is, or once the client went away. */
  declare references: number;
  declare readonly handle: CacheScope; // what `currentScope()` returns: the opening handle
  /**
   * Set by a server integration while its handler runs (see {@linkcode watchClientWith}):
   * starts noticing the client leave and returns how to stop.
   */
  #watchClient: ((state: ScopeState) => () => void) | undefined;
  /** Why the scope ended: a phrase of {@linkcode EndedBecause}, a constant string. */
  #why: string | undefined;
  /** The rest, made on first need: each field here is paid by every request. */
  #extras: ScopeExtras | undefined;

  /**
   * Opens a scope: fills `frame`'s slot and makes the handle that opened it (`id`: for a worker's
   * copy of a main-thread scope only). Fields are `declare`d and all assigned here, in one order:
   * JSC builds an object faster from plain stores than from field definitions, and every request
   * pays for this constructor (the scope benchmarks guard this rule).
   */
  constructor(
    request: object | undefined,
    identity: object | undefined,
    frame: Frame,
    before: ScopeState | Frame | undefined,
    id?: string,
  ) {
    this.request = request;
    this.identity = identity;
    this.frame = frame;
    this.#before = before;
    this.tables = NO_TABLES;
    this.hits = 0;
    this.misses = 0;
    this.joins = 0;
    this.ended = false;
    this.references = 1;
    this.#watchClient = undefined;
    this.#why = undefined;
    this.#extras = undefined;
    if (id !== undefined) this.#more().id = id;
    frame.current = this;
    this.handle = new CacheScope(this);
    if (scopeStartChannel.hasSubscribers) publishScopeStart(this.handle);
  }

  #more(): ScopeExtras {
    return this.#extras ??= new ScopeExtras();
  }

  /** Unique among all scopes of this process and of its workers. */
  get id(): string {
    return this.#more().id ??= drawScopeId();
  }

  /** The phrase that says why the scope ended (see {@linkcode EndedBecause}), or `undefined`. */
  get endedBecause(): string | undefined {
    return this.#why;
  }

  /** Why the scope ended ("cache scope <id> ended: …"), or `undefined` while it is alive. */
  get endReason(): Error | undefined {
    if (this.#why === undefined) return undefined;
    return this.#more().reason ??= endReasonError(this.id, this.#why);
  }

  /** Aborts with {@linkcode endReason} when the scope ends; already aborted once it has. */
  get signal(): AbortSignal {
    const extras = this.#more();
    if (extras.controller === undefined) {
      const controller = extras.controller = new AbortController();
      if (this.ended) controller.abort(this.endReason);
      else if (this.#watchClient !== undefined) {
        const unwatch = this.#watchClient(this);
        // The client may have gone already, which ends the scope inside #watchClient.
        if (this.ended || this.#watchClient === undefined) unwatch();
        else extras.unwatchClient = unwatch;
      }
    }
    return extras.controller.signal;
  }

  /**
   * For a server integration, while its handler runs: `watch` starts noticing the client leave
   * and returns how to stop. It is called on the first read of {@linkcode signal} only, so a
   * request that never asks for the signal costs no listener (see server/_watch_client.ts).
   */
  watchClientWith(watch: (state: ScopeState) => () => void): void {
    this.#watchClient = watch;
  }

  /** The handler returned (or the response is sent): the client's leaving is not watched. */
  stopWatchingClient(): void {
    this.#watchClient = undefined;
    const extras = this.#extras;
    const unwatch = extras?.unwatchClient;
    if (unwatch === undefined) return;
    extras!.unwatchClient = undefined;
    unwatch();
  }

  /** The function's table; only for a scope that has not ended. */
  table(index: number, name: string, batched = false): EntryTable {
    if (this.tables === NO_TABLES) this.tables = [];
    return this.tables[index] ??= new EntryTable(name, batched);
  }

  /** Whether an opening for `identity` joins this scope: it is live, and for that request. */
  isLiveFor(identity: object | undefined): boolean {
    return !this.ended && identity !== undefined && this.identity === identity;
  }

  /** A second handle to this live scope, for an opening of the same request. */
  join(): CacheScope {
    this.references++;
    return new CacheScope(this);
  }

  /** Gives up one reference; the last ends the scope, unless `waitUntil` work holds it. */
  release(why: string): void {
    if (this.references === 0 || --this.references > 0) return;
    this.#lastReleased(why);
  }

  /**
   * The request is over whatever handles are still held (the client went away): the scope ends
   * now, unless `waitUntil` work holds it, as `ctx.waitUntil` work outlives the client.
   */
  abandon(why: string): void {
    if (this.references === 0) return;
    this.references = 0;
    this.#lastReleased(why);
  }

  /** Keeps the scope alive until `promise` settles; a rejection is reported, not thrown. */
  waitUntil(promise: PromiseLike<unknown>): void {
    const extras = this.#more();
    extras.waits++;
    const settled = () => {
      if (--extras.waits > 0 || this.references > 0 || this.ended) return;
      try {
        this.#end(EndedBecause.waitUntilSettled);
      } catch (error) {
        reportEndListenerError(this.id, error);
      }
    };
    Promise.resolve(promise).then(settled, (error) => {
      console.error(
        `@reqcache/core: a waitUntil promise of cache scope ${this.id} rejected`,
        error,
      );
      settled();
    });
  }

  #lastReleased(why: string): void {
    const frame = this.frame;
    // Only the context that is still in this entered frame gets the earlier store back;
    // disposing from anywhere else must not overwrite that other context's store. It gets it
    // back now even if waitUntil work keeps the scope: that work runs in contexts of its own.
    if (!frame.isRun && storage.getStore() === frame) {
      storage.enterWith(this.#before as Frame);
    }
    if (this.#extras === undefined || this.#extras.waits === 0) this.#end(why);
  }

  #end(why: string): void {
    // Telemetry: the stats are read before the entries drop (see _channels.ts).
    const endStats = scopeEndChannel.hasSubscribers ? this.handle.stats : undefined;
    this.ended = true;
    this.#why = why;
    const tables = this.tables;
    for (let i = 0; i < tables.length; i++) this.hits += tables[i]?.hits ?? 0; // a hole adds 0
    this.tables = NO_TABLES;
    this.stopWatchingClient();
    const frame = this.frame;
    if (!frame.isRun) frame.current = undefined;
    else if (frame.current === this) {
      // Scopes opened inside one run frame may end out of order (concurrent branches), so
      // the slot goes back to the nearest outer scope that is still alive.
      let outer = this.#before as ScopeState | undefined;
      while (outer !== undefined && outer.ended) outer = outer.#before as ScopeState | undefined;
      frame.current = outer;
    }
    if (endStats !== undefined) publishScopeEnd(this.handle, endStats, this.endReason!);
    const extras = this.#extras;
    if (extras === undefined) return; // no signal, no listeners
    // The signal aborts before the end listeners run: work told to stop stops first.
    extras.controller?.abort(this.endReason);
    const listeners = extras.endListeners;
    extras.endListeners = undefined;
    if (listeners !== undefined) runEndListeners(this.id, listeners);
  }

  /** Calls `listener` when the scope ends; at once if it has ended already. */
  onEnd(listener: () => void): void {
    if (this.ended) listener();
    else (this.#more().endListeners ??= []).push(listener);
  }
}
