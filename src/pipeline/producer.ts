/**
 * The producer: turns an invoice file into a batch of `create-link` jobs.
 *
 * Two passes over the file, both streaming. The first checks it whole, so a
 * file error (an unterminated quote on the last line, say) stops everything
 * before anything is queued. The second stores every record for the output
 * (the collector never needs the file), records invalid and duplicate rows
 * at once, and adds one job per valid row, in chunks.
 */
import path from 'node:path';
import type { Queue } from 'bullmq';
import { BatchStore, FINISHED_STATES, rowJobId, type BatchLayout } from './batch-store.js';
import { InputFileError } from '../core/errors.js';
import { openInvoiceFile, type IntakeOptions, type IntakeRecord } from '../intake/invoice-file.js';
import type { RedisClient } from '../core/lua.js';
import type { Logger } from '../core/logger.js';
import type { RowResult } from './output.js';
import { JOB_OPTIONS } from './queue.js';
import { CREATE_LINK_JOB, type CreateLinkData } from '../../jobs/create-link.js';

/** Records per Redis round trip while submitting. */
const CHUNK_ROWS = 500;

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
}

export interface SubmitResult {
  batchId: string;
  /** True when an unfinished batch of the same file was picked up again. */
  resumed: boolean;
  rows: number;
  valid: number;
  invalid: number;
}

interface FileSummary {
  rows: number;
  valid: number;
  sha256: string;
  layout: BatchLayout;
}

async function checkFile(file: string, options: IntakeOptions): Promise<FileSummary> {
  const input = await openInvoiceFile(file, options);
  let rows = 0;
  let valid = 0;
  for await (const record of input.records) {
    rows += 1;
    if (record.status === 'valid') valid += 1;
  }
  if (rows === 0) throw new InputFileError('FILE_NO_ROWS', file, 'the file has a header but no data rows', 2);
  return { rows, valid, sha256: input.sha256(), layout: { ...input.layout } };
}

function resultOf(record: IntakeRecord): RowResult | undefined {
  if (record.status === 'valid') return undefined;
  return { status: record.status, errorCode: record.code, errorMessage: record.message, attempts: 0 };
}

export async function submitFile(file: string, options: SubmitOptions): Promise<SubmitResult> {
  const { redis, store, queue, logger } = options;
  const intake: IntakeOptions = { columns: options.columns, delimiter: options.delimiter };
  const summary = await checkFile(file, intake);
  await options.onChecked?.();

  if (options.resume) {
    const previous = await store.findBySha(options.account, summary.sha256);
    const batch = previous === undefined ? undefined : await store.get(previous);
    if (batch && !FINISHED_STATES.includes(batch.state) && batch.state !== 'submitting') {
      logger.info({ batchId: batch.id, done: batch.done, rows: batch.rows }, 'resuming the unfinished batch of this file');
      return { batchId: batch.id, resumed: true, rows: batch.rows, valid: batch.valid, invalid: batch.rows - batch.valid };
    }
  }

  const batchId = await store.create({
    file: path.basename(file),
    sha256: summary.sha256,
    account: options.account,
    layout: summary.layout,
    rows: summary.rows,
    valid: summary.valid,
    source: options.source,
    sourceRef: options.sourceRef,
  });
  logger.debug({ batchId, rows: summary.rows, valid: summary.valid }, 'batch created');

  try {
    const input = await openInvoiceFile(file, intake);
    let chunk: IntakeRecord[] = [];
    const flush = async () => {
      const pipeline = redis.pipeline();
      store.appendRows(pipeline, batchId, chunk.map((r) => [r.line, ...r.cells] as const));
      store.finishRowsInPipeline(
        pipeline,
        batchId,
        chunk.flatMap((r) => {
          const result = resultOf(r);
          return result ? [{ row: r.index, result }] : [];
        }),
      );
      const replies = await pipeline.exec();
      const failed = replies?.find(([err]) => err !== null);
      if (failed) throw failed[0];
      const jobs = chunk.flatMap((r) => {
        if (r.status !== 'valid') return [];
        const data: CreateLinkData = { batchId, row: r.index, line: r.line, invoiceNumber: r.invoiceNumber, amountCents: r.amountCents, description: r.description };
        return [{ name: CREATE_LINK_JOB, data, opts: { ...JOB_OPTIONS, jobId: rowJobId(batchId, r.index) } }];
      });
      if (jobs.length > 0) await queue.addBulk(jobs);
      chunk = [];
    };
    for await (const record of input.records) {
      chunk.push(record);
      if (chunk.length >= CHUNK_ROWS) await flush();
    }
    if (chunk.length > 0) await flush();
    if (input.sha256() !== summary.sha256) {
      throw new InputFileError('FILE_UNREADABLE', file, 'the file changed while it was being submitted; submit it again');
    }
  } catch (error) {
    await store
      .transition(batchId, ['submitting'], 'failed', { code: 'INTERNAL', message: `submission did not finish: ${(error as Error).message}` })
      .then((state) => (state === 'failed' ? store.recordFinish(batchId) : undefined))
      .catch(() => undefined);
    throw error;
  }
  await store.markSubmitted(batchId);
  return { batchId, resumed: false, rows: summary.rows, valid: summary.valid, invalid: summary.rows - summary.valid };
}
