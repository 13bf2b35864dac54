/**
 * Runs `run` once per item, at most `concurrency` at a time, and resolves to the results in the
 * items' order. Lanes keep at most `concurrency` items in the pool, so a long map never fills
 * the queue and other requests' tasks interleave with it. After a failure, lanes stop taking
 * items; the items already running finish and are ignored, and the first error rejects.
 */
export async function mapInLanes<I, R>(
  items: readonly I[],
  concurrency: number,
  run: (item: I) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await run(items[i]);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}
