/**
 * Which rows of a batch get their first message (issue 19), and queueing
 * them: a row with a link (created or exists) whose invoice the ledger holds,
 * a well-formed address, no first message yet (by invoice, across batches),
 * and a link still open (not paid, expired, failed or rejected).
 *
 * Here in the pipeline because a worker queues the messages of a batch
 * submitted with `--send` once it finishes; src/mail/sending.ts is the API.
 */
import type { Queue } from 'bullmq';
import { PaylinksError } from '../core/errors.js';
import { contactOf, hasEmailColumn, type RowContact } from '../intake/contact.js';
import type { RedisClient } from '../core/lua.js';
import { FINISHED_STATES, type BatchStore } from './batch-store.js';
import type { Keys } from './keys.js';
import { decodeLedgerEntry, ledgerField, type LedgerEntry } from './ledger.js';
import { MailLedger } from './mail-ledger.js';
import { MAIL_JOB_OPTIONS, mailJobId, SEND_MAIL_JOB, type SendMailData } from './mail-job.js';
import { PaymentStatusReader } from './payment-status/reader.js';

const CHUNK_ROWS = 1_000;

export type SkipReason = 'no-link' | 'no-address' | 'invalid-address' | 'already-sent' | 'paid' | 'closed';

/** A first message to send. */
export interface PlannedMessage {
  row: number;
  invoiceNumber: string;
  contact: RowContact & { email: string };
  /** The ledger's entry for the invoice: the link the message carries, and its amount. */
  entry: LedgerEntry;
}

export interface MailPlanContext {
  redis: RedisClient;
  keys: Keys;
  store: BatchStore;
}

/** The batch, checked for sending: it exists, it has an address column. */
async function batchForMail(ctx: MailPlanContext, batchId: string) {
  const batch = await ctx.store.get(batchId);
  if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `no batch ${batchId}`);
  if (!hasEmailColumn(batch.layout)) {
    throw new PaylinksError('MAIL_NO_ADDRESS_COLUMN', `batch ${batchId} (${batch.file}) has no e-mail address column, so paylinks cannot send its links: add a column such as "email" or "customer_email" (or name it with --columns email=<header>) and submit the file again`);
  }
  return batch;
}

/** The rows of a batch that get a first message, a chunk at a time, and the skipped rows counted by reason. */
export async function* planFirstMessages(ctx: MailPlanContext, batchId: string, skipped: Record<string, number>): AsyncGenerator<PlannedMessage[]> {
  const batch = await batchForMail(ctx, batchId);
  if (!(await ctx.store.hasRecords(batchId))) throw new PaylinksError('BATCH_EXPIRED', `batch ${batchId}'s rows were removed after its retention: its messages cannot be planned`);
  const ledgerKey = ctx.keys.ledger(batch.account);
  const messages = new MailLedger(ctx.redis, ctx.keys, batch.account);
  const statuses = new PaymentStatusReader(ctx.redis, ctx.keys, batch.account);
  const skip = (why: SkipReason) => {
    skipped[why] = (skipped[why] ?? 0) + 1;
  };
  for (let start = 0; start < batch.rows; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, batch.rows - start);
    const [rows, results] = await Promise.all([ctx.store.readRows(batchId, start, count), ctx.store.readResults(batchId, start, count)]);
    const candidates: { row: number; invoiceNumber: string; contact: RowContact & { email: string } }[] = [];
    results.forEach((result, i) => {
      if (result === undefined || (result.status !== 'created' && result.status !== 'exists')) return skip('no-link');
      const cells = rows[i]!.cells;
      const contact = contactOf(cells, batch.layout);
      if (contact.email === null) return skip(contact.warnings.some((w) => w.code === 'INVALID_EMAIL') ? 'invalid-address' : 'no-address');
      candidates.push({ row: start + i, invoiceNumber: (cells[batch.layout.invoice] ?? '').trim(), contact: contact as RowContact & { email: string } });
    });
    if (candidates.length === 0) continue;
    const numbers = candidates.map((c) => c.invoiceNumber);
    const [entries, records, paid] = await Promise.all([ctx.redis.hmget(ledgerKey, ...numbers.map(ledgerField)), messages.read(numbers), statuses.readStatuses(numbers)]);
    const planned: PlannedMessage[] = [];
    candidates.forEach((c, i) => {
      const raw = entries[i];
      if (raw === null || raw === undefined) return skip('no-link');
      const first = records.get(c.invoiceNumber)?.first;
      if (first !== undefined && first.state !== 'claimed' && first.state !== 'retry' && first.state !== 'committed') return skip('already-sent');
      const state = paid.get(c.invoiceNumber)?.status.state;
      if (state === 'paid') return skip('paid');
      if (state === 'expired' || state === 'failed' || state === 'rejected') return skip('closed');
      planned.push({ ...c, entry: decodeLedgerEntry(raw) });
    });
    if (planned.length > 0) yield planned;
  }
}

