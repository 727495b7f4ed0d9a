/**
 * The retry policy, as data: which failures are worth another request, and
 * how long to wait before it. One table, one function that reads it.
 *
 * Two layers, both counted against the same per-row budget
 * (`PAYLINKS_MAX_ATTEMPTS` requests, `PAYLINKS_RETRY_WINDOW_MS` since the
 * first one):
 * - in the job, p-retry retries a blip a couple of times within seconds;
 * - between jobs, BullMQ re-queues the row with a longer exponential backoff,
 *   so an outage of minutes holds no worker slot and survives restarts.
 * A 429 is neither: every worker pauses for its `Retry-After` and the row
 * goes back to the queue without spending an attempt.
 */
import type { PaylinksError } from '../core/errors.js';

export const RETRY_POLICY = {
  /** Codes where another request may succeed. Everything else fails the row at once. */
  retryableCodes: ['PAYWINT_NETWORK', 'PAYWINT_TIMEOUT', 'PAYWINT_CONNECTION_LOST', 'PAYWINT_SERVER_ERROR', 'PAYWINT_RATE_LIMITED'] as readonly string[],
  /** p-retry inside one job run. */
  inJob: { retries: 2, minDelayMs: 200, maxDelayMs: 2_000, factor: 2 },
  /** BullMQ backoff between job runs: base × factor^(n-1), capped. */
  betweenJobs: { baseDelayMs: 1_000, factor: 2, maxDelayMs: 60_000 },
  /** Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: 0.3,
  /** Pause after a 429 that gave no `Retry-After`. */
  rateLimitedDefaultMs: 1_000,
  /** Longest pause honoured from a `Retry-After`; a longer one is capped (and the row keeps its window). */
  rateLimitedMaxMs: 120_000,
} as const;

/** Whether another request for this row could succeed at all. */
export function isRetryable(error: PaylinksError): boolean {
  return error.retryable || RETRY_POLICY.retryableCodes.includes(error.code);
}

export interface RetryBudget {
  /** Requests sent for the row so far. */
  attempts: number;
  /** When the first was sent, ms since epoch. */
  firstAt: number;
  maxAttempts: number;
  retryWindowMs: number;
  now?: number;
}

/** Whether the row may send another request. */
export function withinBudget(budget: RetryBudget): boolean {
  const now = budget.now ?? Date.now();
  return budget.attempts < budget.maxAttempts && (budget.firstAt === 0 || now - budget.firstAt < budget.retryWindowMs);
}

function jittered(ms: number, random: () => number): number {
  const j = RETRY_POLICY.jitter;
  return Math.round(ms * (1 - j + 2 * j * random()));
}

/** Delay before BullMQ runs the row's job again, after `runs` failed runs (1-based). */
export function backoffBetweenJobsMs(runs: number, random: () => number = Math.random): number {
  const { baseDelayMs, factor, maxDelayMs } = RETRY_POLICY.betweenJobs;
  return jittered(Math.min(maxDelayMs, baseDelayMs * factor ** Math.max(0, runs - 1)), random);
}

/** How long every worker pauses after a 429. */
export function rateLimitPauseMs(error: PaylinksError & { retryAfterMs?: number }): number {
  const asked = error.retryAfterMs ?? RETRY_POLICY.rateLimitedDefaultMs;
  return Math.min(Math.max(asked, 0), RETRY_POLICY.rateLimitedMaxMs);
}
