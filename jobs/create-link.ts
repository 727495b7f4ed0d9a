/**
 * The `create-link` job: one valid invoice row, one payment link.
 *
 * Its data schema and its processor. The processor guarantees, with the
 * ledger, that an invoice never gets two links from paylinks: it claims the
 * invoice atomically, counts every request against the shared rate limit and
 * the row's retry budget, and records the result, the ledger entry and the
 * batch counters in one atomic step.
 */
import { DelayedError, RateLimitError, type Job, type Queue } from 'bullmq';
import pRetry, { AbortError } from 'p-retry';
import { z } from 'zod';
import { rowJobId, type BatchStore } from '../src/pipeline/batch-store.js';
import { coerceError, PAYWINT_ERROR_CODES, PaylinksError, PaywintError, POSSIBLE_DUPLICATE_CODE, type PaywintErrorCode } from '../src/core/errors.js';
import { type Claim, type Ledger } from '../src/pipeline/ledger.js';
import type { Logger } from '../src/core/logger.js';
import { formatCents } from '../src/intake/money.js';
import type { RowResult } from '../src/pipeline/output.js';
import type { CreatedLink, PaywintClient } from '../src/paywint/client.js';
import type { RateLimiter } from '../src/pipeline/rate-limiter.js';
import { isRetryable, rateLimitPauseMs, RETRY_POLICY, withinBudget } from '../src/pipeline/retry-policy.js';

export const CREATE_LINK_JOB = 'create-link';

/** What the worker needs, and nothing else (never credentials). */
export const CreateLinkDataSchema = z.object({
  batchId: z.string(),
  /** 0-based index of the record in the input file. */
  row: z.number().int().nonnegative(),
  /** File line where the record starts. */
  line: z.number().int().positive(),
  invoiceNumber: z.string().min(1).max(20),
  amountCents: z.number().int().positive(),
  description: z.string().max(255).nullable(),
});
export type CreateLinkData = z.infer<typeof CreateLinkDataSchema>;

/** What a finished job returns (kept by BullMQ only until it is removed). */
export interface CreateLinkResult {
  status: RowResult['status'] | 'already-recorded';
}

/** Counters for metrics; each is optional. */
export interface CreateLinkEvents {
  onRequest?(outcome: string): void;
  onRetry?(code: string): void;
  onRateLimitWait?(ms: number): void;
}

export interface CreateLinkDeps {
  store: BatchStore;
  ledger: Ledger;
  limiter: RateLimiter;
  client: PaywintClient;
  /** The queue, to pause every worker after a 429 and to look up a claim's holder. */
  queue: Queue;
  maxAttempts: number;
  retryWindowMs: number;
  logger: Logger;
  /** Aborted when the worker shuts down: no new request starts, waits end. */
  signal?: AbortSignal;
  events?: CreateLinkEvents;
}

/** States of a BullMQ job that still intends to finish its row. */
const LIVE_JOB_STATES = new Set(['active', 'waiting', 'wait', 'delayed', 'prioritized', 'waiting-children']);

/** Writing a created link's result: about 12 s of tries before the job is left to run again. */
const RECORD_RETRY = { retries: 6, minTimeout: 200, factor: 2, maxTimeout: 4_000 };

/** How long a row waits for another job that holds its invoice. */
const BUSY_RECHECK_MS = 1_000;

function unknownOutcomeNote(claim: Claim): string {
  return `${claim.unknown} earlier request(s) for this invoice got no answer after being sent; Paywint may hold another link for it: look for it before mailing`;
}

