/**
 * The `send-mail` job: one message to one customer about one invoice (issue
 * 19). Its contract is src/pipeline/mail-job.ts; exactly once is the message
 * ledger's (src/pipeline/mail-ledger.ts): claimed before, committed just
 * before the message's end, its end recorded after.
 *
 * - The address and name come from the batch's stored row; the link and the
 *   amount from the ledger entry of the invoice, never from anything else.
 * - A reminder goes only to an invoice still open (not paid, expired, failed
 *   or rejected), and never inside the quiet hours (the job waits for their
 *   end, delayed in Redis).
 * - 4xx and a server not reached: tried again with backoff, until the job's
 *   attempts are spent (then `failed`, with the last reply). 5xx: `bounced`,
 *   with the server's reply. Committed with no answer: `unknown`, not sent
 *   again.
 * - Once the first message went out, the invoice's reminders are queued as
 *   delayed jobs (they survive restarts).
 */
import { randomBytes } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import { coerceError } from '../src/core/errors.js';
import { invoiceKey } from '../src/core/invoice-key.js';
import { contactOf } from '../src/intake/contact.js';
import { composeMessage, messageIdOf } from '../src/mail/compose.js';
import { loadSchedule, outsideQuietHours, reminderTimes } from '../src/mail/reminders.js';
import { messageRenderer } from '../src/mail/render.js';
import { fieldsOf, fromAddress, requireMail } from '../src/mail/sending.js';
import { SmtpSender } from '../src/mail/smtp.js';
import { decodeLedgerEntry, ledgerField } from '../src/pipeline/ledger.js';
import { MAIL_JOB_OPTIONS, mailJobId, SEND_MAIL_JOB, SendMailDataSchema, type SendMailData, type SendMailDeps, type SendMailResult } from '../src/pipeline/mail-job.js';
import { MailLedger, type SendEnd } from '../src/pipeline/mail-ledger.js';
import { PaymentStatusReader } from '../src/pipeline/payment-status/reader.js';

/** A payment state after which no reminder goes out. */
const NO_REMINDER: Record<string, string> = { paid: 'paid', expired: 'link expired', failed: 'payment failed', rejected: 'payment rejected' };

