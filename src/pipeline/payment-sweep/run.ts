/**
 * One sweep pass under the account's lock, and its summary line.
 */
import { setMaxListeners } from 'node:events';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../core/lua.js';
import type { Logger } from '../../core/logger.js';
import type { Keys } from '../keys.js';
import { PaymentExceptions } from '../payment-status/exceptions.js';
import { PaymentStatusStore } from '../payment-status/store.js';
import type { RateLimiter } from '../rate-limiter.js';
import { takeSweepLock, type SweepHolder } from './lock.js';
import { batchRunningIn, SweepPacer } from './pacer.js';
import { sweepPayments, type SweepOptions, type SweepReads, type SweepSummary } from './sweep.js';


/** What a sweep of an account needs. */
export interface SweepContext {
  redis: RedisClient;
  keys: Keys;
  /** The Paywint account (API key). */
  account: string;
  reads: SweepReads;
  /** The account's shared schedule (Keys.rateLimit). */
  limiter: RateLimiter;
  /** The create-link queue: a batch is running while it holds jobs. */
  queue: Queue;
  /** `PAYLINKS_RATE_LIMIT`. */
  ratePerSecond: number;
  /** `PAYLINKS_PAYMENT_SWEEP_SHARE`. */
  share: number;
  logger: Logger;
}

export type SweepRun = { ran: true; summary: SweepSummary } | { ran: false; heldBy: SweepHolder | null };

/** One pass under the account's lock; `ran: false` when another process is sweeping. The summary is kept (Keys.paymentSweep `last`). */
export async function runSweep(ctx: SweepContext, options: SweepOptions): Promise<SweepRun> {
  const { redis, keys, account } = ctx;
  const lock = await takeSweepLock(redis, keys.paymentSweepLock(account));
  if ('heldBy' in lock) return { ran: false, heldBy: lock.heldBy };
  try {
    const signal = options.signal ? AbortSignal.any([options.signal, lock.lost]) : lock.lost;
    // Every read in flight waits on it (its slot of the rate limit).
    setMaxListeners(0, signal);
    const pacer = new SweepPacer({ redis, keys, account, shared: ctx.limiter, ratePerSecond: ctx.ratePerSecond, share: ctx.share, batchRunning: batchRunningIn(ctx.queue) });
    const summary = await sweepPayments(
      {
        store: new PaymentStatusStore(redis, keys, account),
        exceptions: new PaymentExceptions(redis, keys, account),
        reads: ctx.reads,
        pacer,
        seenKey: keys.paymentsSeen(account),
        sweepKey: keys.paymentSweep(account),
        logger: ctx.logger,
      },
      { ...options, signal },
    );
    await redis.hset(keys.paymentSweep(account), 'last', JSON.stringify(summary));
    return { ran: true, summary };
  } finally {
    await lock.release();
  }
}

/** The summary for a person: one line. */
export function formatSweepSummary(s: SweepSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const r = s.received;
  const o = s.open;
  const found = r.recorded + o.recorded;
  return (
    `Payment sweep done in ${s.seconds.toFixed(1)} s: ${n(found)} status${found === 1 ? '' : 'es'} updated; ` +
    `received list: ${n(r.pages)} page${r.pages === 1 ? '' : 's'}, ${n(r.payments)} new payment${r.payments === 1 ? '' : 's'} (${n(r.recorded)} recorded, ${n(r.stray)} stray); ` +
    `open links read: ${n(o.read)} (${n(o.recorded)} changed${o.unknownAtPaywint > 0 ? `, ${n(o.unknownAtPaywint)} unknown to Paywint` : ''}); ` +
    `${n(s.requests)} request${s.requests === 1 ? '' : 's'}; ${s.errors === 0 ? 'no errors' : `${n(s.errors)} read${s.errors === 1 ? '' : 's'} failed (left to the next pass): ${s.firstError ?? ''}`}.`
  );
}
