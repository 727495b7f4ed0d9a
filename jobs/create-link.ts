/**
 * The `create-link` job: a chunk of a batch's rows (`[from, to)`), one
 * payment link per valid invoice among them.
 *
 * Its processor; its name and data are the queue's contract
 * (src/pipeline/create-link-job.ts). Its parts: what a row does next
 * (create-link/row-actions.ts, pure), sending a row's request
 * (create-link/send.ts) and the lanes a chunk's rows run in
 * (create-link/lanes.ts). The rows of a chunk run concurrently,
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
import pRetry from 'p-retry';
import { coerceError, PaylinksError, POSSIBLE_DUPLICATE_CODE } from '../src/core/errors.js';
import { GroupCall } from '../src/core/group-call.js';
import { checkRecord } from '../src/intake/row-checks.js';
import type { CreatedLink } from '../src/paywint/client.js';
import { isStoppedState, LIVE_STATES } from '../src/pipeline/batch-states.js';
import type { BatchLayout, FinishedRow } from '../src/pipeline/batch-store.js';
import { CREATE_LINK_JOB, CreateLinkDataSchema, type CreateLinkData, type CreateLinkDeps, type CreateLinkResult } from '../src/pipeline/create-link-job.js';
import { rowsJobId, rowsOfJobId } from '../src/pipeline/job-ids.js';
import type { Claim, ClaimOutcome, ClaimRequest } from '../src/pipeline/ledger.js';
import type { RowResult } from '../src/pipeline/output.js';
import { JOB_OPTIONS } from '../src/pipeline/queue.js';
import { runLanes } from './create-link/lanes.js';
import { claimAction, failureAction, unknownOutcomeNote, type RowContext, type WorkRow } from './create-link/row-actions.js';
import { sendRow } from './create-link/send.js';

/** States of a BullMQ job that still intends to finish its rows. */
const LIVE_JOB_STATES = new Set(['active', 'waiting', 'wait', 'delayed', 'prioritized', 'waiting-children']);

/** Writing a created link's result: about 12 s of tries before the job is left to run again. */
const RECORD_RETRY = { retries: 6, minTimeout: 200, factor: 2, maxTimeout: 4_000 };

/** How long a row waits for another job that holds its invoice. */
const BUSY_RECHECK_MS = 1_000;

