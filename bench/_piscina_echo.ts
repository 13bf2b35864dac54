/**
 * The peer's side of the worker benchmarks: piscina's worker module, the same trivial task as
 * `_echo_tasks.ts` (it returns its argument), in piscina's own form (the default export).
 */
export default function echo(value: number): number {
  return value;
}
