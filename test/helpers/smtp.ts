/**
 * A real SMTP server (the `smtp-server` package) that keeps every message it
 * takes, as a customer's mail provider would: its received messages are the
 * ground truth of what customers got. `answer` may refuse a recipient (a
 * reply code and text), as a server does for an unknown mailbox or a full one.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMessage {
  to: string;
  raw: string;
}

export interface TestSmtp {
  url: string;
  messages: ReceivedMessage[];
  /** Recipients refused, in order, with the code given. */
  refused: { to: string; code: number }[];
  close(): Promise<void>;
}

export async function startSmtp(answer?: (to: string, nth: number) => { code: number; text: string } | undefined): Promise<TestSmtp> {
  const messages: ReceivedMessage[] = [];
  const refused: { to: string; code: number }[] = [];
  const tries = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 1024 * 1024,
    onRcptTo(address, _session, callback) {
      const to = address.address.toLowerCase();
      const nth = (tries.get(to) ?? 0) + 1;
      tries.set(to, nth);
      const refusal = answer?.(to, nth);
      if (refusal) {
        refused.push({ to, code: refusal.code });
        const error = Object.assign(new Error(refusal.text), { responseCode: refusal.code });
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        // A message cut short (its connection closed before its end) never comes here: the server drops it.
        for (const r of session.envelope.rcptTo) messages.push({ to: r.address.toLowerCase(), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A header of a raw message (unfolded), or undefined. */
export function headerOf(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const m = new RegExp(`^${name}:(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m?.[1]?.replace(/\r?\n[ \t]/g, ' ').trim();
}