export function createLinkProcessor(deps: CreateLinkDeps) {
  const { store, ledger, limiter, client, queue, logger } = deps;
  /** Batches of another account already reported (once each, not once per row). */
  const warnedAccount = new Set<string>();

  async function finish(data: CreateLinkData, result: RowResult, owner?: string, created?: CreatedLink): Promise<CreateLinkResult> {
    await store.finishRow(data.batchId, data.row, result, {
      invoiceNumber: data.invoiceNumber,
      claimOwner: owner,
      ledgerKey: ledger.ledgerKey,
      claimsKey: ledger.claimsKey,
      unsettledKey: ledger.unsettledKey,
      amountCents: data.amountCents,
      ledgerEntry: created && {
        paymentId: created.paymentId,
        paymentLink: created.paymentLink,
        amountCents: data.amountCents,
        description: data.description,
        batchId: data.batchId,
        row: data.row,
        createdAt: new Date().toISOString(),
      },
    });
    return { status: result.status };
  }

  function failed(error: PaylinksError, attempts: number, note?: string): RowResult {
    return { status: 'failed', errorCode: error.code, errorMessage: note ? `${error.message}; ${note}` : error.message, attempts };
  }

  /** Sends the request, retrying blips in the job; resolves with the link or rejects with the last error. */
  async function send(data: CreateLinkData, owner: string, claim: Claim, begunAttempt?: string): Promise<{ link: CreatedLink; claim: Claim }> {
    let current = claim;
    const budget = () => ({ attempts: current.attempts, firstAt: current.firstAt, maxAttempts: deps.maxAttempts, retryWindowMs: deps.retryWindowMs });
    let made: CreatedLink | undefined;
    const link = await pRetry(
      async () => {
        // The claim may have begun the first attempt already.
        const first = begunAttempt;
        begunAttempt = undefined;
        const begun = first ? { claim: current, waitedMs: 0, attempt: first } : await ledger.beginAttempt(data.invoiceNumber, owner, limiter, deps.signal);
        if (!begun) throw new AbortError(new PaylinksError('INTERNAL', `lost the claim on invoice ${data.invoiceNumber}`, { retryable: true }));
        if (begun.waitedMs > 0) deps.events?.onRateLimitWait?.(begun.waitedMs);
        current = begun.claim;
        try {
          // Not aborted on shutdown: a request in flight is finished (it is bounded by the timeout).
          const created = await client.createPaymentLink({ invoiceNumber: data.invoiceNumber, amountCents: data.amountCents, description: data.description });
          deps.events?.onRequest?.('created');
          made = created;
          return created;
        } catch (error) {
          const err = coerceError(error);
          deps.events?.onRequest?.(err.code);
          const outcome = err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED' ? 'rate-limited' : err instanceof PaywintError && err.outcomeUnknown ? 'unknown' : 'failed';
          current = (await ledger.endAttempt(data.invoiceNumber, owner, begun.attempt, outcome, { code: err.code, message: err.message })) ?? current;
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
          const again = err.code !== 'PAYWINT_RATE_LIMITED' && isRetryable(err) && withinBudget(budget()) && !deps.signal?.aborted;
          if (again) {
            deps.events?.onRetry?.(err.code);
            logger.debug({ batchId: data.batchId, row: data.row, code: err.code }, 'request failed: retrying');
          }
          return again;
        },
      },
    ).catch(async (error: unknown) => {
      // p-retry rejects once its signal is aborted even after a success: a link Paywint made is never dropped.
      if (made) return made;
      // Aborted before the first request went out: the attempt the claim began was never sent.
      if (begunAttempt) current = (await ledger.endAttempt(data.invoiceNumber, owner, begunAttempt, 'not-sent')) ?? current;
      throw Object.assign(coerceError(error), { claimAfter: current });
    });
    return { link, claim: current };
  }

  return async function processCreateLink(job: Job, token?: string): Promise<CreateLinkResult> {
    const data = CreateLinkDataSchema.parse(job.data);
    const owner = job.id ?? rowJobId(data.batchId, data.row);
    let outcome = await ledger.claim(data.invoiceNumber, owner, data.amountCents, data.description, store.rowRef(data.batchId, data.row), limiter);
    if (outcome.kind === 'recorded') return { status: 'already-recorded' };
    if (outcome.kind === 'no-batch') {
      logger.warn({ batchId: data.batchId, row: data.row }, 'job of a batch that no longer exists: dropped');
      return { status: 'already-recorded' };
    }
    if (outcome.kind === 'stopped') {
      const batch = await store.get(data.batchId);
      const cancelled = batch?.state === 'cancelled';
      const code = cancelled ? 'BATCH_CANCELLED' : (batch?.stopCode ?? 'BATCH_CANCELLED');
      const message = cancelled ? 'not sent: the batch was cancelled' : `not sent: the batch stopped (${batch?.stopMessage ?? 'failed'})`;
      await ledger.release(data.invoiceNumber, owner);
      return finish(data, { status: 'failed', errorCode: code, errorMessage: message, attempts: 0 }, owner);
    }
    if (outcome.kind === 'other-account') {
      const message =
        `not sent: the batch was submitted for Paywint API key …${outcome.account.slice(-4)}, this worker runs with …${ledger.apiKey.slice(-4)}; ` +
        `run a worker with that account's credentials, then \`paylinks retry ${data.batchId}\``;
      if (!warnedAccount.has(data.batchId)) logger.error({ batchId: data.batchId }, message);
      warnedAccount.add(data.batchId);
      return finish(data, { status: 'failed', errorCode: 'ACCOUNT_MISMATCH', errorMessage: message, attempts: 0 });
    }
    if (outcome.kind === 'busy') {
      const holder = await queue.getJob(outcome.claim.owner);
      const holderState = holder ? await holder.getState() : 'missing';
      const taken = LIVE_JOB_STATES.has(holderState) ? undefined : await ledger.takeOver(data.invoiceNumber, outcome.claim.owner, owner);
      if (!taken) {
        // Another job is working on this invoice: come back when it is done, without spending an attempt.
        await job.moveToDelayed(Date.now() + BUSY_RECHECK_MS, token);
        throw new DelayedError();
      }
      logger.warn({ invoice: data.invoiceNumber, previous: outcome.claim.owner, job: owner }, 'took over the claim of a job that is gone');
      outcome = { kind: 'claimed', claim: taken };
    }
    if (outcome.kind === 'exists') {
      const e = outcome.entry;
      return finish(data, { status: 'exists', paymentId: e.paymentId, paymentLink: e.paymentLink, attempts: 0 });
    }
    if (outcome.kind === 'conflict') {
      const e = outcome.entry;
      const message =
        `invoice ${data.invoiceNumber} already has link ${e.paymentId} for ${formatCents(e.amountCents)}` +
        `${e.description ? ` ("${e.description}")` : ''}; this row says ${formatCents(data.amountCents)}` +
        `${data.description ? ` ("${data.description}")` : ''}. Not sent`;
      return finish(data, { status: 'conflict', errorCode: 'LEDGER_CONFLICT', errorMessage: message, attempts: 0 });
    }

    const claim = outcome.claim;
    // A claim that began its first attempt is within its budget by definition.
    if (!outcome.attempt && !withinBudget({ attempts: claim.attempts, firstAt: claim.firstAt, maxAttempts: deps.maxAttempts, retryWindowMs: deps.retryWindowMs })) {
      const last = (PAYWINT_ERROR_CODES as readonly string[]).includes(claim.lastCode ?? '') ? (claim.lastCode as PaywintErrorCode) : 'PAYWINT_SERVER_ERROR';
      const err = new PaylinksError(last, `gave up after ${claim.attempts} request(s) over the retry window; the last: ${claim.lastMessage ?? 'no answer'}`);
      return finish(data, failed(err, claim.attempts, claim.unknown > 0 ? unknownOutcomeNote(claim) : undefined), owner);
    }

    let sent: { link: CreatedLink; claim: Claim };
    try {
      sent = await send(data, owner, claim, outcome.attempt);
    } catch (error) {
      const err = coerceError(error);
      const after = (error as { claimAfter?: Claim }).claimAfter ?? claim;
      const budgetLeft = withinBudget({ attempts: after.attempts, firstAt: after.firstAt, maxAttempts: deps.maxAttempts, retryWindowMs: deps.retryWindowMs });
      const note = after.unknown > 0 ? unknownOutcomeNote(after) : undefined;

      if (err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED' && budgetLeft) {
        const pauseMs = rateLimitPauseMs(err);
        await limiter.pause(pauseMs);
        await queue.rateLimit(pauseMs);
        deps.events?.onRateLimitWait?.(pauseMs);
        throw new RateLimitError();
      }
      if (err.code === 'PAYWINT_AUTH') {
        await store.transition(data.batchId, ['submitting', 'queued', 'running'], 'failed', {
          code: 'BATCH_STOPPED_AUTH',
          message: `Paywint refused the credentials (${err.message})`,
        });
        logger.error({ batchId: data.batchId, code: err.code }, 'Paywint refused the credentials: batch stopped');
        return finish(data, failed(err, after.attempts, note), owner);
      }
      if (deps.signal?.aborted) throw err; // shutting down: the row stays in the queue, untouched
      const runsLeft = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      if (isRetryable(err) && budgetLeft && runsLeft) {
        // Back to the queue with BullMQ's backoff; the claim stays with this job.
        logger.debug({ batchId: data.batchId, row: data.row, code: err.code }, 'row will be retried');
        throw err;
      }
      return finish(data, failed(err, after.attempts, note), owner);
    }
    return recordCreated(data, owner, sent);
  };

  /**
   * Records a link Paywint made. Redis may refuse the write for a while (a
   * failover's READONLY, OOM, BUSY): the link is known, so the write is tried
   * again rather than failing the row. If it still cannot be written the job
   * runs again later; its claim shows a request in flight, so that run's link
   * is flagged, and the lost one is in the log.
   */
  async function recordCreated(data: CreateLinkData, owner: string, sent: { link: CreatedLink; claim: Claim }): Promise<CreateLinkResult> {
    const note = sent.claim.unknown > 0 ? { errorCode: POSSIBLE_DUPLICATE_CODE, errorMessage: unknownOutcomeNote(sent.claim) } : {};
    const result: RowResult = { status: 'created', paymentId: sent.link.paymentId, paymentLink: sent.link.paymentLink, attempts: sent.claim.attempts, ...note };
    try {
      return await pRetry(() => finish(data, result, owner, sent.link), { ...RECORD_RETRY, onFailedAttempt: ({ error }) => logger.warn({ batchId: data.batchId, row: data.row, err: error.message }, 'could not record a created link yet: trying again') });
    } catch (error) {
      logger.error(
        { batchId: data.batchId, row: data.row, invoice: data.invoiceNumber, paymentId: sent.link.paymentId, paymentLink: sent.link.paymentLink, err: coerceError(error).message },
        'a link was created but could not be recorded: the row will run again and be flagged',
      );
      throw error;
    }
  }
}
