/**
 * A message to a customer as the mail server gets it: headers and bodies
 * built by nodemailer's MailComposer (it encodes a name with any character
 * as a header word, so a name cannot add a header), from the rendered
 * message. Nothing but the customer's own invoice is in it: no secret, no
 * token, no other customer's data.
 */
import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { RenderedMessage } from './render.js';

export interface MessageEnvelope {
  /** `PAYLINKS_MAIL_FROM`: an address or `Name <address>`. */
  from: string;
  replyTo?: string;
  to: { address: string; name: string | null };
}

/**
 * The Message-ID of an invoice's message of one kind: the same whoever
 * sends it, so a copy sent twice would show as such in any mailbox.
 */
export function messageIdOf(account: string, invoiceKey: string, kind: string, fromAddress: string): string {
  const digest = createHash('sha256').update(`${account}\n${invoiceKey}\n${kind}`).digest('base64url').slice(0, 24);
  const domain = fromAddress.split('@')[1] ?? 'paylinks.invalid';
  return `<${kind}.${digest}@${domain}>`;
}

export function composeMessage(envelope: MessageEnvelope, rendered: RenderedMessage, messageId: string): Promise<Buffer> {
  const composer = new MailComposer({
    from: envelope.from,
    to: envelope.to.name ? { name: envelope.to.name, address: envelope.to.address } : envelope.to.address,
    ...(envelope.replyTo ? { replyTo: envelope.replyTo } : {}),
    subject: rendered.subject.replace(/[\r\n]+/g, ' '),
    text: rendered.text,
    html: rendered.html,
    messageId,
    date: new Date(),
  });
  return composer.compile().build();
}
