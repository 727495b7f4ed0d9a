/**
 * The `create-link` job: a chunk of a batch's rows (`[from, to)`), one
 * payment link per valid invoice among them.
 *
 * Its processor; its name and data are the queue's contract
 * (src/pipeline/create-link-job.ts). The rows of a chunk run concurrently,
 * each holding one of the worker's row slots; each row claims its invoice
 * atomically (never two links from paylinks), counts every request against
 * the shared rate limit and its own retry budget, and records its result, the
 * ledger entry and the batch counters in one atomic step. Claims and results
 * of rows in flight together go to Redis in one script call per group.
 *
 * A row that needs a later retry (Paywint down for a while, another job
 * holding its invoice) leaves the chunk for a delayed job of its own, with its
 * own backoff; the chunk goes on. A crashed chunk runs again whole: rows with
 * a result are skipped, rows it had in flight are flagged as unknown outcomes.
 */
import type { Job } from 'bullmq';
import pRetry, { AbortError } from 'p-retry';
import type { BatchLayout, FinishedRow } from '../src/pipeline/batch-store.js';
import { isStoppedState, LIVE_STATES } from '../src/pipeline/batch-states.js';
import { rowsJobId, rowsOfJobId } from '../src/pipeline/job-ids.js';
import { coerceError, PAYWINT_ERROR_CODES, PaylinksError, PaywintError, POSSIBLE_DUPLICATE_CODE, type PaywintErrorCode } from '../src/core/errors.js';
import { type Claim, type ClaimOutcome, type ClaimRequest } from '../src/pipeline/ledger.js';
import { formatCents } from '../src/core/money.js';
import { checkRecord } from '../src/intake/row-checks.js';
import type { RowResult } from '../src/pipeline/output.js';
import type { CreatedLink } from '../src/paywint/client.js';
import { backoffBetweenJobsMs, isRetryable, rateLimitPauseMs, RETRY_POLICY, withinBudget } from '../src/pipeline/retry-policy.js';
import { GroupCall } from '../src/core/group-call.js';
import { JOB_OPTIONS } from '../src/pipeline/queue.js';
import { CREATE_LINK_JOB, CreateLinkDataSchema, type CreateLinkData, type CreateLinkDeps, type CreateLinkResult } from '../src/pipeline/create-link-job.js';

/** States of a BullMQ job that still intends to finish its rows. */
const LIVE_JOB_STATES = new Set(['active', 'waiting', 'wait', 'delayed', 'prioritized', 'waiting-children']);

/** Writing a created link's result: about 12 s of tries before the job is left to run again. */
const RECORD_RETRY = { retries: 6, minTimeout: 200, factor: 2, maxTimeout: 4_000 };

/** How long a row waits for another job that holds its invoice. */
const BUSY_RECHECK_MS = 1_000;

/** One valid row of a chunk, as the worker sends it. */
interface WorkRow {
  row: number;
  invoiceNumber: string;
  amountCents: number;
  description: string | null;
}

/** The time now as an ISO string, made once per millisecond (rows answered together share it). */
let isoNow = { ms: -1, iso: '' };
function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoNow.ms) isoNow = { ms, iso: new Date(ms).toISOString() };
  return isoNow.iso;
}

function unknownOutcomeNote(claim: Claim): string {
  return `${claim.unknown} earlier request(s) for this invoice got no answer after being sent; Paywint may hold another link for it: look for it before mailing`;
}

/**
 * The valid rows among a chunk's records, and the others with the result that
 * says why (invalid and duplicate ones were recorded at submission, so those
 * results are recorded already; a stored row the checks now refuse is recorded
 * by them, so it can never leave its batch unfinished).
 */
