/**
 * The numbering that cached and batched functions share: a scope keeps one entry table per
 * function, at the function's number in its sparse `tables` array, so both kinds of function
 * must draw from one counter or two of them would write into the same table.
 */
let functionCount = 0;

/** The next function's number: its table's index in every scope. */
export function nextFunctionIndex(): number {
  return functionCount++;
}
