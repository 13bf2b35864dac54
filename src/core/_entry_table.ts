/**
 * One cached function's entries inside one scope.
 *
 * Keys are what `_call_key.ts` derives from a call: the argument itself for the common
 * one-argument call, or an interned {@linkcode CallKey} for every other shape. The `Map`'s
 * insertion order doubles as the recency order for `maxEntries`, so a bounded table costs one
 * `delete` + `set` per hit and nothing else.
 */

/**
 * A stored result. `state` is {@linkcode READY} once `value` holds what the function returned;
 * {@linkcode COMPUTING} while the function runs synchronously for it; {@linkcode FAILED} if the
 * function threw and the entry could not be deleted (see `callAndStore`).
 */
export interface Entry {
  value: unknown;
  state: EntryState;
}

/** Values of {@linkcode Entry.state}. */
export type EntryState = 0 | 1 | 2;
export const READY = 0 as const;
export const COMPUTING = 1 as const;
export const FAILED = 2 as const;

/** Interned key for calls that are not "one argument, no receiver": see `_call_key.ts`. */
export interface CallKey {
  readonly path: readonly unknown[];
  readonly root: number;
}

/** A trie node: one `Map` per argument position. Leaves are {@linkcode CallKey}s. */
export type KeyNode = Map<unknown, KeyNode | CallKey>;

export class EntryTable {
  readonly name: string;
  readonly entries: Map<unknown, Entry> = new Map();
  /** Trie roots by call shape (arity, and whether a receiver leads the path). */
  readonly roots: Map<number, KeyNode> = new Map();
  hits = 0;
  misses = 0;
  /** Calls of the batch function: a number for a `perRequestBatch` function's table only. */
  batches: number | undefined = undefined;
  /** A `perRequestBatch` function's loads not yet dispatched in this scope (`_pending_batch.ts`). */
  pending: object | undefined = undefined;

  constructor(name: string) {
    this.name = name;
  }

  /** Drops one entry and, for an interned key, its path in the trie. */
  delete(key: unknown): boolean {
    if (!this.entries.delete(key)) return false;
    if (isCallKey(key)) forgetCallKey(this.roots, key);
    return true;
  }

  /** Drops the least recently used entries until at most `max` remain. */
  evictBeyond(max: number): void {
    while (this.entries.size > max) {
      this.delete(this.entries.keys().next().value);
    }
  }

  /**
   * Drops a promise's entry when it rejects, but only if the entry is still that promise's:
   * by then it may have been invalidated and stored anew, and the new one must survive. Only
   * native promises are watched: calling `then` on another thenable may start its work.
   */
  evictOnRejection(key: unknown, entry: Entry): void {
    if (!(entry.value instanceof Promise)) return;
    entry.value.then(undefined, () => {
      if (this.entries.get(key) === entry) this.delete(key);
    });
  }

  clear(): number {
    const dropped = this.entries.size;
    this.entries.clear();
    this.roots.clear();
    return dropped;
  }
}

const callKeys = new WeakSet<object>();

export function makeCallKey(root: number, path: unknown[]): CallKey {
  const key: CallKey = { path, root };
  callKeys.add(key);
  return key;
}

export function isCallKey(value: unknown): value is CallKey {
  return typeof value === "object" && value !== null && callKeys.has(value);
}

function forgetCallKey(roots: Map<number, KeyNode>, key: CallKey): void {
  const nodes: KeyNode[] = [];
  let node = roots.get(key.root);
  for (let i = 0; node !== undefined && i < key.path.length - 1; i++) {
    nodes.push(node);
    node = node.get(key.path[i]) as KeyNode | undefined;
  }
  if (node === undefined) return;
  node.delete(key.path[key.path.length - 1]);
  // Prune the branches that the dropped key was the last one to use, so that a bounded table
  // also bounds its trie.
  for (let i = nodes.length - 1; i >= 0 && node.size === 0; i--) {
    nodes[i].delete(key.path[i]);
    node = nodes[i];
  }
  if (node.size === 0) roots.delete(key.root);
}
