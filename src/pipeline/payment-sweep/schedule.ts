/**
 * The periodic sweep of a process that runs workers
 * (`PAYLINKS_PAYMENT_SWEEP_MINUTES`): every process waits for the account's
 * next due time (Keys.paymentSweep `due_ms`, shared, so N processes still
 * sweep once per interval and a restart does not put the sweep off), then
 * tries a pass; the one that takes the lock sweeps and sets the next due
 * time. A failed pass is logged and tried again after a backoff; the loop
 * never dies silently and stops when the process closes it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { coerceError } from '../../core/errors.js';
import { formatSweepSummary, runSweep, type SweepContext } from './run.js';

export interface PeriodicSweepOptions extends SweepContext {
  /** Between passes, ms (above 0). */
  intervalMs: number;
  /** Open links made at least this long ago are read, ms. */
  openAfterMs: number;
  /** Reads in flight at once. Default 16. */
  concurrency?: number;
}

/** Longest wait between two looks at the due time, ms (another process may have moved it). */
const MAX_NAP_MS = 60_000;

export function startPeriodicSweep(options: PeriodicSweepOptions): { close(): Promise<void> } {
  const { redis, keys, account, logger, intervalMs } = options;
  const key = keys.paymentSweep(account);
  const stop = new AbortController();
  let failures = 0;
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        await redis.hsetnx(key, 'due_ms', Date.now() + intervalMs);
        const now = Date.now();
        let due = Number(await redis.hget(key, 'due_ms'));
        if (due > now + intervalMs) {
          // Set by a process with a longer interval: this one's comes first.
          due = now + intervalMs;
          await redis.hset(key, 'due_ms', due);
        }
        if (now < due) {
          await sleep(Math.min(due - now, MAX_NAP_MS), undefined, { signal: stop.signal });
          continue;
        }
        logger.debug({ dueMs: due }, 'payment sweep due');
        const run = await runSweep(options, { openAfterMs: options.openAfterMs, concurrency: options.concurrency, signal: stop.signal });
        if (run.ran) {
          failures = 0;
          await redis.hset(key, 'due_ms', Date.now() + intervalMs);
          logger.info({ sweep: run.summary }, formatSweepSummary(run.summary));
        } else {
          // Another process is sweeping: it sets the next due time when done.
          await sleep(Math.min(intervalMs, MAX_NAP_MS / 2), undefined, { signal: stop.signal });
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        failures += 1;
        const backoffMs = Math.min(intervalMs, 5_000 * 2 ** Math.min(failures - 1, 7), 600_000);
        logger.warn({ err: coerceError(error).message, failures, retryInMs: backoffMs }, 'payment sweep failed (tried again later)');
        await sleep(backoffMs, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
  })();
  return {
    close: async () => {
      stop.abort();
      await loop;
    },
  };
}
