/**
 * A local SMTP server for the mail benchmark, in its own process (so its CPU
 * and memory are its own, as a real mail server's would be): the
 * `smtp-server` package, no TLS, no auth, no reverse lookups. It keeps no
 * message, only what the benchmark checks: how many arrived, to whom (a
 * recipient twice is a message sent twice), when the first and the last
 * arrived, and whether each carried a payment link.
 *
 * Prints `{"port": N}` on stdout once listening; answers `stats` over IPC.
 * Usage: `node dist/bench/smtp-sink.js` (spawned by mail-bench.ts).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SinkStats {
  messages: number;
  /** Recipients that got more than one message. */
  duplicates: number;
  /** Messages without a payment link in their text. */
  withoutLink: number;
  firstAtMs: number | null;
  lastAtMs: number | null;
  peakRssBytes: number;
}

const seen = new Set<string>();
let messages = 0;
let duplicates = 0;
let withoutLink = 0;
let firstAtMs: number | null = null;
let lastAtMs: number | null = null;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  disableReverseLookup: true,
  logger: false,
  size: 1024 * 1024,
  onData(stream, session, callback) {
    let tail = '';
    let linked = false;
    stream.on('data', (chunk: Buffer) => {
      // Look for the link across chunk edges without keeping the message.
      const text = tail + chunk.toString('latin1');
      if (!linked && text.includes('https://')) linked = true;
      tail = text.slice(-16);
    });
    stream.on('end', () => {
      const now = Date.now();
      firstAtMs ??= now;
      lastAtMs = now;
      messages += 1;
      if (!linked) withoutLink += 1;
      for (const r of session.envelope.rcptTo) {
        if (seen.has(r.address)) duplicates += 1;
        else seen.add(r.address);
      }
      callback();
    });
  },
});

process.on('message', (message) => {
  if (message !== 'stats') return;
  const stats: SinkStats = { messages, duplicates, withoutLink, firstAtMs, lastAtMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  process.send?.(stats);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.server.address() as AddressInfo).port }));
});
