/**
 * `paylinks retry`: queues a batch's failed rows again. Only `failed` rows
 * (and, in a batch that was stopped, the rows it never sent):
 * invalid, duplicate and conflicting rows need a corrected file, not a retry.
 * The ledger still guards every invoice, so a row whose link was made after
 * all (an unknown outcome) is never sent twice by paylinks.
 *
 * Rows that failed `UNKNOWN_OUTCOME` (their requests went unanswered too
 * often: Paywint may hold a link for each) are left alone, and counted,
 * unless the person says so (`includeUnknown`, after looking at Paywint):
 * then their invoices may be sent once more (see Ledger.acceptUnknownOutcomes).
 */
import type { Queue } from 'bullmq';
import type { BatchStore } from './batch-store.js';
import { PaylinksError, UNKNOWN_OUTCOME_CODE } from '../core/errors.js';
import { queueStoredRows } from './queue-rows.js';
import { expiredError } from './collector.js';
import { Ledger } from './ledger.js';

export interface RetryOptions {
  /** Also rows that failed `UNKNOWN_OUTCOME`: a person looked at Paywint and says send them once more. Default false. */
  includeUnknown?: boolean;
}

export interface RetryResult {
  batchId: string;
  requeued: number;
  /** Failed rows left unsent because Paywint may hold a link for them (`UNKNOWN_OUTCOME`); 0 with `includeUnknown`. */
  unknownLeft: number;
}

export async function retryFailedRows(store: BatchStore, queue: Queue, batchId: string, options: RetryOptions = {}): Promise<RetryResult> {
  const batch = await store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (batch.state === 'cancelled') throw new PaylinksError('BATCH_CANCELLED', `batch ${batchId} was cancelled: submit the file again instead`);
  if (batch.state === 'held') throw new PaylinksError('BATCH_NOT_FINISHED', `batch ${batchId} is held: release it first`);
  if (batch.rows > 0 && !(await store.hasRecords(batchId))) throw expiredError(batch.id, batch.expiresAt ?? null);
  const ledger = new Ledger(store.redis, store.keys, batch.account);

  // A stopped batch runs again first, so that its rows without a result are sent by the jobs below.
  const stopped = batch.state === 'failed' && batch.submittedAt !== null;
  if (stopped) await store.reopenRows(batchId, [], true);
  let unknownLeft = 0;
  const requeued = await queueStoredRows(store, queue, batch, {
    tag: `g${Date.now().toString(36)}`,
    pick: async (start, results) => {
      const failedRows: number[] = [];
      const unsent: number[] = [];
      const accepted: number[] = [];
      results.forEach((r, i) => {
        if (r?.status === 'failed') {
          if (r.errorCode === UNKNOWN_OUTCOME_CODE && !options.includeUnknown) unknownLeft += 1;
          else failedRows.push(start + i);
          if (r.maybeLinked && options.includeUnknown) accepted.push(start + i);
        } else if (r === undefined && stopped) unsent.push(start + i);
      });
      if (accepted.length > 0) {
        // Said before the rows are queued: the worker that claims them finds it.
        const records = await store.readRows(batchId, start, results.length);
        await ledger.acceptUnknownOutcomes(accepted.map((row) => (records[row - start]?.cells[batch.layout.invoice] ?? '').trim()));
      }
      const reopened = failedRows.length > 0 ? await store.reopenRows(batchId, failedRows) : [];
      return [...reopened, ...unsent].sort((a, b) => a - b);
    },
  });
  return { batchId, requeued, unknownLeft };
}