export function sendMailProcessor(deps: SendMailDeps): { process: (job: Job, token?: string) => Promise<SendMailResult>; close: () => Promise<void> } {
  const settings = requireMail(deps.settings);
  const schedule = loadSchedule(settings);
  const render = messageRenderer(settings.templatesDir);
  const now = deps.now ?? Date.now;
  const from = fromAddress(settings);
  // About one connection per 50 messages a second, at most 8.
  const smtp = new SmtpSender({ url: settings.smtpUrl, connections: Math.min(8, Math.max(1, Math.ceil(settings.ratePerSecond / 50))) });
  const ledgers = new Map<string, { messages: MailLedger; statuses: PaymentStatusReader }>();
  const forAccount = (account: string) => {
    let l = ledgers.get(account);
    if (!l) {
      l = { messages: new MailLedger(deps.redis, deps.keys, account), statuses: new PaymentStatusReader(deps.redis, deps.keys, account) };
      ledgers.set(account, l);
    }
    return l;
  };

  async function process(job: Job, token?: string): Promise<SendMailResult> {
    const data = SendMailDataSchema.parse(job.data);
    const { messages, statuses } = forAccount(data.account);
    const log = { batchId: data.batchId, row: data.row, invoice: data.invoiceNumber, kind: data.kind };

    const batch = await deps.store.getForWork(data.batchId);
    const [row] = batch ? await deps.store.readRows(data.batchId, data.row, 1) : [];
    if (!batch || !row) return { outcome: 'skipped', detail: 'the batch or its rows are gone' };
    const contact = contactOf(row.cells, batch.layout);
    if (contact.email === null) return { outcome: 'skipped', detail: 'no address' };
    const raw = await deps.redis.hget(deps.keys.ledger(data.account), ledgerField(data.invoiceNumber));
    if (raw === null) return { outcome: 'skipped', detail: 'no link in the ledger' };
    const entry = decodeLedgerEntry(raw);

    if (data.kind !== 'first') {
      const state = (await statuses.readStatuses([data.invoiceNumber])).get(data.invoiceNumber)?.status.state;
      const why = state === undefined ? undefined : NO_REMINDER[state];
      if (why !== undefined) {
        await messages.skip(data.invoiceNumber, data.kind, why);
        deps.logger.info({ ...log, why }, 'reminder not sent');
        return { outcome: 'skipped', detail: why };
      }
      const allowedAt = outsideQuietHours(schedule, now());
      if (allowedAt > now()) {
        await job.moveToDelayed(allowedAt, token);
        throw new DelayedError();
      }
    }

    const attempt = randomBytes(9).toString('base64url');
    const claim = await messages.claim(data.batchId, data.invoiceNumber, data.kind, attempt, now());
    if (claim.kind === 'unknown') {
      deps.logger.warn(log, 'a run before this one handed the message over and got no answer: flagged unknown, not sent again');
      return { outcome: 'unknown' };
    }
    if (claim.kind === 'done') return { outcome: 'done-before', detail: claim.record.state };
    if (claim.kind === 'committed') throw new Error('another run of this message is waiting for the server\'s answer: looking again later');

    await deps.limiter.acquire(deps.signal);
    const fields = fieldsOf({ invoiceNumber: data.invoiceNumber, contact: { ...contact, email: contact.email }, entry });
    const rendered = render(data.kind, fields);
    const message = await composeMessage({ from: settings.from, replyTo: settings.replyTo, to: { address: contact.email, name: contact.name } }, rendered, messageIdOf(data.account, invoiceKey(data.invoiceNumber), data.kind, from));
    const outcome = await smtp.send({ from, to: contact.email }, message, () => messages.commit(data.invoiceNumber, data.kind, attempt, now()));

    let end: SendEnd;
    let reply: string | null = null;
    switch (outcome.kind) {
      case 'accepted':
        end = 'sent';
        break;
      case 'withdrawn':
        return { outcome: 'done-before', detail: 'another run took the message over' };
      case 'refused':
        reply = `${outcome.reply}`;
        end = outcome.code >= 500 ? 'bounced' : 'retry';
        break;
      case 'no-answer':
        reply = outcome.reason;
        end = outcome.ended ? 'unknown' : 'retry';
        break;
    }
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? MAIL_JOB_OPTIONS.attempts ?? 1);
    if (end === 'retry' && lastAttempt) end = 'failed';
    await messages.end(data.batchId, data.invoiceNumber, data.kind, attempt, end, reply, now());
    if (end === 'retry') {
      deps.logger.warn({ ...log, attempt: job.attemptsMade + 1, reply }, 'the mail server did not take the message: will retry');
      throw new Error(`the mail server did not take the message: ${reply ?? ''}`);
    }
    if (end === 'sent') {
      if (data.kind === 'first') await queueReminders(data, contact.dueDate);
      deps.logger.debug(log, 'message sent');
    } else deps.logger.warn({ ...log, end, reply }, end === 'unknown' ? 'the message was handed over but no answer came: flagged unknown, not sent again' : 'message not delivered');
    return { outcome: end, ...(reply ? { detail: reply } : {}) };
  }

  /** The invoice's reminders, as delayed jobs from the time its first message went out. */
  async function queueReminders(data: SendMailData, dueDate: string | null): Promise<void> {
    const sentAt = now();
    const times = reminderTimes(schedule, sentAt, dueDate);
    if (times.length === 0) return;
    await deps.queue.addBulk(
      times.map((t) => ({
        name: SEND_MAIL_JOB,
        data: { ...data, kind: t.kind } satisfies SendMailData,
        opts: { ...MAIL_JOB_OPTIONS, jobId: mailJobId(data.batchId, data.row, t.kind), delay: Math.max(0, t.atMs - sentAt) },
      })),
    );
  }

  return {
    process: async (job, token) => {
      try {
        return await process(job, token);
      } catch (error) {
        if (error instanceof DelayedError) throw error;
        throw coerceError(error);
      }
    },
    close: async () => smtp.close(),
  };
}
