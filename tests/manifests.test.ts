import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

test("deno.json and jsr.json agree on name, version and exports", () => {
  const deno = JSON.parse(read("deno.json"));
  const jsr = JSON.parse(read("jsr.json"));
  assert.equal(jsr.name, deno.name);
  assert.equal(jsr.version, deno.version);
  assert.deepEqual(jsr.exports, deno.exports);
});

test("every public file under src/ is re-exported by an entry point", () => {
  const exports: Record<string, string> = JSON.parse(read("deno.json")).exports;
  const entries = Object.values(exports).map(read).join("\n");
  const publicFiles = readdirSync(new URL("src/", root))
    .filter((name) => name.endsWith(".ts") && !name.startsWith("_"));
  assert.ok(publicFiles.length > 0);
  for (const name of publicFiles) {
    assert.ok(entries.includes(`export * from "./src/${name}";`), `src/${name} is not exported`);
  }
});

test("entry points only document and re-export", () => {
  const exports: Record<string, string> = JSON.parse(read("deno.json")).exports;
  for (const path of Object.values(exports)) {
    const code = read(path).replace(/\/\*\*[\s\S]*?\*\//g, "").trim().split("\n");
    for (const line of code) {
      assert.match(line, /^export (\*|type \*) from "\.\/src\/[a-z_]+\.ts";$/, path);
    }
  }
});
