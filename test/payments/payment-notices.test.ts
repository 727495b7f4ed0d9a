/**
 * Payment exceptions and collected batches as notifications, received as a
 * customer's systems receive them (a webhook receiver checking signatures, a
 * real SMTP server), from a real serve (in this process) with the simulator
 * delivering its payment webhooks to it, on real Redis: a double payment of
 * an invoice with a second link is a `double-payment` exception in the report
 * and one `payment.exception` event; a batch whose links are all paid sends
 * `batch.collected` once; an exception found while no notifier ran is sent
 * by the next process, once.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import { verifySignature } from '../../src/notify/signature.js';
import { Keys } from '../../src/pipeline/keys.js';
import { PaymentExceptions } from '../../src/pipeline/payment-status/exceptions.js';
import { startServer, type ServerHandle } from '../../src/serve/server.js';
import { waitFor } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { reply, startRawServer, type RawServer } from '../helpers/simulator.js';
import { Client, TOKEN } from '../serve/support.js';

const SECRET = 'whsec-0123456789-abcdefghijklmnopqrstuv';
const NOTIFY_SECRET = 'whsec_TEST-notify-secret-9Lp2';

let prefix: string;
let server: ServerHandle;
let receiver: RawServer;
let smtp: SMTPServer;
const mails: string[] = [];
let env: Record<string, string>;

async function start(): Promise<ServerHandle> {
  return startServer({ config: loadConfig({ dotenvPath: false, env }), logger: silentLogger(), simulate: true });
}

beforeAll(async () => {
  prefix = uniquePrefix('notice');
  receiver = await startRawServer((_req, res) => reply(res, 200, { ok: true }));
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  env = {
    REDIS_URL: testRedisUrl(),
    PAYLINKS_PREFIX: prefix,
    PAYLINKS_WEBHOOK_SECRET: SECRET,
    PAYLINKS_API_TOKENS: TOKEN,
    PAYLINKS_HTTP_PORT: '0',
    PAYLINKS_LOG_LEVEL: 'silent',
    PAYLINKS_NOTIFY_URL: `${receiver.url}/hooks/paylinks`,
    PAYLINKS_NOTIFY_SECRET: NOTIFY_SECRET,
    PAYLINKS_PUBLIC_URL: 'https://paylinks.example.com',
    PAYLINKS_SMTP_URL: `smtp://127.0.0.1:${port}`,
    PAYLINKS_NOTIFY_EMAIL: 'finance@example.com',
  };
  server = await start();
});

afterAll(async () => {
  await server?.close();
  await receiver?.close();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  await deletePrefix(testRedisUrl(), prefix);
});

interface Event {
  id: string;
  event: string;
  batch_id: string | null;
  exception?: { kind: string; invoiceNumber: string | null; paymentId: string; likelyInvoices: string[] };
  summary?: { links: number; paid_amount: string; collected_percent: number };
  report_url?: string;
}

/** The events received, each checked against its signature. */
function events(kind?: string): Event[] {
  return receiver.requests
    .filter((r) => r.url === '/hooks/paylinks')
    .map((r) => {
      expect(verifySignature(NOTIFY_SECRET, r.body, String(r.headers['paylinks-signature']))).toBe(true);
      const e = JSON.parse(r.body) as Event;
      expect(r.headers['paylinks-event-id']).toBe(e.id);
      return e;
    })
    .filter((e) => kind === undefined || e.event === kind);
}

