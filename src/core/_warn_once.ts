/** Warnings already shown in this process, by topic: each is shown once, not per request. */
export const shownWarnings: Set<string> = new Set();

/** Shows `message` through `console.warn` the first time `topic` comes up. */
export function warnOnce(topic: string, message: string): void {
  if (shownWarnings.has(topic)) return;
  shownWarnings.add(topic);
  console.warn(message);
}
