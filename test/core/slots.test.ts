import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/core/slots.js';

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Slots', () => {
  it('hands out its slots at once, then serves waiters lowest priority first, in arrival order within one', async () => {
    const slots = new Slots(2);
    const a = await slots.acquire(5);
    const b = await slots.acquire(5);
    const served: string[] = [];
    const wait = (name: string, priority: number) =>
      slots.acquire(priority).then((release) => {
        served.push(name);
        return release;
      });
    const waiting = [wait('p3-first', 3), wait('p1-first', 1), wait('p3-second', 3), wait('p2', 2), wait('p1-second', 1)];
    await settle();
    expect(served).toEqual([]);
    a();
    a(); // a second call gives nothing back
    await settle();
    expect(served).toEqual(['p1-first']);
    b();
    await settle();
    expect(served).toEqual(['p1-first', 'p1-second']);
    const releases = await Promise.all(waiting.slice(1, 2).concat(waiting.slice(4)));
    for (const release of releases) release();
    await settle();
    expect(served).toEqual(['p1-first', 'p1-second', 'p2', 'p3-first']);
  });

  it('never lends more slots than it has, across thousands of waiters of many priorities', async () => {
    const slots = new Slots(3);
    let held = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 3000 }, async (_, i) => {
        const release = await slots.acquire(i % 7);
        held += 1;
        most = Math.max(most, held);
        order.push(i);
        await settle();
        held -= 1;
        release();
      }),
    );
    expect(most).toBe(3);
    expect(order).toHaveLength(3000);
    expect(new Set(order).size).toBe(3000);
    // After the first three, waiters of priority 0 all come before any of priority 6.
    const rest = order.slice(3);
    expect(Math.max(...rest.filter((i) => i % 7 === 0).map((i) => rest.indexOf(i)))).toBeLessThan(Math.min(...rest.filter((i) => i % 7 === 6).map((i) => rest.indexOf(i))));
  });
});
