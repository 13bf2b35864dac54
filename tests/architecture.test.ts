/**
 * The architecture of `src/`, read from its imports:
 *
 * - `src/core/` is the single-thread cache and imports nothing from `src/server/` or `src/worker/`;
 * - `src/server/` imports only `src/core/`, itself and the shared private modules at the root of
 *   `src/` (`src/_*.ts`);
 * - `src/worker/main_thread/` and `src/worker/in_worker/` never import each other: code runs on
 *   one side of the thread boundary, and the tree says which;
 * - `src/otel/` imports only `src/core/`, itself, the shared private modules and
 *   `@opentelemetry/api`, its one peer dependency;
 * - no import circle, type-only imports included, except the two pairs of the scope state: with
 *   its handle (`src/core/_scope_state.ts` and `src/core/cache_scope.ts`) and with the frame that
 *   holds it (`src/core/_scope_state.ts` and `src/core/_frame.ts`);
 * - no file over 300 lines;
 * - imports are relative `.ts` files under `src/` or `node:` builtins (and `@opentelemetry/api`
 *   in `src/otel/`): the core, the servers and the workers have no runtime dependency.
 *
 * Each rule is a pure function over an import graph (file → the files it imports), so the first
 * half of this file shows on small hand-made graphs that every rule can fail, and how it says so;
 * the second half runs the rules on the real tree.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { posix } from "node:path";
import { readSource, sourceFiles } from "./_source_tree.ts";

/** File → what it imports: a path from the root for a relative import, else the specifier. */
type ImportGraph = ReadonlyMap<string, readonly string[]>;

const MAX_LINES = 300;
/**
 * The circles allowed, two files that import each other: a scope's state and the handle that
 * the public API hands out; a scope's state and the frame of the async context that holds it.
 */
const SCOPE_CIRCLES = [
  ["src/core/_scope_state.ts", "src/core/cache_scope.ts"],
  ["src/core/_scope_state.ts", "src/core/_frame.ts"],
] as const;

// ---------------------------------------------------------------------------------------------
// Reading imports
// ---------------------------------------------------------------------------------------------

/**
 * `code` with comments, template literals and regular expressions blanked out (newlines kept),
 * so that an `import` in a JSDoc example or in generated code is not taken for a real one.
 * Quoted strings stay: import specifiers are quoted strings.
 */
