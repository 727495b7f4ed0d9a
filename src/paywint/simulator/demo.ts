/**
 * The demo payer: makes the simulator's payers act on a share of the links it
 * creates, spread over a few minutes, so that a newcomer running
 * `paylinks serve --simulate` sees collection happen (links opened, most of
 * them paid, some failed or expired). Off unless asked for (`serve --simulate`
 * asks; tests do not).
 *
 * Each new link's fate is drawn once when the payer first sees it; the moves
 * wait in a heap ordered by due time, read every `tickMs`.
 */
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { seededRandom } from '../../core/random.js';
import type { LedgerEntry } from './ledger.js';
import type { PaymentMove } from './payments.js';

export interface DemoPayerOptions {
  /** Share of links paid (each opened first). Default 0.6. */
  paidShare: number;
  /** Share of links that fail. Default an eighth of the links not paid (0.05). */
  failedShare: number;
  /** Share of links that expire. Default an eighth of the links not paid (0.05). */
  expiredShare: number;
  /** Share of links opened and left so. Default a quarter of the links not paid (0.1). */
  openedShare: number;
  /** The moves of a link happen within this long after the payer sees it, ms. Default 180000 (3 minutes). */
  spreadMs: number;
  /** How often the payer looks for new links and due moves, ms. Default 500. */
  tickMs: number;
}

/** What the demo payer needs of the simulator. */
export interface DemoPayerTarget {
  /** The links created from `index` on (all of them when the ledger was reset below it). */
  linksSince(index: number): readonly LedgerEntry[];
  move(paymentId: string, move: PaymentMove): void;
}

export interface DemoPayer {
  stop(): void;
}

const DEFAULTS: DemoPayerOptions = { paidShare: 0.6, failedShare: 0.05, expiredShare: 0.05, openedShare: 0.1, spreadMs: 180_000, tickMs: 500 };
const share = z.number().min(0).max(1);
const OptionsSchema = z
  .object({ paidShare: share, failedShare: share, expiredShare: share, openedShare: share, spreadMs: z.number().int().min(0).max(86_400_000), tickMs: z.number().int().min(10).max(60_000) })
  .partial()
  .strict()
  .transform((o) => {
    const unpaid = 1 - (o.paidShare ?? DEFAULTS.paidShare);
    return { failedShare: unpaid / 8, expiredShare: unpaid / 8, openedShare: unpaid / 4, ...o };
  })
  .refine((o) => (o.paidShare ?? DEFAULTS.paidShare) + o.failedShare + o.expiredShare + o.openedShare <= 1 + 1e-9, {
    message: 'the shares add up to more than 1',
    path: ['paidShare'],
  });

interface Due {
  atMs: number;
  paymentId: string;
  move: PaymentMove;
}

/** Starts the payer; throws a {@link ConfigError} naming a bad option. */
export function startDemoPayer(target: DemoPayerTarget, options: Partial<DemoPayerOptions> = {}, seed?: number): DemoPayer {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
    throw new ConfigError('CONFIG_INVALID', name || 'demoPayer', `demo payer option ${name}: ${issue.code === 'unrecognized_keys' ? 'unknown' : issue.message}`);
  }
  const o: DemoPayerOptions = { ...DEFAULTS, ...parsed.data };
  const random = seed === undefined ? Math.random : seededRandom(seed + 2);
  const heap: Due[] = [];
  let cursor = 0;

  const plan = (link: LedgerEntry, now: number): void => {
    const r = random();
    const at = (fraction: number) => now + Math.round(o.spreadMs * fraction);
    const first = random();
    const second = first + (1 - first) * random();
    if (r < o.paidShare) {
      push(heap, { atMs: at(first), paymentId: link.paymentId, move: { to: 'opened' } });
      push(heap, { atMs: at(second), paymentId: link.paymentId, move: { to: 'paid' } });
    } else if (r < o.paidShare + o.failedShare) {
      push(heap, { atMs: at(first), paymentId: link.paymentId, move: { to: 'opened' } });
      push(heap, { atMs: at(second), paymentId: link.paymentId, move: { to: 'failed', reason: 'Insufficient funds' } });
    } else if (r < o.paidShare + o.failedShare + o.expiredShare) {
      push(heap, { atMs: at(second), paymentId: link.paymentId, move: { to: 'expired' } });
    } else if (r < o.paidShare + o.failedShare + o.expiredShare + o.openedShare) {
      push(heap, { atMs: at(first), paymentId: link.paymentId, move: { to: 'opened' } });
    }
  };

  const tick = (): void => {
    const now = Date.now();
    const links = target.linksSince(cursor);
    // A reset ledger starts again from its first link.
    if (links.length === 0 && cursor > 0 && target.linksSince(0).length < cursor) cursor = 0;
    for (const link of links) plan(link, now);
    cursor += links.length;
    while (heap.length > 0 && heap[0]!.atMs <= now) {
      const due = pop(heap)!;
      try {
        target.move(due.paymentId, due.move);
      } catch {
        // The link is gone (the simulator was reset): nothing to pay.
      }
    }
  };

  const timer = setInterval(tick, o.tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function push(heap: Due[], item: Due): void {
  heap.push(item);
  for (let i = heap.length - 1; i > 0; ) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.atMs <= heap[i]!.atMs) break;
    [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
    i = parent;
  }
}

function pop(heap: Due[]): Due | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  heap[0] = last;
  for (let i = 0; ; ) {
    const l = 2 * i + 1;
    const r = l + 1;
    let min = i;
    if (l < heap.length && heap[l]!.atMs < heap[min]!.atMs) min = l;
    if (r < heap.length && heap[r]!.atMs < heap[min]!.atMs) min = r;
    if (min === i) break;
    [heap[min], heap[i]] = [heap[i]!, heap[min]!];
    i = min;
  }
  return top;
}
