/**
 * The package's source tree as the manifests and architecture tests read it: every `.ts` file
 * under `src/`, at any depth, named by its path from the repository root with `/` separators
 * ("src/core/cache_scope.ts"), so that names compare the same on every platform.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, as a file system path. */
export const root: string = fileURLToPath(new URL("../", import.meta.url));

/** Every `.ts` file under `dir` (a path from the root), recursively, sorted. */
export function sourceFiles(dir = "src"): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.isFile() && entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

/** The text of a file, by its path from the root. */
export function readSource(path: string): string {
  return readFileSync(join(root, path), "utf8");
}
