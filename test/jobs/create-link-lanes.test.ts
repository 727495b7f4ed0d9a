/**
 * The lanes a create-link chunk's rows run in, with the worker's real row
 * slots and inline items (no Redis): order, the slot bound, early release,
 * halting, shutdown and errors.
 */
import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/core/slots.js';
import { runLanes } from '../../jobs/create-link/lanes.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('runLanes', () => {
  it('starts items in order and never runs more at once than there are slots', async () => {
    const slots = new Slots(3);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const result = await runLanes({
      items: Array.from({ length: 20 }, (_, i) => i),
      slots,
      priority: 1,
      run: async (item) => {
        started.push(item);
        running += 1;
        most = Math.max(most, running);
        await tick();
        running -= 1;
        return 'done';
      },
      halts: () => false,
    });
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(3);
    expect(result).toEqual({ ends: Array(20).fill('done'), left: 0, errors: [] });
  });

  it('lets a row that gave its slot back be recorded while another row runs (twice as many lanes as slots)', async () => {
    const slots = new Slots(1);
    let overlapping = 0;
    let inRecord = 0;
    await runLanes({
      items: [0, 1, 2, 3],
      slots,
      priority: 1,
      run: async (_item, release) => {
        if (inRecord > 0) overlapping += 1;
        release();
        inRecord += 1;
        await tick();
        inRecord -= 1;
        return 'recorded';
      },
      halts: () => false,
    });
    expect(overlapping).toBeGreaterThan(0);
  });

  it('starts no item after one halts; the items not started are not counted left', async () => {
    const started: number[] = [];
    const result = await runLanes({
      items: [0, 1, 2, 3, 4, 5],
      slots: new Slots(1),
      priority: 1,
      run: async (item) => {
        started.push(item);
        return item === 1 ? 'stopped' : 'recorded';
      },
      halts: (end) => end === 'stopped',
    });
    expect(started).toEqual([0, 1]);
    expect(result).toEqual({ ends: ['recorded', 'stopped'], left: 0, errors: [] });
  });

  it('on shutdown starts nothing new and counts what was not started, and an item failing then is left, not an error', async () => {
    const shutdown = new AbortController();
    const result = await runLanes({
      items: [0, 1, 2, 3, 4],
      slots: new Slots(1),
      priority: 1,
      signal: shutdown.signal,
      run: async (item) => {
        if (item === 1) {
          shutdown.abort();
          throw new Error('interrupted');
        }
        return 'recorded';
      },
      halts: () => false,
    });
    expect(result).toEqual({ ends: ['recorded'], left: 4, errors: [] });
  });

  it('halts on the first error and hands it back', async () => {
    const boom = new Error('Redis went away');
    const started: number[] = [];
    const result = await runLanes({
      items: [0, 1, 2, 3],
      slots: new Slots(1),
      priority: 1,
      run: async (item) => {
        started.push(item);
        if (item === 1) throw boom;
        return 'recorded';
      },
      halts: () => false,
    });
    expect(started).toEqual([0, 1]);
    expect(result).toEqual({ ends: ['recorded'], left: 1, errors: [boom] });
  });

  it('gives the slots to the earlier chunk first', async () => {
    const slots = new Slots(1);
    const order: string[] = [];
    const hold = await slots.acquire(0);
    const later = runLanes({ items: ['late'], slots, priority: 2, run: async (item) => order.push(item), halts: () => false });
    const earlier = runLanes({ items: ['early'], slots, priority: 1, run: async (item) => order.push(item), halts: () => false });
    hold();
    await Promise.all([later, earlier]);
    expect(order).toEqual(['early', 'late']);
  });
});
