/**
 * The benchmark suite of issue 5, one file for Deno, Bun and Node:
 *
 * ```sh
 * deno run --v8-flags=--expose-gc --allow-env --allow-read=. --allow-net=127.0.0.1 \
 *   --allow-run=node_modules/.bin/node bench/suite.ts
 * bun bench/suite.ts
 * node --expose-gc bench/suite.ts
 * ```
 *
 * `npm run bench` (or `deno task bench`) runs all three in one go. It prints, per runtime,
 * ns/op and the ratios that issue 5's targets are about, each measured within the same run,
 * with PASS or MISS and by how much. Options: `--only=<word>` times only the sections whose
 * title has that word (`npm run bench:node -- --only=batching`); `--smoke` (or `BENCH_SMOKE=1`)
 * runs every benchmark body a few times untimed and checks it, which is what CI does through
 * `tests/bench_smoke.test.ts`; `BENCH_ROUNDS` (default 3) sets how many interleaved rounds the
 * medians are taken over.
 *
 * @module
 */
import process from "node:process";
import { batchSection } from "./_batch.ts";
import { elysiaSection } from "./_elysia.ts";
import { httpSection } from "./_http.ts";
import { nodeFrameworksSection } from "./_node_frameworks.ts";
import { memorySection } from "./_memory.ts";
import { microSection } from "./_micro.ts";
import type { Check, Row, Section } from "./_section.ts";
import { workersSection } from "./_workers.ts";
import { telemetrySection } from "./_telemetry.ts";

/** Every section, in the order they run. */
export const sections: readonly Section[] = [
  microSection,
  batchSection,
  memorySection(),
  httpSection,
  nodeFrameworksSection,
  elysiaSection,
  workersSection,
  telemetrySection, // last: see _telemetry.ts
];

/** Runs the suite: smoke-tests every section, or times them and prints the report. */
export async function main(args: readonly string[]): Promise<void> {
  const smoke = args.includes("--smoke") || process.env.BENCH_SMOKE === "1";
  if (smoke) {
    for (const section of sections) {
      await section.smoke();
      console.log(`smoke: ${section.title}: ok`);
    }
    return;
  }
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(
      `Cannot run the benchmarks: BENCH_ROUNDS must be a positive integer, received ${process.env.BENCH_ROUNDS}`,
    );
  }
  // `--only=batching` times the sections whose title has that word, for one figure at a time.
  const only = args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length);
  const chosen = sections.filter((section) =>
    only === undefined || section.title.toLowerCase().includes(only.toLowerCase())
  );
  console.log(`\n# @reqcache/core benchmarks: ${describeMachine()}\n`);
  let missed = 0;
  for (const section of chosen) {
    const { rows, checks, notes } = await section.measure(rounds);
    console.log(`## ${section.title}\n`);
    if (rows.length > 0) printRows(rows);
    if (checks.length > 0) printChecks(checks);
    for (const note of notes) console.log(note);
    console.log();
    missed += checks.filter((check) => check.pass === false).length;
  }
  console.log(missed === 0 ? "All targets met." : `${missed} target(s) missed.`);
}

function printRows(rows: readonly Row[]): void {
  printTable(
    ["benchmark", "ns/op", "min–max of rounds"],
    rows.map(({ name, ns, spread: [min, max] }) => [
      name,
      formatNs(ns),
      `${formatNs(min)}–${formatNs(max)}`,
    ]),
    [false, true, true],
  );
}

function printChecks(checks: readonly Check[]): void {
  printTable(
    ["ratio", "value", "target", "verdict"],
    checks.map(({ name, value, target, pass, detail }) => [
      name,
      value,
      target,
      pass === undefined
        ? detail
        : `${pass ? "PASS" : "MISS"}${detail === "" ? "" : ` (${detail})`}`,
    ]),
    [false, true, true, false],
  );
}

function printTable(
  header: readonly string[],
  lines: readonly (readonly string[])[],
  alignRight: readonly boolean[],
): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column].length))
  );
  const format = (line: readonly string[]) =>
    line.map((cell, column) =>
      alignRight[column] ? cell.padStart(widths[column]) : cell.padEnd(widths[column])
    ).join("  ").trimEnd();
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const line of lines) console.log(format(line));
  console.log();
}

function formatNs(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns.toFixed(1);
}

function describeMachine(): string {
  const versions = process.versions as Record<string, string | undefined>;
  const runtime = "Deno" in globalThis
    ? `Deno ${versions.deno} (V8 ${versions.v8})`
    : "Bun" in globalThis
    ? `Bun ${versions.bun} (JSC)`
    : `Node ${process.version.slice(1)} (V8 ${versions.v8})`;
  return `${runtime}, ${process.platform}-${process.arch}, ${navigator.hardwareConcurrency} CPUs`;
}

if (import.meta.main) await main(process.argv.slice(2));
