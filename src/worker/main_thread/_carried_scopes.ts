/**
 * The main-thread scopes a pool has carried into its workers: each with the context it was
 * given once, and the workers that hold a copy of it, told when it ends.
 */
import { describe, notCloneableError } from "../../_errors.ts";
import type { ScopeState } from "../../core/_scope_state.ts";
import type { CacheScope } from "../../core/cache_scope.ts";
import type { PoolScope, PoolWorker } from "./_pool_worker.ts";
import { defaultContext } from "./_pool_options.ts";
import { endReasonCode } from "../../core/_end_reasons.ts";

export class CarriedScopes {
  #context: (scope: CacheScope) => object | undefined;
  /** Live scopes by id; each removes itself when it ends. */
  #scopes: Map<string, PoolScope> = new Map();
  #nextRef = 0;
  /** The pool's part when a scope ends: cancelling the scope's tasks. */
  #onEnd: (scope: PoolScope) => void;

  constructor(
    context: (scope: CacheScope) => object | undefined,
    onEnd: (scope: PoolScope) => void,
  ) {
    this.#context = context;
    this.#onEnd = onEnd;
  }

  /** How many live scopes the pool has carried. */
  get size(): number {
    return this.#scopes.size;
  }

  /** The record of a live scope, made (with its context, checked) the first time. */
  of(state: ScopeState): PoolScope {
    const known = this.#scopes.get(state.id);
    if (known !== undefined) return known;
    const context = this.#context(state.handle);
    if (this.#context !== defaultContext) checkContext(state, context);
    const scope: PoolScope = {
      id: state.id,
      ref: this.#nextRef++,
      state,
      context,
      workers: [],
      queued: 0,
    };
    this.#scopes.set(state.id, scope);
    state.onEnd(() => this.#end(scope));
    return scope;
  }

  /** The scope with this id, if it is still alive (a worker's lookup names it by id). */
  live(id: string): ScopeState | undefined {
    const known = this.#scopes.get(id);
    return known === undefined || known.state.ended ? undefined : known.state;
  }

  /** Whether `worker` holds a copy of the scope already (else its next task carries it). */
  isIn(worker: PoolWorker, scope: PoolScope): boolean {
    return scope.workers.includes(worker);
  }

  /** Records that a task carried the scope's opening into `worker`: it ends there too. */
  carriedInto(worker: PoolWorker, scope: PoolScope): void {
    scope.workers.push(worker);
  }

  /** A stopped worker holds nothing any more. */
  forget(worker: PoolWorker): void {
    for (const scope of this.#scopes.values()) {
      const place = scope.workers.indexOf(worker);
      if (place !== -1) scope.workers.splice(place, 1);
    }
  }

  clear(): void {
    this.#scopes.clear();
  }

  /**
   * Tells the workers first, so a running task's `cacheSignal()` aborts before any grace; a
   * worker that runs no task of the scope hears of it with its next message (see `endScope`).
   */
  #end(scope: PoolScope): void {
    this.#scopes.delete(scope.id);
    const why = endReasonCode(scope.state.endedBecause!);
    for (const worker of scope.workers) {
      worker.endScope(scope.ref, why, worker.job?.scope === scope);
    }
    scope.workers.length = 0;
    this.#onEnd(scope);
  }
}

/**
 * Checks what a `context` option returned for a scope: an object or `undefined`, and one that
 * clones, so that the error names the context rather than the task that would carry it. The
 * default context is strings only, and is not checked.
 */
function checkContext(state: ScopeState, context: unknown): void {
  if (context !== undefined && (typeof context !== "object" || context === null)) {
    throw new TypeError(
      `Cannot carry cache scope ${state.id} into a worker: context must return an object or undefined, received ${
        describe(context)
      }`,
    );
  }
  try {
    structuredClone(context);
  } catch (cause) {
    throw notCloneableError(
      `carry cache scope ${state.id} into a worker`,
      "its context is",
      cause,
    );
  }
}
