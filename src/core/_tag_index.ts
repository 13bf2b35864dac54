/**
 * The tags of one entry table's entries (the `tags` option), so that `invalidateTags` finds
 * every entry that carries a tag without scanning the table.
 *
 * It lives in the {@linkcode EntryTable}, which the scope owns: it drops with the scope, and a
 * table keeps it in step with its entries (an entry dropped by `invalidate`, eviction or a
 * rejection leaves the index too), so a long request with a bounded table keeps a bounded index.
 */
import { describe } from "../_errors.ts";

/** Tag to keys, and key to tags, of one table's tagged entries. */
export class TagIndex {
  /** Keys of the entries carrying each tag. */
  readonly #keysByTag: Map<string, Set<unknown>> = new Map();
  /** The tags of each tagged entry, by key. */
  readonly #tagsByKey: Map<unknown, readonly string[]> = new Map();

  /** Records that the entry stored under `key` carries `tags` (already checked and copied). */
  add(key: unknown, tags: readonly string[]): void {
    this.#tagsByKey.set(key, tags);
    for (const tag of tags) {
      let keys = this.#keysByTag.get(tag);
      if (keys === undefined) this.#keysByTag.set(tag, keys = new Set());
      keys.add(key);
    }
  }

  /** Forgets the tags of the entry under `key`, which is leaving the table. */
  forget(key: unknown): void {
    const tags = this.#tagsByKey.get(key);
    if (tags === undefined) return;
    this.#tagsByKey.delete(key);
    for (const tag of tags) {
      const keys = this.#keysByTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#keysByTag.delete(tag);
    }
  }

  /** The keys carrying `tag`, copied, since dropping them changes the index. */
  keysWith(tag: string): unknown[] {
    const keys = this.#keysByTag.get(tag);
    return keys === undefined ? [] : [...keys];
  }
}

/**
 * The tags of a call of `name` with `args`, from its `tags` option (`undefined` if it has none),
 * checked and copied: the option may reuse or change its array afterwards, and the index must
 * not change with it. Called before anything is stored, so that bad tags store nothing.
 */
export function tagsOfCall(
  tagsOption: ((...args: unknown[]) => unknown) | undefined,
  args: unknown[],
  name: string,
): readonly string[] | undefined {
  if (tagsOption === undefined) return undefined;
  const tags = tagsOption.apply(undefined, args);
  if (!Array.isArray(tags)) throw tagsError(name, describe(tags));
  const copy: string[] = [];
  for (const tag of tags) {
    if (typeof tag !== "string") throw tagsError(name, `an array holding ${describe(tag)}`);
    copy.push(tag);
  }
  return copy;
}

function tagsError(name: string, received: string): TypeError {
  return new TypeError(
    `Cannot call ${name}: its tags option must return an array of strings, received ${received}; nothing was stored`,
  );
}
