/**
 * `paylinks status`: where a batch stands (counts by status, rate, ETA), or
 * the recent batches. Reads Redis only, from any machine.
 */
import { z } from 'zod';
import { BATCH_STATES, type Batch, type BatchStore } from './batch-store.js';
import { PaylinksError } from '../core/errors.js';
import { formatCents } from '../core/money.js';
import { ROW_STATUSES } from './output.js';

export interface BatchStatus {
  batch: Batch;
  /** Rows finished per second by workers since the batch started (null before). */
  ratePerSecond: number | null;
  /** Seconds left at that rate (null when unknown, 0 when finished). */
  etaSeconds: number | null;
}

/** Rows finished by workers (invalid and duplicate rows are recorded at submission). */
function workedRows(batch: Batch): number {
  return batch.counts.created + batch.counts.exists + batch.counts.conflict + batch.counts.failed;
}

export function describeProgress(batch: Batch, now = Date.now()): BatchStatus {
  const remaining = batch.rows - batch.done;
  if (remaining <= 0) return { batch, ratePerSecond: null, etaSeconds: 0 };
  if (!batch.startedAt) return { batch, ratePerSecond: null, etaSeconds: null };
  const end = batch.finishedAt ? Date.parse(batch.finishedAt) : now;
  const seconds = (end - Date.parse(batch.startedAt)) / 1000;
  const rate = seconds > 0 ? workedRows(batch) / seconds : null;
  return { batch, ratePerSecond: rate, etaSeconds: rate ? Math.round(remaining / rate) : null };
}

export async function getBatchStatus(store: BatchStore, batchId: string): Promise<BatchStatus> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId} (see \`paylinks status\` for the recent ones)`);
  return describeProgress(batch);
}

export async function listRecentBatches(store: BatchStore, limit = 20): Promise<Batch[]> {
  const ids = await store.recent(limit);
  const batches = await Promise.all(ids.map((id) => store.get(id)));
  return batches.filter((b): b is Batch => b !== undefined);
}

/** The `status --json` object of one batch (and the API's). */
export const BatchStatusJsonSchema = z.object({
  id: z.string(),
  file: z.string(),
  source: z.string().nullable().describe('where the file came from: `inbox` (the drop folder), `api` (an upload); null for the command line'),
  sha256: z.string(),
  state: z.enum(BATCH_STATES),
  rows: z.number().int(),
  valid: z.number().int(),
  done: z.number().int(),
  total_amount: z.string().nullable().describe('sum of the valid rows, a decimal string'),
  counts: z.object(Object.fromEntries(ROW_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof ROW_STATUSES)[number], z.ZodNumber>),
  may_have_link: z
    .number()
    .int()
    .describe('failed rows whose requests got no clear answer (no answer, or one without a usable link): Paywint may hold a link for them; look before mailing or sending again'),
  amount_created: z.string().describe('decimal string'),
  amount_exists: z.string().describe('decimal string'),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  hold_expires_at: z.string().nullable().describe('a held batch is dropped at this time unless released'),
  stop_code: z.string().nullable(),
  stop_message: z.string().nullable(),
  expires_at: z.string().nullable().describe("when a finished batch's rows and results are removed (PAYLINKS_RETENTION_DAYS)"),
  rate_per_second: z.number().nullable(),
  eta_seconds: z.number().nullable(),
});
export type BatchStatusJson = z.infer<typeof BatchStatusJsonSchema>;

export function statusToJson(status: BatchStatus): BatchStatusJson {
  const { batch } = status;
  return {
    id: batch.id,
    file: batch.file,
    source: batch.source,
    sha256: batch.sha256,
    state: batch.state,
    rows: batch.rows,
    valid: batch.valid,
    done: batch.done,
    total_amount: batch.validCents === null || batch.validCents === undefined ? null : formatCents(batch.validCents),
    counts: batch.counts,
    may_have_link: batch.maybeLinked,
    amount_created: formatCents(batch.createdCents),
    amount_exists: formatCents(batch.existsCents),
    created_at: batch.createdAt,
    started_at: batch.startedAt,
    finished_at: batch.finishedAt,
    hold_expires_at: batch.holdExpiresAt,
    stop_code: batch.stopCode,
    stop_message: batch.stopMessage,
    expires_at: batch.expiresAt ?? null,
    rate_per_second: status.ratePerSecond === null ? null : Math.round(status.ratePerSecond * 10) / 10,
    eta_seconds: status.etaSeconds,
  };
}

/** What the count of failed rows that may have a link at Paywint means, in one line. */
export function maybeLinkedLine(rows: number): string {
  return `${rows} failed ${rows === 1 ? 'row may' : 'rows may'} have a link at Paywint (their requests got no clear answer): look for ${rows === 1 ? 'it' : 'them'} before mailing or sending again`;
}

function duration(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function formatStatus(status: BatchStatus, now = Date.now()): string {
  const { batch } = status;
  const counts = ROW_STATUSES.map((s) => `${s} ${batch.counts[s]}`).join(', ');
  const lines = [
    `Batch ${batch.id}  ${batch.state}  (${batch.file}${batch.source ? `, from the ${batch.source}` : ''})`,
    `  rows ${batch.done}/${batch.rows} done: ${counts}`,
    `  amount linked: ${formatCents(batch.createdCents + batch.existsCents)}`,
  ];
  if (batch.maybeLinked > 0) lines.push(`  ${maybeLinkedLine(batch.maybeLinked)}`);
  if (status.ratePerSecond !== null) lines.push(`  rate ${status.ratePerSecond.toFixed(1)} rows/s`);
  if (status.etaSeconds !== null && status.etaSeconds > 0) lines.push(`  ETA ${duration(status.etaSeconds)}`);
  if (batch.stopMessage) lines.push(`  stopped: ${batch.stopMessage} [${batch.stopCode ?? ''}]`);
  if (batch.expiresAt) {
    const when = `${batch.expiresAt.slice(0, 19).replace('T', ' ')} UTC`;
    lines.push(Date.parse(batch.expiresAt) <= now ? `  rows and results removed on ${when} (PAYLINKS_RETENTION_DAYS); its links stay in the ledger` : `  rows and results kept until ${when} (PAYLINKS_RETENTION_DAYS)`);
  }
  return lines.join('\n');
}

export function formatBatchList(batches: readonly Batch[]): string {
  if (batches.length === 0) return 'No batches yet. Submit one with `paylinks submit FILE`.';
  const rows = batches.map((b) => [b.id, b.state, `${b.done}/${b.rows}`, String(b.counts.failed + b.counts.conflict), b.createdAt.slice(0, 19).replace('T', ' '), b.source ?? 'cli', b.file]);
  const header = ['BATCH', 'STATE', 'DONE', 'PROBLEMS', 'CREATED (UTC)', 'SOURCE', 'FILE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
