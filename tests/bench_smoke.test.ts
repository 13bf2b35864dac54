/**
 * The benchmark suite as a test: every benchmark body runs a few times, untimed, and checks
 * that it measures what its name says (a "hit" really hits, a scope benchmark leaves no store
 * behind), so `bench/` cannot rot between the runs that time it.
 */
import { test } from "node:test";
import { sections } from "../bench/suite.ts";

for (const section of sections) {
  test(`benchmark bodies run and do what they measure: ${section.title}`, () => section.smoke());
}