function codeOnly(code: string): string {
  let out = "";
  /** Brace depth of each `${` we are inside, innermost last. */
  const substitutions: number[] = [];
  let i = 0;
  const blank = (text: string) => text.replace(/[^\n]/g, " ");
  /** Skips a template literal's text from `i` to its end or to a `${`. */
  const templateText = () => {
    const start = i;
    while (i < code.length && code[i] !== "`" && !(code[i] === "$" && code[i + 1] === "{")) {
      i += code[i] === "\\" ? 2 : 1;
    }
    out += blank(code.slice(start, i));
    if (code[i] === "`") {
      out += "`";
      i++;
    } else if (i < code.length) {
      out += "${";
      i += 2;
      substitutions.push(0);
    }
  };
  while (i < code.length) {
    const c = code[i];
    const next = code[i + 1];
    if (c === "/" && next === "/") {
      const end = code.indexOf("\n", i);
      const stop = end === -1 ? code.length : end;
      out += blank(code.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = code.indexOf("*/", i + 2);
      const stop = end === -1 ? code.length : end + 2;
      out += blank(code.slice(i, stop));
      i = stop;
    } else if (c === "/" && /[(,=:[!&|?{};]$|^$|\breturn$/.test(out.trimEnd().slice(-6))) {
      // A regular expression literal: skip to its closing slash, past classes and escapes.
      const start = i++;
      for (let inClass = false; i < code.length && code[i] !== "\n"; i++) {
        if (code[i] === "\\") i++;
        else if (code[i] === "[") inClass = true;
        else if (code[i] === "]") inClass = false;
        else if (code[i] === "/" && !inClass) break;
      }
      i++;
      out += "/" + blank(code.slice(start + 1, i - 1)) + "/";
    } else if (c === '"' || c === "'") {
      const start = i++;
      while (i < code.length && code[i] !== c && code[i] !== "\n") i += code[i] === "\\" ? 2 : 1;
      i++;
      out += code.slice(start, i);
    } else if (c === "`") {
      out += "`";
      i++;
      templateText();
    } else if (substitutions.length > 0 && (c === "{" || c === "}")) {
      out += c;
      i++;
      if (c === "{") substitutions[substitutions.length - 1]++;
      else if (substitutions[substitutions.length - 1]-- === 0) {
        substitutions.pop();
        templateText();
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * The specifiers `code` imports, in order: static imports (`import type` too), side-effect
 * imports, re-exports (`export … from`) and dynamic `import("…")` with a string literal.
 */
function importSpecifiers(code: string): string[] {
  const text = codeOnly(code);
  const patterns = [
    /^(?:import|export)\b[^;"'`]*?\bfrom\s*(["'])([^"'\n]+)\1/gm,
    /^import\s*(["'])([^"'\n]+)\1/gm,
    /\bimport\s*\(\s*(["'])([^"'\n]+)\1/g,
  ];
  const found: { at: number; specifier: string }[] = [];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      found.push({ at: match.index, specifier: match[2] });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ specifier }) => specifier);
}

/** Where `specifier`, imported by `file`, points: a path from the root if relative. */
function resolveImport(file: string, specifier: string): string {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return specifier;
  return posix.normalize(posix.join(posix.dirname(file), specifier));
}

/** The import graph of some files, given as path → source text. */
function importGraph(sources: ReadonlyMap<string, string>): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const [file, code] of sources) {
    const targets = importSpecifiers(code).map((specifier) => resolveImport(file, specifier));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

// ---------------------------------------------------------------------------------------------
// The rules: each returns one message per violation, naming the file and what it imports
// ---------------------------------------------------------------------------------------------

/** Every import of a file that `from` matches, to a file that `forbidden` matches. */
function forbiddenImports(
  graph: ImportGraph,
  from: (file: string) => boolean,
  forbidden: (target: string) => boolean,
  rule: string,
): string[] {
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    if (!from(file)) continue;
    for (const target of targets) {
      if (forbidden(target)) violations.push(`${file} imports ${target}: ${rule}`);
    }
  }
  return violations;
}

const under = (folder: string) => (path: string) => path.startsWith(folder);
/** A shared private module: a `_` file at the root of `src/`. */
const isSharedPrivate = (path: string) => /^src\/_[^/]+\.ts$/.test(path);

function coreImportsOutside(graph: ImportGraph): string[] {
  return forbiddenImports(
    graph,
    under("src/core/"),
    (target) => under("src/server/")(target) || under("src/worker/")(target),
    "src/core/ imports nothing from src/server/ or src/worker/",
  );
}

function serverImportsOutside(graph: ImportGraph): string[] {
  return forbiddenImports(
    graph,
    under("src/server/"),
    (target) =>
      !target.startsWith("node:") && !under("src/core/")(target) &&
      !under("src/server/")(target) && !isSharedPrivate(target),
    "src/server/ imports only src/core/, src/server/ and the shared private src/_*.ts",
  );
}

/** The one package `src/otel/` may import; no other folder imports any. */
const OTEL_PEER = "@opentelemetry/api";

function otelImportsOutside(graph: ImportGraph): string[] {
  return forbiddenImports(
    graph,
    under("src/otel/"),
    (target) =>
      target !== OTEL_PEER && !under("src/core/")(target) && !under("src/otel/")(target) &&
      !isSharedPrivate(target),
    `src/otel/ imports only src/core/, src/otel/, the shared private src/_*.ts and ${OTEL_PEER}`,
  );
}

function threadSidesImportEachOther(graph: ImportGraph): string[] {
  const main = "src/worker/main_thread/";
  const inWorker = "src/worker/in_worker/";
  return [
    ...forbiddenImports(graph, under(main), under(inWorker), `${main} never imports ${inWorker}`),
    ...forbiddenImports(graph, under(inWorker), under(main), `${inWorker} never imports ${main}`),
  ];
}

function foreignImports(graph: ImportGraph): string[] {
  return forbiddenImports(
    graph,
    () => true,
    (target) => !target.startsWith("node:") && !graph.has(target),
    "imports are relative .ts files under src/ or node: builtins",
  ).filter((violation) =>
    !(violation.startsWith("src/otel/") && violation.includes(` imports ${OTEL_PEER}: `))
  );
}

/** The shortest import path from `start` to `goal` along `edges`, both ends included. */
function shortestPath(
  start: string,
  goal: string,
  edges: (file: string) => string[],
): string[] | undefined {
  const cameFrom = new Map<string, string | undefined>([[start, undefined]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (file === goal) {
      const path: string[] = [];
      for (let at: string | undefined = file; at !== undefined; at = cameFrom.get(at)) {
        path.unshift(at);
      }
      return path;
    }
    for (const next of edges(file)) {
      if (!cameFrom.has(next)) {
        cameFrom.set(next, file);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/**
 * Every import circle but the `allowed` pairs (two files that import each other), each printed
 * whole, `a.ts -> b.ts -> a.ts`. A longer circle through an allowed pair is reported too: the
 * pair is excused, not what else it ties together.
 */
function importCircles(
  graph: ImportGraph,
  allowed: readonly (readonly [string, string])[],
): string[] {
  const excused = (from: string, to: string) =>
    allowed.some(([a, b]) => (from === a && to === b) || (from === b && to === a));
  const targets = (file: string) => (graph.get(file) ?? []).filter((target) => graph.has(target));
  const edges = (file: string) => targets(file).filter((target) => !excused(file, target));
  const circles: string[][] = [];
  // Every circle without an excused import: a depth-first search meets each as an import of a
  // file that is still on the search's stack.
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of edges(file)) {
      if (state.get(next) === "open") circles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  // Every circle through an excused import `from -> to` other than its pair: a way back from
  // `to` to `from` that does not take the pair's other import (another pair's may be on it).
  for (const [a, b] of allowed) {
    for (const [from, to] of [[a, b], [b, a]]) {
      if (!graph.get(from)?.includes(to)) continue;
      const back = shortestPath(
        to,
        from,
        (file) => targets(file).filter((target) => !(file === to && target === from)),
      );
      if (back !== undefined) circles.push([from, ...back]);
    }
  }
  return [...new Set(circles.map((circle) => `import circle: ${circle.join(" -> ")}`))];
}

/** Every file of `lines` (path → line count) longer than `max` lines. */
function longFiles(lines: ReadonlyMap<string, number>, max: number): string[] {
  return [...lines]
    .filter(([, count]) => count > max)
    .map(([file, count]) => `${file} has ${count} lines: no file over ${max} lines`);
}

function lineCount(code: string): number {
  return code.split("\n").length - (code.endsWith("\n") ? 1 : 0);
}

/** Passes when `violations` is empty, else fails with one violation per line. */
function assertNone(violations: readonly string[]): void {
  assert.equal(violations.length, 0, `\n${violations.join("\n")}`);
}

// ---------------------------------------------------------------------------------------------
// Each rule can fail, and names the file and the import
// ---------------------------------------------------------------------------------------------

/** A graph from `"file": ["import", …]`, with every imported `src/` file present as a node. */
function graphOf(imports: Record<string, string[]>): ImportGraph {
  const graph = new Map(Object.entries(imports));
  for (const targets of Object.values(imports)) {
    for (const target of targets) {
      if (target.startsWith("src/") && !graph.has(target)) graph.set(target, []);
    }
  }
  return graph;
}

test("import reading finds static, type-only, side-effect, re-exported and dynamic imports", () => {
  const code = [
    `import { a } from "./a.ts";`,
    `import type { B } from "../b.ts";`,
    `import {`,
    `  c,`,
    `  type C,`,
    `} from "./c/c.ts";`,
    `import "node:process";`,
    `export * from "./d.ts";`,
    `export type { E } from "./e.ts";`,
    `const f = await import("./f.ts");`,
    `export function g(from: string): string {`,
    `  return from;`,
    `}`,
  ].join("\n");
  assert.deepEqual(importSpecifiers(code), [
    "./a.ts",
    "../b.ts",
    "./c/c.ts",
    "node:process",
    "./d.ts",
    "./e.ts",
    "./f.ts",
  ]);
});

test("import reading skips imports in comments, JSDoc examples, templates and regular expressions", () => {
  const code = [
    `/**`,
    ` * @example`,
    ` * \`\`\`ts`,
    ` * import { perRequestCache } from "@reqcache/core";`,
    ` * await import("./not_in_doc.ts");`,
    ` * \`\`\``,
    ` */`,
    `// import { x } from "./not_in_comment.ts";`,
    `const source = \`import { y } from "./not_in_template.ts";`,
    `import("\${"./not_in_template_either.ts"}");\`;`,
    `const pattern = /import\\("\\.\\/not_in_regexp\\.ts"\\)/;`,
    `import { real } from "./real.ts";`,
  ].join("\n");
  assert.deepEqual(importSpecifiers(code), ["./real.ts"]);
});

test("relative imports resolve to paths from the root; other specifiers stay as written", () => {
  const graph = importGraph(
    new Map([[
      "src/worker/main_thread/_pool.ts",
      `import { a } from "../_protocol.ts";\nimport { b } from "../../_errors.ts";\n` +
      `import { c } from "./_start_thread.ts";\nimport { d } from "node:worker_threads";\n` +
      `import type { E } from "../_protocol.ts";\nimport { Hono } from "hono";`,
    ]]),
  );
  assert.deepEqual(graph.get("src/worker/main_thread/_pool.ts"), [
    "src/worker/_protocol.ts",
    "src/_errors.ts",
    "src/worker/main_thread/_start_thread.ts",
    "node:worker_threads",
    "hono",
  ]);
});

test("a core file that imports the server or the worker side is reported with the import", () => {
  const graph = graphOf({
    "src/core/a.ts": ["src/core/b.ts", "src/server/s.ts"],
    "src/core/sub/c.ts": ["src/worker/main_thread/_pool.ts", "node:async_hooks"],
    "src/server/s.ts": ["src/core/a.ts"],
  });
  assert.deepEqual(coreImportsOutside(graph), [
    "src/core/a.ts imports src/server/s.ts: src/core/ imports nothing from src/server/ or src/worker/",
    "src/core/sub/c.ts imports src/worker/main_thread/_pool.ts: src/core/ imports nothing from src/server/ or src/worker/",
  ]);
});

test("a server file that imports the worker side or a private file of a sub-folder is reported", () => {
  const graph = graphOf({
    "src/server/s.ts": [
      "src/core/a.ts",
      "src/server/_t.ts",
      "src/_errors.ts",
      "src/_other_shared.ts",
      "node:http",
      "src/worker/worker_pool.ts",
      "src/worker/_protocol.ts",
    ],
  });
  const rule = "src/server/ imports only src/core/, src/server/ and the shared private src/_*.ts";
  assert.deepEqual(serverImportsOutside(graph), [
    `src/server/s.ts imports src/worker/worker_pool.ts: ${rule}`,
    `src/server/s.ts imports src/worker/_protocol.ts: ${rule}`,
  ]);
  assertNone(serverImportsOutside(graphOf({ "src/server/s.ts": ["src/_errors.ts"] })));
});

test("an otel file that imports the server, the worker side or another package is reported", () => {
  const graph = graphOf({
    "src/otel/a.ts": [
      "src/core/_channels.ts",
      "src/otel/_b.ts",
      "src/_errors.ts",
      "@opentelemetry/api",
      "src/server/with_cache_scope.ts",
      "@opentelemetry/sdk-trace",
    ],
  });
  const rule =
    "src/otel/ imports only src/core/, src/otel/, the shared private src/_*.ts and @opentelemetry/api";
  assert.deepEqual(otelImportsOutside(graph), [
    `src/otel/a.ts imports src/server/with_cache_scope.ts: ${rule}`,
    `src/otel/a.ts imports @opentelemetry/sdk-trace: ${rule}`,
  ]);
  // @opentelemetry/api is foreign everywhere but in src/otel/.
  const peer = graphOf({ "src/otel/a.ts": [OTEL_PEER], "src/core/b.ts": [OTEL_PEER] });
  assert.deepEqual(foreignImports(peer), [
    "src/core/b.ts imports @opentelemetry/api: imports are relative .ts files under src/ or node: builtins",
  ]);
});

test("main-thread code that imports in-worker code, or the reverse, is reported", () => {
  const graph = graphOf({
    "src/worker/main_thread/_pool.ts": ["src/worker/_protocol.ts", "src/worker/in_worker/_link.ts"],
    "src/worker/in_worker/_link.ts": ["src/worker/_protocol.ts", "src/worker/main_thread/_pool.ts"],
    "src/worker/serve_tasks.ts": ["src/worker/in_worker/_link.ts"],
  });
  assert.deepEqual(threadSidesImportEachOther(graph), [
    "src/worker/main_thread/_pool.ts imports src/worker/in_worker/_link.ts: src/worker/main_thread/ never imports src/worker/in_worker/",
    "src/worker/in_worker/_link.ts imports src/worker/main_thread/_pool.ts: src/worker/in_worker/ never imports src/worker/main_thread/",
  ]);
});

test("an import circle is reported whole, type-only imports included", () => {
  // b.ts → c.ts is an `import type` in the source: the graph does not tell them apart.
  const graph = importGraph(
    new Map([
      ["src/a.ts", `import { b } from "./b.ts";`],
      ["src/b.ts", `import type { C } from "./c.ts";`],
      ["src/c.ts", `export { a } from "./a.ts";`],
      ["src/d.ts", `import { d } from "./d.ts";`],
      ["src/e.ts", `import { a } from "./a.ts";`],
    ]),
  );
  assert.deepEqual(importCircles(graph, [["src/x.ts", "src/y.ts"]]), [
    "import circle: src/a.ts -> src/b.ts -> src/c.ts -> src/a.ts",
    "import circle: src/d.ts -> src/d.ts",
  ]);
});

test("the excused pairs may import each other, but a longer circle through them is reported", () => {
  const pair = ["src/core/_state.ts", "src/core/handle.ts"] as const;
  const excused = graphOf({
    "src/core/_state.ts": ["src/core/handle.ts"],
    "src/core/handle.ts": ["src/core/_state.ts"],
  });
  assertNone(importCircles(excused, [pair]));
  const longer = graphOf({
    "src/core/_frame.ts": ["src/core/_state.ts"],
    "src/core/_state.ts": ["src/core/handle.ts"],
    "src/core/handle.ts": ["src/core/_state.ts", "src/core/_frame.ts"],
  });
  assert.deepEqual(importCircles(longer, [pair]), [
    "import circle: src/core/_state.ts -> src/core/handle.ts -> src/core/_frame.ts -> src/core/_state.ts",
  ]);
  // Two pairs that share a file: each is excused, a circle through both is not.
  const pairs = [pair, ["src/core/_state.ts", "src/core/_frame.ts"] as const];
  const both = graphOf({
    "src/core/_frame.ts": ["src/core/_state.ts"],
    "src/core/_state.ts": ["src/core/handle.ts", "src/core/_frame.ts"],
    "src/core/handle.ts": ["src/core/_state.ts"],
  });
  assertNone(importCircles(both, pairs));
  const through = graphOf({
    "src/core/_frame.ts": ["src/core/_state.ts"],
    "src/core/_state.ts": ["src/core/handle.ts", "src/core/_frame.ts"],
    "src/core/handle.ts": ["src/core/_state.ts", "src/core/_frame.ts"],
  });
  // The same circle, met through each of the two excused imports on it.
  assert.deepEqual(importCircles(through, pairs), [
    "import circle: src/core/_state.ts -> src/core/handle.ts -> src/core/_frame.ts -> src/core/_state.ts",
    "import circle: src/core/_frame.ts -> src/core/_state.ts -> src/core/handle.ts -> src/core/_frame.ts",
  ]);
});

test("a file over the line limit is reported with its length", () => {
  const lines = new Map([["src/core/short.ts", 300], ["src/worker/main_thread/_pool.ts", 541]]);
  assert.deepEqual(longFiles(lines, 300), [
    "src/worker/main_thread/_pool.ts has 541 lines: no file over 300 lines",
  ]);
  assert.equal(lineCount("a\nb\n"), 2);
  assert.equal(lineCount("a\nb"), 2);
});

test("a package, a URL, a .js file or a path outside src/ is reported as a foreign import", () => {
  const graph = importGraph(
    new Map([
      [
        "src/core/a.ts",
        [
          `import { b } from "./b.ts";`,
          `import { AsyncLocalStorage } from "node:async_hooks";`,
          `import { Hono } from "hono";`,
          `import { c } from "npm:c";`,
          `import { d } from "https://example.com/d.ts";`,
          `import { e } from "./e.js";`,
          `import { f } from "../../mod.ts";`,
        ].join("\n"),
      ],
      ["src/core/b.ts", ""],
    ]),
  );
  const rule = "imports are relative .ts files under src/ or node: builtins";
  assert.deepEqual(foreignImports(graph), [
    `src/core/a.ts imports hono: ${rule}`,
    `src/core/a.ts imports npm:c: ${rule}`,
    `src/core/a.ts imports https://example.com/d.ts: ${rule}`,
    `src/core/a.ts imports src/core/e.js: ${rule}`,
    `src/core/a.ts imports mod.ts: ${rule}`,
  ]);
});

// ---------------------------------------------------------------------------------------------
// The rules hold on src/
// ---------------------------------------------------------------------------------------------

const sources = new Map(sourceFiles("src").map((file) => [file, readSource(file)]));
const graph = importGraph(sources);

test("src/ is read whole: every .ts file at any depth, with its imports", () => {
  assert.ok(graph.size > 0, "no .ts file found under src/");
  assert.ok([...graph.keys()].some((file) => file.split("/").length > 2), "no nested file read");
  assert.ok([...graph.values()].some((targets) => targets.length > 0), "no import found");
});

test("src/core/ imports nothing from src/server/ or src/worker/", () => {
  assertNone(coreImportsOutside(graph));
});

test("src/server/ imports only src/core/, src/server/ and the shared private modules", () => {
  assertNone(serverImportsOutside(graph));
});

test("src/otel/ imports only src/core/, itself, the shared private modules and @opentelemetry/api", () => {
  assertNone(otelImportsOutside(graph));
});

test("main-thread and in-worker code never import each other", () => {
  assertNone(threadSidesImportEachOther(graph));
});

test("src/ has no import circle but the scope state's with its handle and with its frame", () => {
  assertNone(importCircles(graph, SCOPE_CIRCLES));
});

test(`no file under src/ is over ${MAX_LINES} lines`, () => {
  const lines = new Map([...sources].map(([file, code]) => [file, lineCount(code)]));
  assertNone(longFiles(lines, MAX_LINES));
});

test("src/ imports only its own .ts files and node: builtins, and src/otel/ its peer", () => {
  assertNone(foreignImports(graph));
});
