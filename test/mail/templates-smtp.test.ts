/**
 * A rendered message sent as paylinks sends it (nodemailer) to a real SMTP
 * server (`smtp-server`): a customer name carrying CR/LF and header lines
 * adds no header and no recipient, and the bodies arrive as rendered.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerValue, loadTemplates, renderMessage, type MessageFields } from '../../src/mail/templates.js';

interface Received {
  rcptTo: string[];
  raw: string;
}

const received: Received[] = [];
let smtp: SMTPServer;
let port: number;

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ rcptTo: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  port = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

/** The header lines of a raw message, unfolded, as [name, value]. */
function headers(raw: string): [string, string][] {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  return head.split('\r\n').map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
}

describe('a rendered message through nodemailer to smtp-server', () => {
  it('a name with CR/LF and header lines, in the subject and the display name, adds no header and no recipient', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-templates-'));
    try {
      await writeFile(path.join(dir, 'first.subject.txt'), 'Invoice {{invoice_number}} for {{name}}');
      const name = 'Mallory\r\nBcc: victim@example.com\r\nX-Injected: yes\n\nInjected body';
      const fields: MessageFields = {
        name,
        invoiceNumber: 'INV-1001',
        amount: '99.90',
        description: '<img src=x onerror=alert(1)>',
        link: 'https://pay.paywint.com/l/abc123',
        dueDate: '2026-12-31',
      };
      const message = renderMessage(loadTemplates(dir), 'first', fields);
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
      try {
        await transport.sendMail({
          from: 'billing@example.com',
          to: { name: headerValue(name), address: 'customer@example.com' },
          subject: message.subject,
          text: message.text,
          html: message.html,
        });
      } finally {
        transport.close();
      }

      expect(received).toHaveLength(1);
      const [mail] = received;
      expect(mail!.rcptTo).toEqual(['customer@example.com']);
      const fieldsSeen = headers(mail!.raw);
      const names = fieldsSeen.map(([n]) => n);
      expect(names).not.toContain('bcc');
      expect(names).not.toContain('x-injected');
      expect(names.filter((n) => n === 'subject')).toHaveLength(1);
      expect(names.filter((n) => n === 'to')).toHaveLength(1);
      expect(fieldsSeen.find(([n]) => n === 'subject')![1]).toBe('Invoice INV-1001 for Mallory Bcc: victim@example.com X-Injected: yes Injected body');
      expect(fieldsSeen.find(([n]) => n === 'to')![1]).toBe('"Mallory Bcc: victim@example.com X-Injected: yes Injected body" <customer@example.com>');
      // The bodies arrive as rendered: the link and amount in both, the description escaped in the HTML.
      const body = mail!.raw.slice(mail!.raw.indexOf('\r\n\r\n')).replace(/=\r\n/g, '').replace(/=3D/g, '=');
      expect(body).toContain('https://pay.paywint.com/l/abc123');
      expect(body).toContain('$99.90');
      const html = body.slice(body.indexOf('Content-Type: text/html'));
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
      expect(html).not.toContain('<img src=x');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
