/**
 * The producer: turns an invoice file into a batch of `create-link` jobs.
 *
 * Two passes over the file, both streaming. The first checks it whole, so a
 * file error (an unterminated quote on the last line, say) stops everything
 * before anything is queued. The second stores every record for the output
 * (the collector never needs the file), records invalid and duplicate rows
 * at once, and adds one job per chunk of rows (the worker reads the rows
 * from the batch). Memory holds one flush of records, whatever the file's
 * size, beyond the set of invoice numbers the first pass collects for
 * duplicates, which the second reads rather than building its own.
 */
import path from 'node:path';
import type { Queue } from 'bullmq';
import { BatchStore, FINISHED_STATES, type BatchState } from './batch-store.js';
import { rowsJobId } from './job-ids.js';
import { InputFileError, PaylinksError } from '../core/errors.js';
import { hasEmailColumn } from '../intake/contact.js';
import { COLUMN_ALIASES } from '../intake/columns.js';
import { openInvoiceFile, type IntakeOptions, type IntakeRecord } from '../intake/invoice-file.js';
import type { FirstLines } from '../intake/duplicate-invoices.js';
import { formatCents } from '../core/money.js';
import { checkInvoiceFile, rowProblemToJson, type RowProblem } from '../intake/validate.js';
import type { RedisClient } from '../core/lua.js';
import type { Logger } from '../core/logger.js';
import type { RowResult } from './output.js';
import { JOB_OPTIONS } from './queue.js';
import { CREATE_LINK_JOB, type CreateLinkData } from './create-link-job.js';

/** Records per Redis round trip while submitting (rounded up to whole chunks). */
const FLUSH_ROWS = 500;

/** The most rows one job carries (see README, "How it works", for the measurements behind it). */
export const MAX_CHUNK_ROWS = 500;

/**
 * Rows per job for a batch of `rows` records: at most {@link MAX_CHUNK_ROWS},
 * and a small batch is cut in at least 16 jobs, so that several workers (and
 * every row slot of one) share it.
 */
export function chunkRowsFor(rows: number): number {
  return Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.ceil(rows / 16)));
}

export interface SubmitOptions extends IntakeOptions {
  redis: RedisClient;
  store: BatchStore;
  queue: Queue;
  /** The Paywint API key the batch runs under. */
  account: string;
  logger: Logger;
  /**
   * Continue an unfinished batch made from the same file (same SHA-256,
   * same account) instead of making a new one. Default false.
   */
  resume?: boolean;
  /** Called once the whole file has been checked, before anything is queued. */
  onChecked?: () => Promise<void>;
  /** Where the file came from (`inbox`), kept with the batch; default none (the command line). */
  source?: string;
  /** The source's own reference for this file, kept with the batch. */
  sourceRef?: string;
  /**
   * Store the batch and record its invalid rows, but queue nothing: the batch
   * is `held` until {@link releaseBatch} queues it or {@link discardBatch}
   * drops it; unreleased, it expires after `holdTtlSeconds`. Default false.
   */
  hold?: boolean;
  /** How long a held batch waits for its release, in seconds. Default 86400 (24 hours). */
  holdTtlSeconds?: number;
  /** The file's name as the batch shows it. Default: the file's base name. */
  fileName?: string;
  /** Row errors kept in {@link SubmitResult.errors}. Default 100. */
  maxErrors?: number;
  /**
   * Send each customer their link once the batch finishes (issue 19): a file
   * without an e-mail address column is refused before anything is stored.
   * Default false.
   */
  send?: boolean;
}

export interface SubmitResult {
  batchId: string;
  /** True when an unfinished batch of the same file was picked up again. */
  resumed: boolean;
  /** The batch's state once submitted: `queued` (or further), or `held`. */
  state: BatchState;
  rows: number;
  valid: number;
  invalid: number;
  /** Sum of the valid rows' amounts, in cents. */
  totalCents: number;
  /** The first row errors of the file (see {@link SubmitOptions.maxErrors}), in file order. */
  errors: RowProblem[];
}

/** Default of {@link SubmitOptions.holdTtlSeconds}: 24 hours. */
export const HOLD_TTL_SECONDS = 24 * 3600;

/** The `submit --json` object (and the API's answer to an upload). */
export function submitResultToJson(result: SubmitResult) {
  return {
    batch_id: result.batchId,
    state: result.state,
    rows: result.rows,
    valid: result.valid,
    invalid: result.invalid,
    total_amount: formatCents(result.totalCents),
    errors: result.errors.map(rowProblemToJson),
  };
}

function resultOf(record: IntakeRecord): RowResult | undefined {
  if (record.status === 'valid') return undefined;
  return { status: record.status, errorCode: record.code, errorMessage: record.message, attempts: 0 };
}