function workRows(from: number, records: readonly { line: number; cells: string[] }[], layout: BatchLayout): { rows: WorkRow[]; refused: { row: number; result: RowResult }[] } {
  const rows: WorkRow[] = [];
  const refused: { row: number; result: RowResult }[] = [];
  records.forEach((r, i) => {
    const stored = { ...layout, encoding: 'utf-8' as const };
    let record = checkRecord({ line: r.line, cells: r.cells }, from + i, stored);
    // A workbook's number cells are stored as plain decimals (89.99), whatever its text amounts decided.
    if (record.status !== 'valid' && layout.format === 'workbook') record = checkRecord({ line: r.line, cells: r.cells }, from + i, { ...stored, decimal: 'point' });
    if (record.status === 'valid') rows.push({ row: from + i, invoiceNumber: record.invoiceNumber, amountCents: record.amountCents, description: record.description });
    else refused.push({ row: from + i, result: { status: record.status, errorCode: record.code, errorMessage: record.message, attempts: 0 } });
  });
  return { rows, refused };
}

export function createLinkProcessor(deps: CreateLinkDeps): (job: Job) => Promise<CreateLinkResult> {
  const { store, ledger, limiter, client, queue, logger, slots } = deps;
  /** Batches of another account already reported (once each, not once per row). */
  const warnedAccount = new Set<string>();
  /** Batches this process saw refused (a 401 stops a batch once, however many rows were in flight). */
  const refused = new Set<string>();
  /** Chunks in the order they started here: the earliest gets row slots first. */
  let started = 0;
  const claims = new GroupCall<ClaimRequest, ClaimOutcome>((batchId, requests) => ledger.claimRows(store.rowRef(batchId, 0), requests, limiter));
  // Results go after the claims of the same turn: rows wait on their claims, nothing waits on a result.
  const finishes = new GroupCall<FinishedRow, boolean>((batchId, rows) => store.finishRows(batchId, rows, ledger), { deferred: true });

  function finish(batchId: string, r: WorkRow, result: RowResult, owner?: string, created?: CreatedLink): Promise<boolean> {
    return finishes.call(batchId, {
      row: r.row,
      result,
      invoiceNumber: r.invoiceNumber,
      claimOwner: owner,
      amountCents: r.amountCents,
      ledgerEntry: created && {
        paymentId: created.paymentId,
        paymentLink: created.paymentLink,
        amountCents: r.amountCents,
        description: r.description,
        batchId,
        row: r.row,
        createdAt: nowIso(),
      },
    });
  }

  function failed(error: PaylinksError, attempts: number, note?: string): RowResult {
    return { status: 'failed', errorCode: error.code, errorMessage: note ? `${error.message}; ${note}` : error.message, attempts };
  }

  /** Sends the request, retrying blips in place; resolves with the link or rejects with the last error. */
  async function send(batchId: string, r: WorkRow, owner: string, claim: Claim, begunAttempt?: string): Promise<{ link: CreatedLink; claim: Claim }> {
    let current = claim;
    const budget = () => ({ attempts: current.attempts, firstAt: current.firstAt, maxAttempts: deps.maxAttempts, retryWindowMs: deps.retryWindowMs });
    let made: CreatedLink | undefined;
    const link = await pRetry(
      async () => {
        // The claim may have begun the first attempt already.
        const first = begunAttempt;
        begunAttempt = undefined;
        const begun = first ? { claim: current, waitedMs: 0, attempt: first } : await ledger.beginAttempt(r.invoiceNumber, owner, limiter, deps.signal);
        if (!begun) throw new AbortError(new PaylinksError('INTERNAL', `lost the claim on invoice ${r.invoiceNumber}`, { retryable: true }));
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
          const outcome = err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED' ? 'rate-limited' : err instanceof PaywintError && err.outcomeUnknown ? 'unknown' : 'failed';
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
          const again = err.code !== 'PAYWINT_RATE_LIMITED' && isRetryable(err) && withinBudget(budget()) && !deps.signal?.aborted;
          if (again) {
            deps.events?.onRetry?.(err.code);
            logger.debug({ batchId, row: r.row, code: err.code }, 'request failed: retrying');
          }
          return again;
        },
      },
    ).catch(async (error: unknown) => {
      // p-retry rejects once its signal is aborted even after a success: a link Paywint made is never dropped.
      if (made) return made;
      // Aborted before the first request went out: the attempt the claim began was never sent.
      if (begunAttempt) current = (await ledger.endAttempt(r.invoiceNumber, owner, begunAttempt, 'not-sent')) ?? current;
      throw Object.assign(coerceError(error), { claimAfter: current });
    });
    return { link, claim: current };
  }

  /** Whether the batch was stopped (its state accounts for its rows without a result). */
  async function isStopped(batchId: string): Promise<boolean> {
    const state = await store.getState(batchId);
    return state === undefined || isStoppedState(state);
  }

  /** Whether a BullMQ job still intends to finish its rows. */
  async function isLive(jobId: string): Promise<boolean> {
    const job = await queue.getJob(jobId);
    return job !== undefined && LIVE_JOB_STATES.has(await job.getState());
  }

  /** Queues a delayed job for one row; its claim, when held here, moves to that job first. */
  async function retryLater(batchId: string, r: WorkRow, runs: number, delayMs: number, claimOwner?: string): Promise<void> {
    const jobId = rowsJobId(batchId, r.row, r.row + 1, claimOwner === undefined ? `w${Date.now()}` : `r${runs}`);
    if (claimOwner !== undefined) await ledger.takeOver(r.invoiceNumber, claimOwner, jobId);
    const data: CreateLinkData = { batchId, from: r.row, to: r.row + 1, runs };
    await queue.add(CREATE_LINK_JOB, data, { ...JOB_OPTIONS, jobId, delay: delayMs });
  }

  /** How one row ended in this run: recorded, left to a later job, or nothing to do (stopped, done before). */
  type RowEnd = 'recorded' | 'later' | 'skipped' | 'stopped';

  async function processRow(batchId: string, r: WorkRow, owner: string, runs: number, requestDone: () => void): Promise<RowEnd> {
    let outcome = await claims.call(batchId, { invoiceNumber: r.invoiceNumber, owner, amountCents: r.amountCents, description: r.description, row: r.row, begin: true });
    if (outcome.kind === 'recorded') return 'skipped';
    if (outcome.kind === 'no-batch' || outcome.kind === 'stopped') return 'stopped';
    if (outcome.kind === 'other-account') {
      const message =
        `not sent: the batch was submitted for Paywint API key …${outcome.account.slice(-4)}, this worker runs with …${ledger.apiKey.slice(-4)}; ` +
        `run a worker with that account's credentials, then \`paylinks retry ${batchId}\``;
      if (!warnedAccount.has(batchId)) logger.error({ batchId }, message);
      warnedAccount.add(batchId);
      await finish(batchId, r, { status: 'failed', errorCode: 'ACCOUNT_MISMATCH', errorMessage: message, attempts: 0 });
      return 'recorded';
    }
    if (outcome.kind === 'busy') {
      const holder = outcome.claim.owner;
      if (await isLive(holder)) {
        // A job of this very row (its own retry) has it in hand.
        const range = rowsOfJobId(batchId, holder);
        if (range && range.from <= r.row && r.row < range.to) return 'later';
        // Another job is working on this invoice: come back when it is done, without spending an attempt.
        await retryLater(batchId, r, runs, BUSY_RECHECK_MS);
        return 'later';
      }
      const taken = await ledger.takeOver(r.invoiceNumber, holder, owner);
      if (!taken) {
        await retryLater(batchId, r, runs, BUSY_RECHECK_MS);
        return 'later';
      }
      logger.warn({ invoice: r.invoiceNumber, previous: holder, job: owner }, 'took over the claim of a job that is gone');
      outcome = { kind: 'claimed', claim: taken };
    }
    if (outcome.kind === 'exists') {
      const e = outcome.entry;
      await finish(batchId, r, { status: 'exists', paymentId: e.paymentId, paymentLink: e.paymentLink, attempts: 0 });
      return 'recorded';
    }
    if (outcome.kind === 'conflict') {
      const e = outcome.entry;
      const message =
        `invoice ${r.invoiceNumber} already has link ${e.paymentId} for ${formatCents(e.amountCents)}` +
        `${e.description ? ` ("${e.description}")` : ''}; this row says ${formatCents(r.amountCents)}` +
        `${r.description ? ` ("${r.description}")` : ''}. Not sent`;
      await finish(batchId, r, { status: 'conflict', errorCode: 'LEDGER_CONFLICT', errorMessage: message, attempts: 0 });
      return 'recorded';
    }

    const claim = outcome.claim;
    const inBudget = (c: Claim) => withinBudget({ attempts: c.attempts, firstAt: c.firstAt, maxAttempts: deps.maxAttempts, retryWindowMs: deps.retryWindowMs });
    // A claim that began its first attempt is within its budget by definition.
    if (!outcome.attempt && !inBudget(claim)) {
      const last = (PAYWINT_ERROR_CODES as readonly string[]).includes(claim.lastCode ?? '') ? (claim.lastCode as PaywintErrorCode) : 'PAYWINT_SERVER_ERROR';
      const err = new PaylinksError(last, `gave up after ${claim.attempts} request(s) over the retry window; the last: ${claim.lastMessage ?? 'no answer'}`);
      await finish(batchId, r, failed(err, claim.attempts, claim.unknown > 0 ? unknownOutcomeNote(claim) : undefined), owner);
      return 'recorded';
    }

    let begun = outcome.attempt;
    let current = claim;
    for (;;) {
      let sent: { link: CreatedLink; claim: Claim };
      try {
        sent = await send(batchId, r, owner, current, begun);
      } catch (error) {
        begun = undefined;
        const err = coerceError(error);
        const after = (error as { claimAfter?: Claim }).claimAfter ?? current;
        current = after;
        const budgetLeft = inBudget(after);
        const note = after.unknown > 0 ? unknownOutcomeNote(after) : undefined;

        if (err instanceof PaywintError && err.code === 'PAYWINT_RATE_LIMITED' && budgetLeft && !deps.signal?.aborted) {
          // Every worker waits: the shared schedule moves past the pause, and no new chunk starts meanwhile.
          const pauseMs = rateLimitPauseMs(err);
          await limiter.pause(pauseMs);
          await queue.rateLimit(pauseMs);
          deps.events?.onRateLimitWait?.(pauseMs);
          continue;
        }
        if (err.code === 'PAYWINT_AUTH') {
          const state = await store.transition(batchId, LIVE_STATES, 'failed', {
            code: 'BATCH_STOPPED_AUTH',
            message: `Paywint refused the credentials (${err.message})`,
          });
          if (state === 'failed' && !refused.has(batchId)) {
            refused.add(batchId);
            logger.error({ batchId, code: err.code }, 'Paywint refused the credentials: batch stopped');
            deps.onBatchStopped?.(batchId);
          }
          await finish(batchId, r, failed(err, after.attempts, note), owner);
          return 'stopped';
        }
        if (deps.signal?.aborted) throw err; // shutting down: the row runs again with its chunk
        if (isRetryable(err) && budgetLeft && runs + 1 < (JOB_OPTIONS.attempts ?? 1)) {
          // Back to the queue in a job of its own, with its own backoff; the claim goes with it.
          logger.debug({ batchId, row: r.row, code: err.code }, 'row will be retried');
          await retryLater(batchId, r, runs + 1, backoffBetweenJobsMs(runs + 1), owner);
          return 'later';
        }
        await finish(batchId, r, failed(err, after.attempts, note), owner);
        return 'recorded';
      }
      // The request is over: its row slot goes to the next row while this one is recorded.
      requestDone();
      await recordCreated(batchId, r, owner, sent);
      return 'recorded';
    }
  }

  /**
   * Records a link Paywint made. Redis may refuse the write for a while (a
   * failover's READONLY, OOM, BUSY): the link is known, so the write is tried
   * again rather than failing the row. If it still cannot be written the job
   * runs again later; its claim shows a request in flight, so that run's link
   * is flagged, and the lost one is in the log.
   */
  async function recordCreated(batchId: string, r: WorkRow, owner: string, sent: { link: CreatedLink; claim: Claim }): Promise<void> {
    const note = sent.claim.unknown > 0 ? { errorCode: POSSIBLE_DUPLICATE_CODE, errorMessage: unknownOutcomeNote(sent.claim) } : {};
    const result: RowResult = { status: 'created', paymentId: sent.link.paymentId, paymentLink: sent.link.paymentLink, attempts: sent.claim.attempts, ...note };
    try {
      await pRetry(() => finish(batchId, r, result, owner, sent.link), {
        ...RECORD_RETRY,
        onFailedAttempt: ({ error }) => logger.warn({ batchId, row: r.row, err: error.message }, 'could not record a created link yet: trying again'),
      });
    } catch (error) {
      logger.error(
        { batchId, row: r.row, invoice: r.invoiceNumber, paymentId: sent.link.paymentId, paymentLink: sent.link.paymentLink, err: coerceError(error).message },
        'a link was created but could not be recorded: the row will run again and be flagged',
      );
      throw error;
    }
  }

  return async function processCreateLink(job: Job): Promise<CreateLinkResult> {
    const data = CreateLinkDataSchema.parse(job.data);
    const { batchId } = data;
    const owner = job.id ?? rowsJobId(batchId, data.from, data.to);
    const batch = await store.getForWork(batchId);
    if (!batch) {
      logger.warn({ batchId, from: data.from, to: data.to }, 'job of a batch that no longer exists: dropped');
      return { recorded: 0 };
    }
    // A stopped batch's rows are accounted for by its state: nothing to do, and nothing to touch but
    // settling it (this job's claims, left by a run that died, are no longer in flight).
    if (isStoppedState(batch.state)) {
      await store.settleStopped(batchId, owner);
      return { recorded: 0 };
    }
    const records = await store.readRows(batchId, data.from, data.to - data.from);
    const { rows, refused } = workRows(data.from, records, batch.layout);
    // Recorded before already, except for a stored row the checks refuse now: then it is recorded here, never skipped.
    if (refused.length > 0 && (await store.finishRows(batchId, refused)).some((now) => now)) {
      logger.warn({ batchId, rows: refused.map((r) => r.row) }, 'stored rows the checks refuse were recorded as invalid, not sent');
    }
    const runs = data.runs ?? 0;
    const priority = (started += 1);

    let next = 0;
    let halted = false;
    /** A row found the batch stopped (cancelled, or refused by Paywint). */
    let stopSeen = false;
    let recorded = 0;
    let left = 0;
    const errors: unknown[] = [];
    const lane = async () => {
      while (!halted && next < rows.length) {
        const release = await slots.acquire(priority);
        try {
          if (halted || next >= rows.length) return;
          if (deps.signal?.aborted) {
            left += rows.length - next;
            halted = true;
            return;
          }
          const r = rows[next++]!;
          try {
            const end = await processRow(batchId, r, owner, runs, release);
            if (end === 'recorded') recorded += 1;
            if (end === 'stopped') {
              halted = true;
              stopSeen = true;
            }
          } catch (error) {
            left += 1;
            if (!deps.signal?.aborted) {
              errors.push(error);
              halted = true;
            }
          }
        } finally {
          release();
        }
      }
    };
    // Twice as many lanes as row slots: a lane whose row is being recorded has given its slot to another.
    await Promise.all(Array.from({ length: Math.min(2 * slots.size, rows.length) }, lane));
    if (errors.length > 0) throw errors[0];
    // A stopped batch has finished once no row of it is in flight any more: the last chunk to let its rows go
    // sees that (its own rows are done with, whatever claims they left).
    const stopped = (stopSeen || left > 0 || rows.length > 0) && (await isStopped(batchId));
    if (stopped) await store.settleStopped(batchId, owner);
    if (left > 0 && !stopped) {
      // The worker is shutting down: the chunk goes back to the queue; its rows with a result are skipped next time.
      throw new PaylinksError('INTERRUPTED', `the worker stopped with ${left} row(s) of the chunk left: they run again`, { retryable: true });
    }
    return { recorded };
  };
}