export interface QueueFirstMessagesResult {
  queued: number;
  skipped: Record<string, number>;
}

/**
 * Queues the batch's first messages (one job per row, ids from the row: run
 * twice, or by two processes, it queues each once). The batch must have
 * finished: its links are all known then.
 */
export async function queueFirstMessages(ctx: MailPlanContext & { queue: Queue }, batchId: string): Promise<QueueFirstMessagesResult> {
  const batch = await batchForMail(ctx, batchId);
  if (!FINISHED_STATES.includes(batch.state)) {
    throw new PaylinksError('BATCH_NOT_FINISHED', `batch ${batchId} is ${batch.state}: its links are sent once it has finished (or submit it with --send)`);
  }
  const skipped: Record<string, number> = {};
  let queued = 0;
  for await (const planned of planFirstMessages(ctx, batchId, skipped)) {
    const marks = ctx.redis.pipeline();
    for (const p of planned) marks.setbit(ctx.keys.batchMailRows(batchId), p.row, 1);
    await marks.exec();
    await ctx.queue.addBulk(
      planned.map((p) => {
        const data: SendMailData = { account: batch.account, batchId, row: p.row, invoiceNumber: p.invoiceNumber, kind: 'first' };
        return { name: SEND_MAIL_JOB, data, opts: { ...MAIL_JOB_OPTIONS, jobId: mailJobId(batchId, p.row, 'first') } };
      }),
    );
    queued += planned.length;
  }
  const retention = Number((await ctx.redis.hget(ctx.keys.batch(batchId), 'retention_ms')) ?? 0) || 30 * 86_400_000;
  await ctx.redis
    .multi()
    .hset(ctx.keys.batch(batchId), 'mail_started_at', new Date().toISOString())
    .pexpire(ctx.keys.batchMailRows(batchId), retention)
    .pexpire(ctx.keys.batchBounces(batchId), retention)
    .exec();
  return { queued, skipped };
}

/** The batch's first messages queued (each row once, whichever send queued it) and ended so far. */
export async function firstMessageCounts(redis: RedisClient, keys: Keys, batchId: string): Promise<{ planned: number; sent: number; bounced: number; failed: number; unknown: number }> {
  const [planned, counts] = await Promise.all([redis.bitcount(keys.batchMailRows(batchId)), redis.hmget(keys.batch(batchId), 'mail_sent', 'mail_bounced', 'mail_failed', 'mail_unknown')]);
  const [sent, bounced, failed, unknown] = counts.map((v) => Number(v ?? 0));
  return { planned, sent: sent!, bounced: bounced!, failed: failed!, unknown: unknown! };
}

/** Asks for the batch's messages to be sent once it finishes (`submit --send`): a worker queues them then. */
export async function sendOnFinish(ctx: MailPlanContext, batchId: string): Promise<void> {
  await batchForMail(ctx, batchId);
  await ctx.redis.zadd(ctx.keys.mailOnFinish(), Date.now(), batchId);
}

/**
 * Whether the batch's first messages are all out of the way: none waiting
 * to be queued (`--send`), none queued or being sent (those waiting for a
 * retry later do not hold anything up).
 */
export async function firstMessagesSettled(ctx: MailPlanContext & { queue: Queue }, batchId: string): Promise<boolean> {
  if ((await ctx.redis.zscore(ctx.keys.mailOnFinish(), batchId)) !== null) return false;
  const c = await firstMessageCounts(ctx.redis, ctx.keys, batchId);
  if (c.planned - c.sent - c.bounced - c.failed - c.unknown <= 0) return true;
  const jobs = await ctx.queue.getJobCounts('wait', 'active', 'prioritized');
  return (jobs.wait ?? 0) + (jobs.active ?? 0) + (jobs.prioritized ?? 0) === 0;
}
