/**
 * Payment notifications (issue 17, item 5): each new payment exception as a
 * `payment.exception` event, and a batch whose links are all paid as one
 * `batch.collected` event, through the notification channel batches finish
 * on (the webhook URLs and the e-mail of notifier.ts).
 *
 * Once each, surviving restarts:
 * - an exception is kept and queued for notification in one step
 *   (exceptions.ts); here its pending id becomes delivery jobs whose ids come
 *   from the exception's id, and is then settled. A crash in between queues
 *   the same jobs again, which BullMQ keeps once.
 * - a paid confirmation and a batch's finish put the batch in a check set;
 *   here a finished batch whose paid links (counted as they become paid, in
 *   the status's own write) reach the links it made is verified by a full
 *   count of its links (batchCollection), then marked collected once
 *   (HSETNX) before its jobs are queued with ids from the batch id.
 */
import { createHash } from 'node:crypto';
import type { NotifySettings } from '../core/config.js';
import { formatCents } from '../core/money.js';
import type { BatchStore } from './batch-store.js';
import { isFinished } from './collector.js';
import { batchCollection } from './payment-status/collection.js';
import { PaymentExceptions, type PaymentException } from './payment-status/exceptions.js';
import { PaymentStatusStore } from './payment-status/store.js';
import type { RedisClient } from '../core/lua.js';
import type { Keys } from './keys.js';
import { webhookId, type NotifyData } from './notify-job.js';
import { exceptionToJson } from './report/summary.js';

/** One event to deliver: a body for the webhooks, a subject and text for the e-mail. */
export interface PaymentNotice {
  eventId: string;
  batchId: string;
  body: string;
  subject: string;
  text: string;
}

/** The report's address, for a person to open. */
function reportUrl(settings: NotifySettings, batchId: string | null): string | undefined {
  return settings.publicUrl && batchId ? `${settings.publicUrl}/api/batches/${encodeURIComponent(batchId)}/report.csv` : undefined;
}

/** The event id of an exception's notification: the same however often it is queued. */
export function exceptionEventId(account: string, exceptionId: string): string {
  return `x-${createHash('sha256').update(`${account}\n${exceptionId}`).digest('hex').slice(0, 24)}`;
}

const WHAT: Record<string, string> = {
  'double-payment': 'an invoice was paid twice: refund one payment',
  'amount-mismatch': 'a payment does not match its invoice amount',
  stray: 'a payment on a link paylinks has no record of',
  contradiction: 'Paywint contradicts a status it confirmed before',
  'paid-after-expiry': 'a link was paid after it expired or was rejected',
  'event-contradicted': 'a webhook event was not borne out by Paywint',
  'unknown-status': 'Paywint reports a status paylinks does not know',
};

export function exceptionNotice(account: string, e: PaymentException, settings: NotifySettings): PaymentNotice {
  const eventId = exceptionEventId(account, e.id);
  const url = reportUrl(settings, e.batchId);
  const json = exceptionToJson(e);
  const body = JSON.stringify({ id: eventId, event: 'payment.exception', batch_id: e.batchId, exception: json, ...(url ? { report_url: url } : {}) });
  const lines = [
    `paylinks found a payment exception: ${WHAT[e.kind] ?? e.kind}.`,
    '',
    `Kind:        ${e.kind}`,
    `Invoice:     ${e.invoiceNumber ?? (e.likelyInvoices?.length ? `unknown; likely ${e.likelyInvoices.join(', ')}` : 'unknown')}`,
    `Payment id:  ${e.paymentId}`,
    ...(json.amount ? [`Amount:      ${json.amount}`] : []),
    `Batch:       ${e.batchId ?? '-'}`,
    `Found:       ${e.at}`,
    '',
    e.detail,
    ...(url ? ['', `The batch's report: ${url}`] : e.batchId ? ['', `The batch's report: paylinks report ${e.batchId}`] : []),
  ];
  return { eventId, batchId: e.batchId ?? '', body, subject: `paylinks: payment exception (${e.kind}${e.invoiceNumber ? `, invoice ${e.invoiceNumber}` : ''})`.slice(0, 200), text: `${lines.join('\n')}\n` };
}

