import { test } from "node:test";
import assert from "node:assert/strict";
import { readSource, sourceFiles } from "./_source_tree.ts";

test("deno.json and jsr.json agree on name, version and exports", () => {
  const deno = JSON.parse(readSource("deno.json"));
  const jsr = JSON.parse(readSource("jsr.json"));
  assert.equal(jsr.name, deno.name);
  assert.equal(jsr.version, deno.version);
  assert.deepEqual(jsr.exports, deno.exports);
});

test("every public file under src/, at any depth, is re-exported by an entry point", () => {
  const exports: Record<string, string> = JSON.parse(readSource("deno.json")).exports;
  const entries = Object.values(exports).map(readSource).join("\n");
  const publicFiles = sourceFiles("src").filter((path) => !path.split("/").at(-1)!.startsWith("_"));
  assert.ok(publicFiles.length > 0);
  for (const path of publicFiles) {
    assert.ok(
      entries.includes(`export * from "./${path}";`) ||
        entries.includes(`export type * from "./${path}";`),
      `${path} is not exported`,
    );
  }
});

test("entry points only document and re-export", () => {
  const exports: Record<string, string> = JSON.parse(readSource("deno.json")).exports;
  for (const path of Object.values(exports)) {
    const code = readSource(path).replace(/\/\*\*[\s\S]*?\*\//g, "").trim().split("\n");
    for (const line of code) {
      assert.match(line, /^export (\*|type \*) from "\.\/src\/([a-z_]+\/)*[a-z_]+\.ts";$/, path);
    }
  }
});
