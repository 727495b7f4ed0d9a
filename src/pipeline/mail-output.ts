/**
 * The e-mail columns of the output and the report (issue 19), for a batch
 * whose file has an address column: `emailed_at`, `email_status`,
 * `reminders_sent`, `last_reminder_at`, from the message ledger (by
 * invoice: a message sent for the invoice from an earlier batch counts).
 */
import { contactOf, hasEmailColumn } from '../intake/contact.js';
import type { Batch, BatchStore } from './batch-store.js';
import { MailLedger, type MessageRecord } from './mail-ledger.js';
import type { RowResult } from './output.js';

export const MAIL_COLUMNS = ['emailed_at', 'email_status', 'reminders_sent', 'last_reminder_at'] as const;

/** The e-mail columns of one row, by name. */
export type MailCells = Record<(typeof MAIL_COLUMNS)[number], string>;

const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString());

/** What `email_status` says of a first message's record. */
function statusOf(record: MessageRecord | undefined): string {
  if (record === undefined) return '';
  switch (record.state) {
    case 'sent':
      return 'sent';
    case 'claimed':
    case 'committed':
      return 'sending';
    case 'retry':
      return `retrying: ${record.detail ?? ''}`;
    case 'bounced':
      return `bounced: ${record.detail ?? ''}`;
    case 'failed':
      return `failed: ${record.detail ?? ''}`;
    case 'unknown':
      return 'unknown: handed to the mail server, but its answer never came (not sent again; ask the customer)';
    case 'skipped':
      return `not sent: ${record.detail ?? ''}`;
  }
}

/** Whether the batch's output has the e-mail columns. */
export function hasMailColumns(batch: Pick<Batch, 'layout'>): boolean {
  return hasEmailColumn(batch.layout);
}

/** The e-mail cells of rows of the batch (their stored cells and results), in order. */
export async function mailCellsOf(store: BatchStore, batch: Pick<Batch, 'account' | 'layout'>, rows: readonly { cells: readonly string[] }[], results: readonly (RowResult | undefined)[]): Promise<MailCells[]> {
  const empty: MailCells = { emailed_at: '', email_status: '', reminders_sent: '', last_reminder_at: '' };
  const linked = rows.map((r, i) => {
    const status = results[i]?.status;
    return status === 'created' || status === 'exists' ? (r.cells[batch.layout.invoice] ?? '').trim() : null;
  });
  const numbers = [...new Set(linked.filter((n): n is string => n !== null && n !== ''))];
  const records = await new MailLedger(store.redis, store.keys, batch.account).read(numbers);
  return rows.map((r, i) => {
    const invoice = linked[i];
    if (invoice === null || invoice === undefined) return empty;
    const contact = contactOf(r.cells, batch.layout);
    if (contact.email === null) {
      const invalid = contact.warnings.find((w) => w.code === 'INVALID_EMAIL');
      return { ...empty, email_status: invalid ? `not sent: ${invalid.message.replace(/^no message is sent for this row: /, '')}` : 'no address' };
    }
    const mine = records.get(invoice) ?? {};
    const reminders = (['reminder1', 'reminder2', 'reminder3'] as const).map((k) => mine[k]).filter((m): m is MessageRecord => m?.state === 'sent');
    const last = reminders.reduce<number | null>((max, m) => (m.atMs !== null && (max === null || m.atMs > max) ? m.atMs : max), null);
    return {
      emailed_at: mine.first?.state === 'sent' ? iso(mine.first.atMs) : '',
      email_status: statusOf(mine.first),
      reminders_sent: mine.first === undefined ? '' : String(reminders.length),
      last_reminder_at: iso(last),
    };
  });
}
