/**
 * Sending each customer their link (issue 19): what a send of a batch would
 * do (`planSend`, the page's preview), queueing it (`startSend`, `paylinks
 * send`, `--send`) and how far it got (`mailProgress`).
 */
import type { Queue } from 'bullmq';
import { mailboxAddress, requireMail, type MailSettings } from '../core/config.js';
import type { RedisClient } from '../core/lua.js';
import { formatCents } from '../core/money.js';
import type { BatchStore } from '../pipeline/batch-store.js';
import type { Keys } from '../pipeline/keys.js';
import { firstMessageCounts, planFirstMessages, queueFirstMessages, type PlannedMessage } from '../pipeline/mail-plan.js';
import type { MessageFields } from './render.js';
import { loadSchedule } from './reminders.js';

export { requireMail };

/** What the send functions work with. */
export interface MailContext {
  redis: RedisClient;
  keys: Keys;
  store: BatchStore;
  /** The mail queue (openMailQueue). */
  queue: Queue;
  settings: MailSettings;
  /** The clock, ms since the epoch. Default Date.now. */
  now?: () => number;
}

export interface SendPlan {
  /** Messages a send would queue now. */
  willSend: number;
  /** Rows that get none, by reason (`no-link`, `no-address`, `invalid-address`, `already-sent`, `paid`, `closed`). */
  skipped: Record<string, number>;
  /** The first message that would go out: its recipient and exact fields. */
  sample: { to: string; fields: MessageFields } | null;
}

export interface MailProgress {
  queued: number;
  sent: number;
  failed: number;
  bounced: { invoiceNumber: string; reply: string }[];
  unknown: number;
}

/** The fields of a planned message: its link and amount are the ledger's, never the row's. */
export function fieldsOf(p: Pick<PlannedMessage, 'invoiceNumber' | 'contact' | 'entry'>): MessageFields {
  return {
    name: p.contact.name,
    invoiceNumber: p.invoiceNumber,
    amount: formatCents(p.entry.amountCents),
    description: p.entry.description,
    link: p.entry.paymentLink,
    dueDate: p.contact.dueDate,
  };
}

/** What sending the batch's links would do now: the count, the rows left out and why, one exact message's fields. */
export async function planSend(ctx: MailContext, batchId: string): Promise<SendPlan> {
  const skipped: Record<string, number> = {};
  let willSend = 0;
  let sample: SendPlan['sample'] = null;
  for await (const planned of planFirstMessages(ctx, batchId, skipped)) {
    willSend += planned.length;
    if (sample === null && planned[0]) sample = { to: planned[0].contact.email, fields: fieldsOf(planned[0]) };
  }
  return { willSend, skipped, sample };
}

/** Queues the batch's first messages; the workers send them at `PAYLINKS_MAIL_RATE`. */
export async function startSend(ctx: MailContext, batchId: string): Promise<{ queued: number }> {
  requireMail(ctx.settings);
  // Bad reminder or quiet-hour settings are refused here too, not only when a worker starts.
  loadSchedule(ctx.settings);
  const { queued } = await queueFirstMessages(ctx, batchId);
  return { queued };
}

/** How far the batch's first messages got. */
export async function mailProgress(ctx: MailContext, batchId: string): Promise<MailProgress> {
  const { planned, sent, bounced: bouncedCount, failed, unknown } = await firstMessageCounts(ctx.redis, ctx.keys, batchId);
  const replies = await ctx.redis.hscan(ctx.keys.batchBounces(batchId), '0', 'COUNT', 1000);
  const bounced: MailProgress['bounced'] = [];
  for (let i = 0; i + 1 < replies[1].length; i += 2) bounced.push({ invoiceNumber: replies[1][i]!, reply: replies[1][i + 1]! });
  return { queued: Math.max(0, planned - sent - bouncedCount - failed - unknown), sent, failed, bounced, unknown };
}

/** The sender's address alone. */
export function fromAddress(settings: { from: string }): string {
  return mailboxAddress(settings.from) ?? settings.from;
}