/** The time now as an ISO string, made once per millisecond (rows answered together share it). */
let isoNow = { ms: -1, iso: '' };
function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoNow.ms) isoNow = { ms, iso: new Date(ms).toISOString() };
  return isoNow.iso;
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
  const { store, ledger, limiter, queue, logger, slots } = deps;
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
        // The number as the file wrote it: the ledger keeps it beside its key.
        invoiceNumber: r.invoiceNumber,
      },
    });
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

  /** A claim held by another job: wait for it when it is alive, else take it over. Undefined: the row was left to a later job. */
  async function resolveBusy(batchId: string, r: WorkRow, owner: string, runs: number, holder: string): Promise<ClaimOutcome | undefined> {
    if (await isLive(holder)) {
      // A job of this very row (its own retry) has it in hand.
      const range = rowsOfJobId(batchId, holder);
      if (range && range.from <= r.row && r.row < range.to) return undefined;
      // Another job is working on this invoice: come back when it is done, without spending an attempt.
      await retryLater(batchId, r, runs, BUSY_RECHECK_MS);
      return undefined;
    }
    const taken = await ledger.takeOver(r.invoiceNumber, holder, owner);
    if (!taken) {
      await retryLater(batchId, r, runs, BUSY_RECHECK_MS);
      return undefined;
    }
    logger.warn({ invoice: r.invoiceNumber, previous: holder, job: owner }, 'took over the claim of a job that is gone');
    return { kind: 'claimed', claim: taken };
  }

  async function processRow(batchId: string, r: WorkRow, owner: string, runs: number, requestDone: () => void): Promise<RowEnd> {
    const ctx: RowContext = { batchId, apiKey: ledger.apiKey, maxAttempts: deps.maxAttempts, retryWindowMs: deps.retryWindowMs, unknownOutcomeRetries: ledger.unknownOutcomeRetries };
    let action = claimAction(await claims.call(batchId, { invoiceNumber: r.invoiceNumber, owner, amountCents: r.amountCents, description: r.description, row: r.row, begin: true }), r, ctx);
    if (action.kind === 'busy') {
      const outcome = await resolveBusy(batchId, r, owner, runs, action.holder);
      if (!outcome) return 'later';
      action = claimAction(outcome, r, ctx);
    }
    switch (action.kind) {
      case 'skip':
        return 'skipped';
      case 'stop':
        return 'stopped';
      case 'busy':
        throw new PaylinksError('INTERNAL', `invoice ${r.invoiceNumber}: a claim taken over is still held by another job`);
      case 'record':
        if (action.accountMismatch !== undefined && !warnedAccount.has(batchId)) logger.error({ batchId }, action.accountMismatch);
        if (action.accountMismatch !== undefined) warnedAccount.add(batchId);
        await finish(batchId, r, action.result, action.withClaim ? owner : undefined);
        return 'recorded';
      case 'send':
        break;
    }

    let begun = action.attempt;
    let current = action.claim;
    for (;;) {
      const sent = await sendRow(deps, batchId, r, owner, current, begun);
      begun = undefined;
      current = sent.claim;
      if (sent.ok) {
        // The request is over: its row slot goes to the next row while this one is recorded.
        requestDone();
        await recordCreated(batchId, r, owner, sent);
        return 'recorded';
      }
      const err = sent.error;
      const next = failureAction(err, current, { ...ctx, runs, maxRuns: JOB_OPTIONS.attempts ?? 1, aborted: deps.signal?.aborted ?? false });
      switch (next.kind) {
        case 'pause':
          // Every worker waits: the shared schedule moves past the pause, and no new chunk starts meanwhile.
          await limiter.pause(next.pauseMs);
          await queue.rateLimit(next.pauseMs);
          deps.events?.onRateLimitWait?.(next.pauseMs);
          continue;
        case 'stop-batch': {
          const auth = err.code === 'PAYWINT_AUTH';
          const state = await store.transition(batchId, LIVE_STATES, 'failed', {
            code: auth ? 'BATCH_STOPPED_AUTH' : 'BATCH_STOPPED_BASE_URL',
            message: auth ? `Paywint refused the credentials (${err.message})` : err.message,
          });
          if (state === 'failed' && !refused.has(batchId)) {
            refused.add(batchId);
            logger.error({ batchId, code: err.code, err: err.message }, auth ? 'Paywint refused the credentials: batch stopped' : "PAYWINT_BASE_URL is not Paywint's API: batch stopped");
            deps.onBatchStopped?.(batchId);
          }
          await finish(batchId, r, next.result, owner);
          return 'stopped';
        }
        case 'interrupted':
          throw err; // shutting down: the row runs again with its chunk
        case 'retry-later':
          logger.debug({ batchId, row: r.row, code: err.code }, 'row will be retried');
          await retryLater(batchId, r, next.runs, next.delayMs, owner);
          return 'later';
        case 'record':
          await finish(batchId, r, next.result, owner);
          return 'recorded';
      }
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
    // This request was answered with the link: only the earlier ones' outcomes are unknown.
    const note = sent.claim.unknown > 0 ? { errorCode: POSSIBLE_DUPLICATE_CODE, errorMessage: unknownOutcomeNote(sent.claim.unknown, true) } : {};
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
    const { ends, left, errors } = await runLanes({
      items: rows,
      slots,
      priority: (started += 1),
      signal: deps.signal,
      run: (r, release) => processRow(batchId, r, owner, runs, release),
      // A row found the batch stopped (cancelled, or refused by Paywint): the others do not start.
      halts: (end) => end === 'stopped',
    });
    if (errors.length > 0) throw errors[0];
    // A stopped batch has finished once no row of it is in flight any more: the last chunk to let its rows go
    // sees that (its own rows are done with, whatever claims they left).
    const stopped = (ends.includes('stopped') || left > 0 || rows.length > 0) && (await isStopped(batchId));
    if (stopped) await store.settleStopped(batchId, owner);
    if (left > 0 && !stopped) {
      // The worker is shutting down: the chunk goes back to the queue; its rows with a result are skipped next time.
      throw new PaylinksError('INTERRUPTED', `the worker stopped with ${left} row(s) of the chunk left: they run again`, { retryable: true });
    }
    return { recorded: ends.filter((end) => end === 'recorded').length };
  };
}