export async function submitFile(file: string, options: SubmitOptions): Promise<SubmitResult> {
  const { redis, store, queue, logger } = options;
  const intake: IntakeOptions = { columns: options.columns, delimiter: options.delimiter, sheet: options.sheet, decimal: options.decimal, signal: options.signal };
  // The check's invoice numbers serve the second read too: one set of them in memory, not two.
  const firstLines: FirstLines = new Map();
  const summary = await checkInvoiceFile(file, { ...intake, maxErrors: options.maxErrors ?? 100, firstLines });
  const checked = { totalCents: summary.totalCents, errors: summary.errors };
  if (options.send && !hasEmailColumn(summary.layout)) {
    throw new PaylinksError(
      'MAIL_NO_ADDRESS_COLUMN',
      `--send: ${path.basename(file)} has no e-mail address column, so there is no one to send the links to (looked for ${COLUMN_ALIASES.email.map((a) => JSON.stringify(a)).join(', ')}; name one with --columns email=<header>). Nothing was submitted`,
    );
  }
  await options.onChecked?.();

  if (options.resume) {
    const previous = await store.findBySha(options.account, summary.sha256);
    const batch = previous === undefined ? undefined : await store.get(previous);
    if (batch && !FINISHED_STATES.includes(batch.state) && batch.state !== 'submitting') {
      logger.info({ batchId: batch.id, done: batch.done, rows: batch.rows }, 'resuming the unfinished batch of this file');
      return { batchId: batch.id, resumed: true, state: batch.state, rows: batch.rows, valid: batch.valid, invalid: batch.rows - batch.valid, ...checked };
    }
  }

  const chunkRows = chunkRowsFor(summary.rows);
  const batchId = await store.create({
    file: options.fileName ?? path.basename(file),
    sha256: summary.sha256,
    account: options.account,
    layout: summary.layout,
    rows: summary.rows,
    valid: summary.valid,
    source: options.source,
    sourceRef: options.sourceRef,
    validCents: summary.totalCents,
    chunkRows,
  });
  logger.debug({ batchId, rows: summary.rows, valid: summary.valid, chunkRows }, 'batch created');

  try {
    const input = await openInvoiceFile(file, { ...intake, firstLines });
    const flushRows = chunkRows * Math.ceil(FLUSH_ROWS / chunkRows);
    let buffer: IntakeRecord[] = [];
    const flush = async () => {
      const first = buffer[0]!.index;
      const pipeline = redis.pipeline();
      store.appendRows(pipeline, batchId, first, buffer);
      store.finishRowsInPipeline(
        pipeline,
        batchId,
        buffer.flatMap((r) => {
          const result = resultOf(r);
          return result ? [{ row: r.index, result }] : [];
        }),
      );
      const replies = await pipeline.exec();
      const failed = replies?.find(([err]) => err !== null);
      if (failed) throw failed[0];
      const jobs = [];
      // A held batch queues nothing: its rows are queued when it is released (hold.ts).
      for (let from = first; !options.hold && from < first + buffer.length; from += chunkRows) {
        const to = Math.min(from + chunkRows, first + buffer.length);
        if (!buffer.slice(from - first, to - first).some((r) => r.status === 'valid')) continue;
        const data: CreateLinkData = { batchId, from, to };
        jobs.push({ name: CREATE_LINK_JOB, data, opts: { ...JOB_OPTIONS, jobId: rowsJobId(batchId, from, to) } });
      }
      if (jobs.length > 0) await queue.addBulk(jobs);
      buffer = [];
    };
    for await (const record of input.records) {
      buffer.push(record);
      if (buffer.length >= flushRows) await flush();
    }
    if (buffer.length > 0) await flush();
    if (input.sha256() !== summary.sha256) {
      throw new InputFileError('FILE_UNREADABLE', file, 'the file changed while it was being submitted; submit it again');
    }
  } catch (error) {
    await store
      .transition(batchId, ['submitting'], 'failed', { code: 'INTERNAL', message: `submission did not finish: ${options.signal?.aborted ? 'the process was stopping' : (error as Error).message}` })
      .then((state) => (state === 'failed' ? store.settleStopped(batchId) : undefined))
      .catch(() => undefined);
    throw error;
  }
  // A worker queues its messages once it finished (whether it has by now or not).
  if (options.send) await redis.zadd(store.keys.mailOnFinish(), Date.now(), batchId);
  if (options.hold) await store.hold(batchId, options.holdTtlSeconds ?? HOLD_TTL_SECONDS);
  else await store.markSubmitted(batchId);
  const state = (await store.getState(batchId)) ?? 'queued';
  return { batchId, resumed: false, state, rows: summary.rows, valid: summary.valid, invalid: summary.rows - summary.valid, ...checked };
}
