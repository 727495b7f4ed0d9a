/**
 * The e-mail summary of a finished batch, for the person who reads it:
 * counts by status, the amount linked, how long it took, and the rows that
 * need someone (by line, invoice and reason).
 */
import type { Batch, BatchStore } from '../pipeline/batch-store.js';
import { formatCents } from '../core/money.js';
import { POSSIBLE_DUPLICATE_CODE } from '../core/errors.js';
import { ROW_STATUSES, type RowStatus } from '../pipeline/output.js';
import { firstMessageCounts } from '../pipeline/mail-plan.js';
import { maybeLinkedLine } from '../pipeline/status.js';

/** Rows listed by name in the e-mail; the output CSV has them all. */
const PROBLEMS_LISTED = 50;
const CHUNK_ROWS = 1_000;
const PROBLEM_STATUSES: ReadonlySet<RowStatus> = new Set(['invalid', 'duplicate', 'conflict', 'failed']);

export interface BatchSummary {
  subject: string;
  text: string;
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The lines of the rows that need someone: not linked, or linked with a warning. */
async function problemLines(store: BatchStore, batch: Batch): Promise<{ lines: string[]; total: number }> {
  const lines: string[] = [];
  let total = 0;
  for (let start = 0; start < batch.rows; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, batch.rows - start);
    const [rows, results] = await Promise.all([store.readRows(batch.id, start, count), store.readResults(batch.id, start, count)]);
    results.forEach((result, i) => {
      const flagged = result?.errorCode === POSSIBLE_DUPLICATE_CODE;
      if (result !== undefined && !PROBLEM_STATUSES.has(result.status) && !flagged) return;
      total += 1;
      if (lines.length >= PROBLEMS_LISTED) return;
      const row = rows[i];
      const invoice = row?.cells[batch.layout.invoice] ?? '';
      const reason = result ? `${result.status}: ${result.errorMessage ?? ''} [${result.errorCode ?? ''}]` : 'no result (the batch stopped before this row)';
      lines.push(`  line ${row?.line ?? '?'}${invoice ? `, invoice ${invoice}` : ''}: ${reason}`);
    });
  }
  return { lines, total };
}

export async function summarizeBatch(store: BatchStore, batch: Batch, extra: { outputName: string; outputUrl?: string; attached: boolean }): Promise<BatchSummary> {
  const counts = ROW_STATUSES.map((s) => `${s} ${batch.counts[s]}`).join(', ');
  const took = batch.finishedAt ? Date.parse(batch.finishedAt) - Date.parse(batch.createdAt) : 0;
  const problems = await problemLines(store, batch);
  const lines = [
    `The batch of ${batch.file}${batch.source ? ` (from the ${batch.source})` : ''} finished: ${batch.state}.`,
    '',
    `Batch:          ${batch.id}`,
    `Rows:           ${batch.rows} (${counts})`,
    `Amount linked:  ${formatCents(batch.createdCents + batch.existsCents)} (new links ${formatCents(batch.createdCents)}, links that already existed ${formatCents(batch.existsCents)})`,
    `Duration:       ${duration(took)} (submitted ${batch.createdAt}, finished ${batch.finishedAt ?? '-'})`,
  ];
  if (batch.maybeLinked > 0) lines.push(`May have links: ${maybeLinkedLine(batch.maybeLinked)}`);
  if (batch.stopMessage) lines.push(`Stopped:        ${batch.stopMessage} [${batch.stopCode ?? ''}]`);
  const mail = await firstMessageCounts(store.redis, store.keys, batch.id);
  if (mail.planned > 0) {
    const waiting = Math.max(0, mail.planned - mail.sent - mail.bounced - mail.failed - mail.unknown);
    lines.push(`E-mails:        ${mail.sent} sent, ${mail.bounced} bounced, ${mail.failed} failed, ${mail.unknown} unknown, ${waiting} waiting (of ${mail.planned} to customers)`);
  }
  lines.push('');
  if (problems.total === 0) lines.push('Problems: none. Every invoice has its payment link.');
  else {
    lines.push(`Problems: ${problems.total} row(s) need attention${problems.total > problems.lines.length ? ` (the first ${problems.lines.length} below; the output has them all)` : ''}:`);
    lines.push(...problems.lines);
  }
  lines.push('');
  if (extra.attached) lines.push(`The output (${extra.outputName}) is attached.`);
  if (extra.outputUrl) lines.push(`Download the output: ${extra.outputUrl}`);
  if (!extra.attached && !extra.outputUrl) lines.push(`The output is too large to attach: collect it with \`paylinks collect ${batch.id}\`.`);
  const subject = `paylinks: ${batch.file} ${batch.state.replace(/_/g, ' ')} (${batch.counts.created + batch.counts.exists} of ${batch.rows} linked${problems.total > 0 ? `, ${problems.total} problem(s)` : ''})`;
  return { subject, text: `${lines.join('\n')}\n` };
}