/** The deliveries of one notice: one job per webhook URL, one e-mail. */
export function noticeJobs(notice: PaymentNotice, settings: NotifySettings, firstAt = Date.now()): { data: NotifyData; id: string }[] {
  const common = { eventId: notice.eventId, batchId: notice.batchId, firstAt };
  return [
    ...settings.urls.map((url) => ({ data: { channel: 'webhook' as const, ...common, webhook: webhookId(url), body: notice.body }, id: `${notice.eventId}-w${webhookId(url)}` })),
    ...(settings.emails.length > 0 ? [{ data: { channel: 'email' as const, ...common, subject: notice.subject, text: notice.text }, id: `${notice.eventId}-email` }] : []),
  ];
}

export interface PaymentNoticesOptions {
  redis: RedisClient;
  keys: Keys;
  store: BatchStore;
  /** The Paywint account whose payments this process confirms. */
  account: string;
  settings: NotifySettings;
  /** Queues a notice's jobs (BullMQ keeps a job id once). */
  enqueue(jobs: { data: NotifyData; id: string }[]): Promise<void>;
  /** What was queued, for the log. */
  onQueued?(notice: PaymentNotice, kind: 'payment.exception' | 'batch.collected'): void;
}

/** Turns what is pending into delivery jobs; returns how many notices were queued. */
export async function queuePaymentNotices(options: PaymentNoticesOptions): Promise<number> {
  const { account, settings } = options;
  const exceptions = new PaymentExceptions(options.redis, options.keys, account);
  const payments = new PaymentStatusStore(options.redis, options.keys, account);
  let queued = 0;
  for (;;) {
    const pending = await exceptions.pending(50);
    if (pending.length === 0) break;
    for (const e of pending) {
      const notice = exceptionNotice(account, e, settings);
      await options.enqueue(noticeJobs(notice, settings));
      options.onQueued?.(notice, 'payment.exception');
      await exceptions.settle(e.id);
      queued += 1;
    }
  }
  for (const check of await payments.collectChecks(50)) {
    const { batchId } = check;
    const batch = await options.store.get(batchId);
    // Not finished yet: its finish puts it back in the set.
    if (batch && isFinished(batch) && batch.account === account && batch.counts.created > 0 && (await payments.paidLinksOf(batchId)) >= batch.counts.created) {
      const collection = await batchCollection(payments, exceptions, batchId);
      if (collection.collected && (await payments.markCollected(batchId))) {
        const notice = collectedNotice(batchId, batch.file, collection, settings);
        await options.enqueue(noticeJobs(notice, settings));
        options.onQueued?.(notice, 'batch.collected');
        queued += 1;
      }
    }
    await payments.settleCollectCheck(check);
  }
  return queued;
}

function collectedNotice(batchId: string, file: string, c: Awaited<ReturnType<typeof batchCollection>>, settings: NotifySettings): PaymentNotice {
  const eventId = `${batchId}-collected`;
  const url = reportUrl(settings, batchId);
  const summary = { links: c.links, linked_amount: formatCents(c.linkedCents), paid_amount: formatCents(c.paidCents), collected_percent: c.collectedPercent, exceptions: c.exceptions };
  const body = JSON.stringify({ id: eventId, event: 'batch.collected', batch_id: batchId, summary, ...(url ? { report_url: url } : {}) });
  const lines = [
    `Every link of the batch of ${file} is paid.`,
    '',
    `Batch:       ${batchId}`,
    `Links:       ${c.links} (${formatCents(c.linkedCents)})`,
    `Paid:        ${formatCents(c.paidCents)} (${c.collectedPercent}%)`,
    `Exceptions:  ${c.exceptions}`,
    '',
    url ? `The report: ${url}` : `The report: paylinks report ${batchId}`,
  ];
  return { eventId, batchId, body, subject: `paylinks: ${file} collected (${c.links} links paid)`.slice(0, 200), text: `${lines.join('\n')}\n` };
}