describe('payment notifications', () => {
  it('a double payment of an invoice with a second link: a double-payment exception in the report, and one payment.exception event; all paid: one batch.collected', async () => {
    const api = new Client(server.url);
    const up = await api.upload('double.csv', 'invoice_number,amount,description\nD-1,25.00,Invoice D-1\nD-2,30.00,Invoice D-2\n');
    expect(up.status, up.text).toBe(201);
    const id = (up.json as { batch_id: string }).batch_id;
    await api.waitFinished(id);
    const rows = ((await api.request(`/api/batches/${id}/report.json`)).json as { rows: { invoice_number: string; payment_id: string }[] }).rows;
    const own = (invoice: string) => rows.find((r) => r.invoice_number === invoice)!.payment_id;

    // A second link for D-1 (as an unanswered request may leave at Paywint), and both paid.
    const sim = server.simulator!;
    const second = sim.createStrayLink({ amountCents: 2500, invoiceNumber: 'D-1', description: 'Invoice D-1' });
    sim.movePayment(second.paymentId, { to: 'paid' });
    await sim.webhooksIdle();
    await waitFor(() => events('payment.exception').some((e) => e.exception?.kind === 'stray'), 'the stray payment notified', 30_000);
    sim.movePayment(own('D-1'), { to: 'paid' });
    await sim.webhooksIdle();
    await waitFor(() => events('payment.exception').some((e) => e.exception?.kind === 'double-payment'), 'the double payment notified', 30_000);

    const double = events('payment.exception').find((e) => e.exception?.kind === 'double-payment')!;
    expect(double).toMatchObject({ batch_id: id, exception: { invoiceNumber: 'D-1', paymentId: second.paymentId }, report_url: `https://paylinks.example.com/api/batches/${id}/report.csv` });
    expect(events('payment.exception').find((e) => e.exception?.kind === 'stray')!.exception!.likelyInvoices).toEqual(['D-1']);

    type Report = { rows: { invoice_number: string; exception: string; payment_status: string }[]; exceptions: { kind: string; invoiceNumber: string | null }[]; summary: { exceptions: number; collected: boolean } };
    let report: Report | undefined;
    // The route keeps a summary for 2 s: wait for one made after both exceptions.
    await waitFor(async () => {
      report = (await api.request(`/api/batches/${id}/report.json`)).json as Report;
      return report.exceptions.length === 2;
    }, 'the report listing both exceptions', 10_000, 200);
    const d1 = report!.rows.find((r) => r.invoice_number === 'D-1')!;
    expect(d1.exception.split(' ')).toContain('double-payment');
    expect(d1.payment_status).toBe('paid');
    expect(report!.exceptions.map((e) => e.kind).sort()).toEqual(['double-payment', 'stray']);
    expect(report!.summary.collected).toBe(false);
    expect(events('batch.collected')).toEqual([]);

    // D-2 paid: every link of the batch is paid.
    sim.movePayment(own('D-2'), { to: 'paid' });
    await sim.webhooksIdle();
    await waitFor(() => events('batch.collected').length > 0, 'batch.collected', 30_000);
    expect(events('batch.collected')[0]).toMatchObject({ id: `${id}-collected`, batch_id: id, summary: { links: 2, paid_amount: '55.00', collected_percent: 100 } });
    await waitFor(() => mails.some((m) => m.includes('double-payment')) && mails.some((m) => /collected/.test(m)), 'the e-mails', 30_000);

    // Once each: nothing more comes.
    await sleep(3000);
    const exceptionIds = events('payment.exception').map((e) => e.id);
    expect(new Set(exceptionIds).size).toBe(exceptionIds.length);
    expect(exceptionIds).toHaveLength(2);
    expect(events('batch.collected')).toHaveLength(1);
    expect(mails.filter((m) => m.includes('Subject: paylinks: payment exception (double-payment'))).toHaveLength(1);
  });

  it('an exception found while no process announced it is sent by the next one, once', async () => {
    const account = server.simulator!.apiKey;
    await server.close();
    const redis = connect(testRedisUrl());
    try {
      const exceptions = new PaymentExceptions(redis, new Keys(prefix), account);
      expect(await exceptions.add({ kind: 'amount-mismatch', paymentId: '3f1c1b3e-0000-4000-8000-000000000001', invoiceNumber: 'R-9', batchId: null, amountCents: 100, detail: 'paid 1.00; the invoice is 9.00' })).toBe(true);
    } finally {
      await redis.quit();
    }
    const before = events('payment.exception').length;
    server = await start();
    await waitFor(() => events('payment.exception').length > before, 'the pending exception sent', 30_000);
    await sleep(2000);
    const after = events('payment.exception').slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]!.exception).toMatchObject({ kind: 'amount-mismatch', invoiceNumber: 'R-9' });
  });
});
