/**
 * Sends one row's create-link request under its claim, retrying blips in
 * place (p-retry, within the row's budget), each attempt begun and ended in
 * the ledger. Resolves with the link, or with the last error; either way
 * with the claim as it stands after.
 */
import pRetry, { AbortError } from 'p-retry';
import { coerceError, PaylinksError, PaywintError, UNKNOWN_OUTCOME_CODE } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { CreatedLink, PaywintClient } from '../../src/paywint/client.js';
import type { CreateLinkEvents } from '../../src/pipeline/create-link-job.js';
import { maySend, type Claim, type Ledger } from '../../src/pipeline/ledger.js';
import type { RateLimiter } from '../../src/pipeline/rate-limiter.js';
import { isRetryable, rateLimitPauseMs, RETRY_POLICY } from '../../src/pipeline/retry-policy.js';
import { inBudget, type WorkRow } from './row-actions.js';

export type SendResult = { ok: true; link: CreatedLink; claim: Claim } | { ok: false; error: PaylinksError; claim: Claim };

export interface SendDeps {
  ledger: Ledger;
  limiter: RateLimiter;
  client: PaywintClient;
  maxAttempts: number;
  retryWindowMs: number;
  logger: Logger;
  /** Aborted when the worker shuts down: no new attempt starts; a request in flight is finished. */
  signal?: AbortSignal;
  events?: CreateLinkEvents;
}

/**
 * Sends the request for `r` as `owner`, whose claim is `claim`;
 * `begunAttempt`: the claim began the first attempt already.
 */
export async function sendRow(deps: SendDeps, batchId: string, r: WorkRow, owner: string, claim: Claim, begunAttempt?: string): Promise<SendResult> {
  const { ledger, limiter, client, logger } = deps;
  let current = claim;
  let made: CreatedLink | undefined;
  try {
    const link = await pRetry(
      async () => {
        // The claim may have begun the first attempt already.
        const first = begunAttempt;
        begunAttempt = undefined;
        const begun = first ? { kind: 'begun' as const, claim: current, waitedMs: 0, attempt: first } : await ledger.beginAttempt(r.invoiceNumber, owner, limiter, deps.signal);
        if (!begun) throw new AbortError(new PaylinksError('INTERNAL', `lost the claim on invoice ${r.invoiceNumber}`, { retryable: true }));
        if (begun.kind === 'capped') {
          // Its requests went unanswered too often (another run of the row may have counted one more): not sent.
          current = begun.claim;
          throw new AbortError(new PaylinksError(UNKNOWN_OUTCOME_CODE, `invoice ${r.invoiceNumber}: too many requests with an unknown outcome to send another`));
        }
        if (begun.waitedMs > 0) deps.events?.onRateLimitWait?.(begun.waitedMs);
        current = begun.claim;
        try {
          // Not aborted on shutdown: a request in flight is finished (it is bounded by the timeout).
          const created = await client.createPaymentLink({ invoiceNumber: r.invoiceNumber, amountCents: r.amountCents, description: r.description });
          deps.events?.onRequest?.('created');
          made = created;
          return created;
        } catch (error) {
          const err = coerceError(error);
          deps.events?.onRequest?.(err.code);
          const rateLimited = err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED';
          // Every worker stops at once, whatever becomes of this row: the sooner the shared schedule knows, the
          // fewer requests go out inside the Retry-After.
          if (rateLimited) await limiter.pause(rateLimitPauseMs(err));
          const outcome = rateLimited ? 'rate-limited' : err instanceof PaywintError && err.outcomeUnknown ? 'unknown' : 'failed';
          current = (await ledger.endAttempt(r.invoiceNumber, owner, begun.attempt, outcome, { code: err.code, message: err.message })) ?? current;
          throw err;
        }
      },
      {
        retries: RETRY_POLICY.inJob.retries,
        minTimeout: RETRY_POLICY.inJob.minDelayMs,
        maxTimeout: RETRY_POLICY.inJob.maxDelayMs,
        factor: RETRY_POLICY.inJob.factor,
        randomize: true,
        signal: deps.signal,
        shouldRetry: ({ error }) => {
          const err = coerceError(error);
          const again = err.code !== 'PAYWINT_RATE_LIMITED' && isRetryable(err) && inBudget(current, deps) && maySend(current, ledger.unknownOutcomeRetries) && !deps.signal?.aborted;
          if (again) {
            deps.events?.onRetry?.(err.code);
            logger.debug({ batchId, row: r.row, code: err.code }, 'request failed: retrying');
          }
          return again;
        },
      },
    );
    return { ok: true, link, claim: current };
  } catch (error) {
    // p-retry rejects once its signal is aborted even after a success: a link Paywint made is never dropped.
    if (made) return { ok: true, link: made, claim: current };
    try {
      // Aborted before the first request went out: the attempt the claim began was never sent.
      if (begunAttempt) current = (await ledger.endAttempt(r.invoiceNumber, owner, begunAttempt, 'not-sent')) ?? current;
    } catch (endError) {
      return { ok: false, error: coerceError(endError), claim };
    }
    return { ok: false, error: coerceError(error), claim: current };
  }
}
