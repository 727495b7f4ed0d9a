/**
 * The payment sweep (issue 17 item 3): one pass (sweep.ts) under the account's
 * lock (lock.ts), paced within the rate limit and its share (pacer.ts), run by
 * `paylinks payments sync` and periodically in every process that runs
 * workers (schedule.ts). See docs/payments.md.
 */
export { SweepPacer, batchRunningIn } from './pacer.js';
export { sweepPayments, SEEN_KEPT, type SweepOptions, type SweepReads, type SweepSummary } from './sweep.js';
export { oldestOpenLinks, OPEN_STATES, type OpenLink } from './open-links.js';
export { runSweep, formatSweepSummary, type SweepContext, type SweepRun } from './run.js';
export { startPeriodicSweep, type PeriodicSweepOptions } from './schedule.js';
export { syncPayments, type SyncOptions } from './sync.js';
export type { SweepHolder } from './lock.js';
