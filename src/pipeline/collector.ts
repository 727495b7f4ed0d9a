/**
 * The collector: waits for a batch to finish, then writes its output CSV,
 * one row per input record, in input order, from Redis alone.
 *
 * It polls the batch's counters, which every row's completion updates
 * atomically, rather than BullMQ's event stream (which is trimmed, and would
 * miss rows recorded by the producer or by another machine).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Batch, BatchStore } from './batch-store.js';
import { hasMailColumns, MAIL_COLUMNS, mailCellsOf } from './mail-output.js';
import { PaylinksError } from '../core/errors.js';
import { OutputWriter, type RowResult, type RowWriter } from './output.js';
import { WorkbookOutputWriter } from './workbook-output.js';

/** Rows read from Redis per round trip while writing. */
const CHUNK_ROWS = 1_000;

export interface WaitOptions {
  /** How often to read the counters, ms. Default 200. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called with the first reading, the last, and one at least `progressEveryMs` after the one before. */
  onProgress?: (batch: Batch) => void;
  /** Default: every reading. */
  progressEveryMs?: number;
}

/** Whether every row of the batch has its final result. */
export function isFinished(batch: Batch): boolean {
  return batch.done >= batch.rows && batch.state !== 'submitting';
}

/** The batch, finished; else a `BATCH_NOT_FINISHED` error saying where it stands. */
export function requireFinished(batch: Batch): Batch {
  if (isFinished(batch)) return batch;
  throw new PaylinksError('BATCH_NOT_FINISHED', `batch ${batch.id} is ${batch.state} (${batch.done}/${batch.rows} rows done): its output is ready once every row has finished`);
}

export async function waitForBatch(store: BatchStore, batchId: string, options: WaitOptions = {}): Promise<Batch> {
  let reported = -Infinity;
  for (;;) {
    const batch = await store.get(batchId);
    if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
    const finished = isFinished(batch);
    if (finished || performance.now() - reported >= (options.progressEveryMs ?? 0)) {
      reported = performance.now();
      options.onProgress?.(batch);
    }
    if (finished) return batch;
    await sleep(options.pollMs ?? 200, undefined, { signal: options.signal });
  }
}

export interface CollectSummary {
  file: string;
  rows: number;
}

/**
 * Writes the batch's output to `file`: a CSV, or an Excel workbook when
 * `file` ends in `.xlsx` (workbook-output.ts). A row without a result yet (a
 * batch collected before it finished) comes out as `failed` with code
 * `NOT_FINISHED` (or `BATCH_CANCELLED`): never silently missing.
 */
export async function writeBatchOutput(store: BatchStore, batchId: string, file: string): Promise<CollectSummary> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.rows > 0 && !(await store.hasRecords(batchId))) throw expiredError(batchId, batch.expiresAt ?? null);
  const mail = hasMailColumns(batch);
  const extraHeaders = mail ? MAIL_COLUMNS : [];
  const writer: RowWriter = /\.xlsx$/i.test(file)
    ? new WorkbookOutputWriter(file, { headers: batch.layout.headers, amountColumn: batch.layout.amount, decimal: batch.layout.decimal, extraHeaders })
    : new OutputWriter(file, { headers: batch.layout.headers, extraHeaders });
  try {
    const read = (start: number) => {
      const count = Math.min(CHUNK_ROWS, batch.rows - start);
      const both = Promise.all([store.readRows(batchId, start, count), store.readResults(batchId, start, count)]).then(async ([rows, results]) => {
        const mailCells = mail ? await mailCellsOf(store, batch, rows, results) : undefined;
        return [rows, results, mailCells] as const;
      });
      both.catch(() => {}); // awaited below; a write failing first must not leave it unhandled
      return both;
    };
    // The next rows are read while these are written.
    let next = batch.rows > 0 ? read(0) : undefined;
    for (let start = 0; next; start += CHUNK_ROWS) {
      const [rows, results, mailCells] = await next;
      next = start + CHUNK_ROWS < batch.rows ? read(start + CHUNK_ROWS) : undefined;
      for (let i = 0; i < rows.length; i += 1) {
        const m = mailCells?.[i];
        await writer.write(rows[i]!.cells, results[i] ?? pendingResult(batch), m ? MAIL_COLUMNS.map((c) => m[c]) : undefined);
      }
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return { file, rows: writer.rowCount };
}

/** The result of a stopped batch's row without one: its state accounts for it (undefined while the batch is not stopped). */
export function unsentResult(batch: Batch): RowResult | undefined {
  if (batch.state === 'cancelled') return { status: 'failed', errorCode: 'BATCH_CANCELLED', errorMessage: 'not sent: the batch was cancelled', attempts: 0 };
  if (batch.state === 'failed') {
    return { status: 'failed', errorCode: batch.stopCode ?? 'BATCH_CANCELLED', errorMessage: `not sent: the batch stopped (${batch.stopMessage ?? 'failed'})`, attempts: 0 };
  }
  return undefined;
}

/** The result of a row without one, as the output shows it. */
function pendingResult(batch: Batch): RowResult {
  return unsentResult(batch) ?? { status: 'failed', errorCode: 'NOT_FINISHED', errorMessage: `no result yet: the batch is ${batch.state}`, attempts: 0 };
}

/** The batch's records and results were removed after its retention. */
export function expiredError(batchId: string, expiresAt: string | null): PaylinksError {
  const when = expiresAt ? ` on ${expiresAt.slice(0, 19).replace('T', ' ')} UTC` : '';
  return new PaylinksError(
    'BATCH_EXPIRED',
    `batch ${batchId} has expired: its rows and results were removed${when}, PAYLINKS_RETENTION_DAYS after it finished; ` +
      'its links are still in the ledger: run the same file again to get them, as `exists`',
  );
}

export interface CollectOptions {
  /** Where to write; default `<input name>.out.csv` in the working directory. */
  output?: string;
  /** Wait for an unfinished batch instead of refusing it. */
  wait?: boolean;
  signal?: AbortSignal;
}

/**
 * `paylinks collect`: writes a finished batch's output CSV (waiting for it
 * with `wait`); an unfinished batch without `wait` is a `BATCH_NOT_FINISHED` error.
 */
export async function collectBatch(store: BatchStore, batchId: string, options: CollectOptions = {}): Promise<{ batch: Batch; outputFile: string }> {
  let batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (!isFinished(batch)) {
    if (!options.wait) requireFinished(batch);
    batch = await waitForBatch(store, batchId, { signal: options.signal, pollMs: 500 });
  }
  const outputFile = options.output ?? `${path.parse(batch.file).name}.out.csv`;
  await writeBatchOutput(store, batchId, outputFile);
  return { batch, outputFile };
}
