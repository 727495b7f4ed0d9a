/**
 * The lane scheduler of a `create-link` chunk: its rows run concurrently, in
 * order, each holding one of the worker's row slots (all chunks of the
 * process share them; the earliest chunk gets them first). A row may give its
 * slot back before it ends (once its request is over, while it is recorded).
 */
import type { Slots } from '../../src/core/slots.js';

export interface LanesOptions<T, R> {
  items: readonly T[];
  slots: Slots;
  /** The chunk's place in the order chunks started: lower gets slots first. */
  priority: number;
  /** Aborted: no new item starts; the items not started are counted `left`. */
  signal?: AbortSignal;
  /** Runs one item; `release` gives its slot back early (it is released at the end anyway). */
  run: (item: T, release: () => void) => Promise<R>;
  /** Whether an item's end stops the others from starting (e.g. its batch was stopped). */
  halts: (end: R) => boolean;
}

export interface LanesResult<R> {
  /** How each item that ran ended, in the order they ended. */
  ends: R[];
  /** Items that did not end: not started when the signal was aborted, or failed while it was. */
  left: number;
  /** Errors of items that failed (not while aborted); the first one halts the others. */
  errors: unknown[];
}

export async function runLanes<T, R>(options: LanesOptions<T, R>): Promise<LanesResult<R>> {
  const { items, slots, signal } = options;
  const ends: R[] = [];
  const errors: unknown[] = [];
  let next = 0;
  let halted = false;
  let left = 0;
  const lane = async () => {
    while (!halted && next < items.length) {
      const release = await slots.acquire(options.priority);
      try {
        if (halted || next >= items.length) return;
        if (signal?.aborted) {
          left += items.length - next;
          halted = true;
          return;
        }
        const item = items[next++]!;
        try {
          const end = await options.run(item, release);
          ends.push(end);
          if (options.halts(end)) halted = true;
        } catch (error) {
          left += 1;
          if (!signal?.aborted) {
            errors.push(error);
            halted = true;
          }
        }
      } finally {
        release();
      }
    }
  };
  // Twice as many lanes as row slots: a lane whose row is being recorded has given its slot to another.
  await Promise.all(Array.from({ length: Math.min(2 * slots.size, items.length) }, lane));
  return { ends, left, errors };
}
