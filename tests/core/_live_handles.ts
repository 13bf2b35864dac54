/**
 * What a test counts to show that nothing outlives a scope: abort listeners left on signals it
 * tracks, and timers set and neither fired nor cleared. It wraps the platform's functions, for
 * the whole process, until disposed; the code under test runs unchanged.
 */
/** The counter: `track` a signal, read `counts()`, dispose to restore the platform. */
export interface LiveHandles extends Disposable {
  track(signal: AbortSignal): void;
  counts(): { listeners: number; timers: number };
}

export function countListenersAndTimers(): LiveHandles {
  const listeners = new Set<unknown>();
  const timers = new Set<unknown>();
  const { setTimeout: set, clearTimeout: clear } = globalThis;
  globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const id = set(
      (...a: unknown[]) => {
        timers.delete(id);
        fn(...a);
      },
      ms,
      ...args,
    );
    timers.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: unknown) => {
    timers.delete(id);
    clear(id as number);
  }) as typeof clearTimeout;
  return {
    track(signal: AbortSignal) {
      const add = signal.addEventListener.bind(signal);
      const remove = signal.removeEventListener.bind(signal);
      signal.addEventListener = (
        type: string,
        fn: EventListenerOrEventListenerObject,
        options?: AddEventListenerOptions | boolean,
      ) => {
        listeners.add(fn);
        add(type, fn, options);
      };
      signal.removeEventListener = (
        type: string,
        fn: EventListenerOrEventListenerObject,
        options?: EventListenerOptions | boolean,
      ) => {
        listeners.delete(fn);
        remove(type, fn, options);
      };
    },
    counts: () => ({ listeners: listeners.size, timers: timers.size }),
    [Symbol.dispose]() {
      globalThis.setTimeout = set;
      globalThis.clearTimeout = clear;
    },
  };
}
