/**
 * The `notify` job: one delivery of one event (a batch finished, a payment
 * exception, a batch collected), to one webhook URL or as one e-mail. Its processor; its name, data and backoff are the
 * queue's contract (src/pipeline/notify-job.ts).
 *
 * A job per delivery, so retries survive restarts (BullMQ keeps the delayed
 * job in Redis).
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import nodemailer from 'nodemailer';
import { coerceError, PaylinksError } from '../src/core/errors.js';
import { writeBatchOutput } from '../src/pipeline/collector.js';
import { signatureHeader } from '../src/notify/signature.js';
import { summarizeBatch } from '../src/notify/summary.js';
import { notifyBackoffMs, NotifyDataSchema, outputUrlOf, webhookId, type NotifyData, type NotifyDeps } from '../src/pipeline/notify-job.js';

/** A webhook gets its answer within this long, or the delivery is retried. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Outputs larger than this are not attached (the e-mail says where to get them). */
const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

export function notifyProcessor(deps: NotifyDeps): (job: Job) => Promise<void> {
  const { settings, logger } = deps;

  async function deliverWebhook(data: Extract<NotifyData, { channel: 'webhook' }>): Promise<void> {
    const url = settings.urls.find((u) => webhookId(u) === data.webhook);
    if (url === undefined || settings.secret === undefined) {
      throw new UnrecoverableError('this webhook URL is no longer in PAYLINKS_NOTIFY_URL: not delivered');
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        body: data.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'paylinks',
          'paylinks-event-id': data.eventId,
          'paylinks-signature': signatureHeader(settings.secret, data.body),
        },
      });
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new PaylinksError('NOTIFY_WEBHOOK_FAILED', timedOut ? `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s` : `could not reach the webhook (${coerceError(error).message})`, { retryable: true });
    }
    if (response.status < 200 || response.status > 299) {
      throw new PaylinksError('NOTIFY_WEBHOOK_FAILED', `the webhook answered HTTP ${response.status}`, { retryable: true });
    }
  }

  /** One message to the configured recipients; a refusal is retried. */
  async function sendMail(message: { subject: string; text: string; headers: Record<string, string>; attachments?: { filename: string; content: Buffer; contentType: string }[] }): Promise<void> {
    const transport = nodemailer.createTransport(settings.smtpUrl);
    try {
      await transport.sendMail({ from: settings.emailFrom, to: settings.emails, ...message, attachments: message.attachments ?? [] });
    } catch (error) {
      throw new PaylinksError('NOTIFY_EMAIL_FAILED', `the mail server did not take the message (${coerceError(error).message})`, { retryable: true });
    } finally {
      transport.close();
    }
  }

  async function deliverEmail(data: Extract<NotifyData, { channel: 'email' }>): Promise<void> {
    if (settings.smtpUrl === undefined || settings.emails.length === 0) throw new UnrecoverableError('e-mail is no longer configured: not sent');
    if (data.text !== undefined) {
      await sendMail({ subject: data.subject ?? 'paylinks', text: data.text, headers: { 'Paylinks-Event-Id': data.eventId } });
      return;
    }
    const batch = await deps.store.get(data.batchId);
    if (!batch) throw new UnrecoverableError(`batch ${data.batchId} is gone: not sent`);
    const outputName = `${path.parse(batch.file).name}.out.csv`;
    const tmp = path.join(tmpdir(), `paylinks-mail-${data.eventId}-${process.pid}.csv`);
    try {
      await writeBatchOutput(deps.store, batch.id, tmp);
      const attached = (await stat(tmp)).size <= MAX_ATTACHMENT_BYTES;
      const outputUrl = settings.publicUrl ? outputUrlOf(settings.publicUrl, batch.id) : undefined;
      const summary = await summarizeBatch(deps.store, batch, { outputName, outputUrl, attached });
      await sendMail({
        subject: summary.subject,
        text: summary.text,
        headers: { 'Paylinks-Event-Id': data.eventId },
        attachments: attached ? [{ filename: outputName, content: await readFile(tmp), contentType: 'text/csv; charset=utf-8' }] : [],
      });
    } finally {
      await rm(tmp, { force: true });
      await rm(`${tmp}.partial`, { force: true });
    }
  }

  return async function processNotify(job: Job): Promise<void> {
    const data = NotifyDataSchema.parse(job.data);
    try {
      if (data.channel === 'webhook') await deliverWebhook(data);
      else await deliverEmail(data);
      logger.info({ eventId: data.eventId, batchId: data.batchId, channel: data.channel, attempt: job.attemptsMade + 1 }, 'notification delivered');
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      const err = coerceError(error);
      const nextAt = Date.now() + notifyBackoffMs(job.attemptsMade + 1);
      if (nextAt > data.firstAt + settings.retryWindowMs) {
        logger.error({ eventId: data.eventId, batchId: data.batchId, channel: data.channel, attempts: job.attemptsMade + 1, err: err.message }, 'notification given up: it kept failing for the whole retry window');
        throw new UnrecoverableError(`NOTIFY_GAVE_UP: ${err.message}`);
      }
      logger.warn({ eventId: data.eventId, batchId: data.batchId, channel: data.channel, attempt: job.attemptsMade + 1, code: err.code, err: err.message }, 'notification not delivered: will retry');
      throw err;
    }
  };
}

