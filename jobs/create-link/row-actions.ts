/**
 * What a row of a `create-link` job does next, as pure functions: from the
 * outcome of its claim (send, record a result, skip it, ...) and from a
 * request that failed (pause, retry later, stop the batch, record the
 * failure). The processor (../create-link.ts) carries the actions out.
 */
import { PAYWINT_ERROR_CODES, PaylinksError, PaywintError, type PaywintErrorCode } from '../../src/core/errors.js';
import { formatCents } from '../../src/core/money.js';
import type { Claim, ClaimOutcome } from '../../src/pipeline/ledger.js';
import type { RowResult } from '../../src/pipeline/output.js';
import { backoffBetweenJobsMs, isRetryable, rateLimitPauseMs, withinBudget } from '../../src/pipeline/retry-policy.js';

/** One valid row of a chunk, as the worker sends it. */
export interface WorkRow {
  row: number;
  invoiceNumber: string;
  amountCents: number;
  description: string | null;
}

/** What the actions depend on besides the row. */
export interface RowContext {
  batchId: string;
  /** The Paywint API key this worker runs with. */
  apiKey: string;
  maxAttempts: number;
  retryWindowMs: number;
}

/** What a row does once its claim is answered. */
export type ClaimAction =
  /** It has its result already (an earlier run recorded it). */
  | { kind: 'skip' }
  /** Its batch is gone or stopped: its state accounts for the row. */
  | { kind: 'stop' }
  /**
   * Record this result without sending; `withClaim`: the row holds its
   * invoice's claim, released with the result; `accountMismatch`: the message
   * to log once per batch.
   */
  | { kind: 'record'; result: RowResult; withClaim: boolean; accountMismatch?: string }
  /** Another job holds the invoice: find out whether it is alive. */
  | { kind: 'busy'; holder: string }
  /** Send the request (`attempt`: the claim began the first attempt already). */
  | { kind: 'send'; claim: Claim; attempt?: string };

export function unknownOutcomeNote(claim: Claim): string {
  return `${claim.unknown} earlier request(s) for this invoice got no answer after being sent; Paywint may hold another link for it: look for it before mailing`;
}

export function failedResult(error: PaylinksError, attempts: number, note?: string): RowResult {
  return { status: 'failed', errorCode: error.code, errorMessage: note ? `${error.message}; ${note}` : error.message, attempts };
}

export function inBudget(claim: Claim, ctx: Pick<RowContext, 'maxAttempts' | 'retryWindowMs'>): boolean {
  return withinBudget({ attempts: claim.attempts, firstAt: claim.firstAt, maxAttempts: ctx.maxAttempts, retryWindowMs: ctx.retryWindowMs });
}

/** The action for a row given its claim's outcome. */
export function claimAction(outcome: ClaimOutcome, r: WorkRow, ctx: RowContext): ClaimAction {
  switch (outcome.kind) {
    case 'recorded':
      return { kind: 'skip' };
    case 'no-batch':
    case 'stopped':
      return { kind: 'stop' };
    case 'other-account': {
      const message =
        `not sent: the batch was submitted for Paywint API key …${outcome.account.slice(-4)}, this worker runs with …${ctx.apiKey.slice(-4)}; ` +
        `run a worker with that account's credentials, then \`paylinks retry ${ctx.batchId}\``;
      return { kind: 'record', result: { status: 'failed', errorCode: 'ACCOUNT_MISMATCH', errorMessage: message, attempts: 0 }, withClaim: false, accountMismatch: message };
    }
    case 'busy':
      return { kind: 'busy', holder: outcome.claim.owner };
    case 'exists': {
      const e = outcome.entry;
      return { kind: 'record', result: { status: 'exists', paymentId: e.paymentId, paymentLink: e.paymentLink, attempts: 0 }, withClaim: false };
    }
    case 'conflict': {
      const e = outcome.entry;
      const message =
        `invoice ${r.invoiceNumber} already has link ${e.paymentId} for ${formatCents(e.amountCents)}` +
        `${e.description ? ` ("${e.description}")` : ''}; this row says ${formatCents(r.amountCents)}` +
        `${r.description ? ` ("${r.description}")` : ''}. Not sent`;
      return { kind: 'record', result: { status: 'conflict', errorCode: 'LEDGER_CONFLICT', errorMessage: message, attempts: 0 }, withClaim: false };
    }
    case 'claimed': {
      const claim = outcome.claim;
      // A claim that began its first attempt is within its budget by definition.
      if (!outcome.attempt && !inBudget(claim, ctx)) {
        const last = (PAYWINT_ERROR_CODES as readonly string[]).includes(claim.lastCode ?? '') ? (claim.lastCode as PaywintErrorCode) : 'PAYWINT_SERVER_ERROR';
        const err = new PaylinksError(last, `gave up after ${claim.attempts} request(s) over the retry window; the last: ${claim.lastMessage ?? 'no answer'}`);
        return { kind: 'record', result: failedResult(err, claim.attempts, claim.unknown > 0 ? unknownOutcomeNote(claim) : undefined), withClaim: true };
      }
      return { kind: 'send', claim, attempt: outcome.attempt };
    }
  }
}

/** What a row does after its request failed (retries in place are over). */
export type FailureAction =
  /** Paywint said 429: every worker waits this long, then the row sends again. */
  | { kind: 'pause'; pauseMs: number }
  /** Paywint refused the credentials: the batch stops; the row records this result. */
  | { kind: 'stop-batch'; result: RowResult }
  /** The worker is shutting down: the row runs again with its chunk. */
  | { kind: 'interrupted' }
  /** Back to the queue in a job of its own, with its own backoff; the claim goes with it. */
  | { kind: 'retry-later'; runs: number; delayMs: number }
  /** The row fails with this result. */
  | { kind: 'record'; result: RowResult };

export interface FailureContext extends Pick<RowContext, 'maxAttempts' | 'retryWindowMs'> {
  /** Runs of the row that ended in a retry before this job. */
  runs: number;
  /** Runs a row may have in all (the queue's job attempts). */
  maxRuns: number;
  /** The worker is shutting down. */
  aborted: boolean;
}

/** The action for a row whose request failed with `err`, its claim now `after`. */
export function failureAction(err: PaylinksError, after: Claim, ctx: FailureContext): FailureAction {
  const budgetLeft = inBudget(after, ctx);
  const note = after.unknown > 0 ? unknownOutcomeNote(after) : undefined;
  if (err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED' && budgetLeft && !ctx.aborted) return { kind: 'pause', pauseMs: rateLimitPauseMs(err) };
  if (err.code === 'PAYWINT_AUTH') return { kind: 'stop-batch', result: failedResult(err, after.attempts, note) };
  if (ctx.aborted) return { kind: 'interrupted' };
  if (isRetryable(err) && budgetLeft && ctx.runs + 1 < ctx.maxRuns) return { kind: 'retry-later', runs: ctx.runs + 1, delayMs: backoffBetweenJobsMs(ctx.runs + 1) };
  return { kind: 'record', result: failedResult(err, after.attempts, note) };
}
