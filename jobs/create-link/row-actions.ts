/**
 * What a row of a `create-link` job does next, as pure functions: from the
 * outcome of its claim (send, record a result, skip it, ...) and from a
 * request that failed (pause, retry later, stop the batch, record the
 * failure). The processor (../create-link.ts) carries the actions out.
 */
import { PAYWINT_ERROR_CODES, PaylinksError, PaywintError, UNKNOWN_OUTCOME_CODE, type PaywintErrorCode } from '../../src/core/errors.js';
import { formatCents } from '../../src/core/money.js';
import { maySend, type Claim, type ClaimOutcome } from '../../src/pipeline/ledger.js';
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
  /** Requests an invoice may send after one whose outcome is unknown, without a person's say-so (PAYLINKS_UNKNOWN_OUTCOME_RETRIES). */
  unknownOutcomeRetries: number;
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

/** `n request(s)`, as a person writes it. */
function requests(n: number, what = 'request'): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** What an unknown outcome is, in the words of every message that counts them. */
const NO_CLEAR_ANSWER = 'got no clear answer (no answer, or one without a usable link)';

/**
 * The note on a row whose invoice had `earlier` requests with an unknown
 * outcome before this one (the row's own last request is never counted):
 * on a `created` row (`linked`), Paywint may hold another link; on a failed
 * one, a link.
 */
export function unknownOutcomeNote(earlier: number, linked: boolean): string {
  const what = `${requests(earlier, 'earlier request')} for this invoice ${NO_CLEAR_ANSWER}`;
  return linked ? `${what}; Paywint may hold another link for it: look for it before mailing` : `${what}; Paywint may hold a link for it: look for it before sending it again`;
}

/**
 * The result of a row whose invoice may be sent no more without a person's
 * say-so: its requests' outcomes were unknown too often (see {@link maySend}).
 * `last`: the message of its last request, when this run sent it.
 */
export function unknownOutcomeResult(claim: Claim, batchId: string, last?: string): RowResult {
  const lastSaid = last ?? claim.lastMessage;
  const message =
    `${requests(claim.unknown)} for this invoice ${NO_CLEAR_ANSWER}${lastSaid ? `, the last: ${lastSaid}` : ''}. ` +
    `Paywint may hold a link for ${claim.unknown === 1 ? 'it' : 'each'}: not sent again without your say-so. Look for the link at Paywint before mailing; ` +
    `if there is none, \`paylinks retry ${batchId} --include-unknown\` (or Retry on the page) sends it once more`;
  return { status: 'failed', errorCode: UNKNOWN_OUTCOME_CODE, errorMessage: message, attempts: claim.attempts, maybeLinked: true };
}

/**
 * A failed row's result; `earlierUnknown`: requests for its invoice with an
 * unknown outcome before the last one (noted, and the row may have a link);
 * `lastUnknown`: the last one's outcome is unknown too (its message says so).
 */
export function failedResult(error: PaylinksError, attempts: number, earlierUnknown = 0, lastUnknown = false): RowResult {
  const message = earlierUnknown > 0 ? `${error.message}; ${unknownOutcomeNote(earlierUnknown, false)}` : error.message;
  const result: RowResult = { status: 'failed', errorCode: error.code, errorMessage: message, attempts };
  if (earlierUnknown > 0 || lastUnknown) result.maybeLinked = true;
  return result;
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
      // A claim that began its first attempt is within its budget, and may send, by definition.
      if (!outcome.attempt && !maySend(claim, ctx.unknownOutcomeRetries)) return { kind: 'record', result: unknownOutcomeResult(claim, ctx.batchId), withClaim: true };
      if (!outcome.attempt && !inBudget(claim, ctx)) {
        const last = (PAYWINT_ERROR_CODES as readonly string[]).includes(claim.lastCode ?? '') ? (claim.lastCode as PaywintErrorCode) : 'PAYWINT_SERVER_ERROR';
        const err = new PaylinksError(last, `gave up after ${requests(claim.attempts)} over the retry window; the last: ${claim.lastMessage ?? 'no answer'}`);
        return { kind: 'record', result: failedResult(err, claim.attempts, claim.unknown), withClaim: true };
      }
      return { kind: 'send', claim, attempt: outcome.attempt };
    }
  }
}

/** What a row does after its request failed (retries in place are over). */
export type FailureAction =
  /** Paywint said 429: every worker waits this long, then the row sends again. */
  | { kind: 'pause'; pauseMs: number }
  /** Paywint refused the credentials, or its create endpoint is not at the base URL: the batch stops; the row records this result. */
  | { kind: 'stop-batch'; result: RowResult }
  /** The worker is shutting down: the row runs again with its chunk. */
  | { kind: 'interrupted' }
  /** Back to the queue in a job of its own, with its own backoff; the claim goes with it. */
  | { kind: 'retry-later'; runs: number; delayMs: number }
  /** The row fails with this result. */
  | { kind: 'record'; result: RowResult };

export interface FailureContext extends Pick<RowContext, 'batchId' | 'maxAttempts' | 'retryWindowMs' | 'unknownOutcomeRetries'> {
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
  // The last request's own unknown outcome is in its message, and counted in the claim: the note counts the others.
  const lastUnknown = err instanceof PaywintError && err.outcomeUnknown;
  const earlier = Math.max(0, after.unknown - (lastUnknown ? 1 : 0));
  const capped = err.code === UNKNOWN_OUTCOME_CODE || !maySend(after, ctx.unknownOutcomeRetries);
  if (err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED' && budgetLeft && !capped && !ctx.aborted) return { kind: 'pause', pauseMs: rateLimitPauseMs(err) };
  // No row can succeed (credentials refused, or the create endpoint is not at PAYWINT_BASE_URL): stop the batch.
  if (err.code === 'PAYWINT_AUTH' || err.code === 'PAYWINT_WRONG_BASE_URL') return { kind: 'stop-batch', result: failedResult(err, after.attempts, earlier, lastUnknown) };
  if (ctx.aborted) return { kind: 'interrupted' };
  // Sent and unanswered too often: no later run would send it either.
  if (capped) return { kind: 'record', result: unknownOutcomeResult(after, ctx.batchId, err.code === UNKNOWN_OUTCOME_CODE ? undefined : err.message) };
  if (isRetryable(err) && budgetLeft && ctx.runs + 1 < ctx.maxRuns) return { kind: 'retry-later', runs: ctx.runs + 1, delayMs: backoffBetweenJobsMs(ctx.runs + 1) };
  return { kind: 'record', result: failedResult(err, after.attempts, earlier, lastUnknown) };
}
