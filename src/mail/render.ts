/**
 * The one place messages are rendered, until `mailtpl`'s templates
 * (src/mail/templates.ts) land: then this calls `renderMessage` with the
 * templates loaded at start, and `MessageFields` is theirs.
 */

/** What a message may say (the contract of src/mail/templates.ts). */
export interface MessageFields {
  name: string | null;
  invoiceNumber: string;
  /** A decimal string, `12.50`. */
  amount: string;
  description: string | null;
  link: string;
  dueDate: string | null;
}

export type MessageKind = 'first' | 'reminder1' | 'reminder2' | 'reminder3';

export interface RenderedMessage {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const oneLine = (s: string) => s.replace(/[\r\n\u2028\u2029]+/g, ' ');

/** A plain message (stands in for the templates until they land). */
export function renderFor(kind: MessageKind, fields: MessageFields): RenderedMessage {
  const reminder = kind !== 'first';
  const subject = oneLine(`${reminder ? 'Reminder: ' : ''}invoice ${fields.invoiceNumber}: ${fields.amount} USD`);
  const lines = [
    `Hello${fields.name ? ` ${oneLine(fields.name)}` : ''},`,
    '',
    `${reminder ? 'Invoice' : 'Your invoice'} ${fields.invoiceNumber}${fields.description ? ` (${fields.description})` : ''} for ${fields.amount} USD${fields.dueDate ? `, due ${fields.dueDate}` : ''}${reminder ? ' is still unpaid' : ''}.`,
    `Pay it here: ${fields.link}`,
  ];
  const text = `${lines.join('\n')}\n`;
  const html = `<p>${lines.filter((l) => l !== '').map(escapeHtml).join('</p><p>')}</p>`;
  return { subject, text, html };
}
