/**
 * `GET /api/invoices/{invoiceNumber}` and `GET /api/payments/events`, in a
 * real serve (in this process) with the simulator paying links and real
 * Redis: the invoice is found whatever its case, with its link, its batch and
 * the status the webhook path recorded; an unknown one is a 404 saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { caseInsensitivePattern } from '../../src/pipeline/invoice-lookup.js';
import { startServer, type ServerHandle } from '../../src/serve/server.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { Client, TOKEN } from './support.js';

const SECRET = 'whsec-0123456789-abcdefghijklmnopqrstuv';

let prefix: string;
let server: ServerHandle;
let api: Client;

beforeAll(async () => {
  prefix = uniquePrefix('invq');
  const config = loadConfig({
    dotenvPath: false,
    env: { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix, PAYLINKS_WEBHOOK_SECRET: SECRET, PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_HTTP_PORT: '0', PAYLINKS_LOG_LEVEL: 'silent' },
  });
  server = await startServer({ config, logger: silentLogger(), simulate: true, eventsIntervalMs: 200 });
  api = new Client(server.url);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await deletePrefix(testRedisUrl(), prefix);
});

interface InvoiceReply {
  invoice_number: string;
  payment_link: string;
  payment_id: string;
  payment_status: string;
  amount_paid: string | null;
  batch: { id: string; file: string | null; line: number | null };
  exceptions: { kind: string }[];
}

async function uploaded(name: string, csv: string): Promise<string> {
  const a = await api.upload(name, csv);
  expect(a.status).toBe(201);
  const id = (a.json as { batch_id: string }).batch_id;
  await api.waitFinished(id);
  return id;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('GET /api/invoices/{invoiceNumber}', () => {
  it('finds an invoice of an older batch by its number in another case, with its link, batch, line and recorded payment', async () => {
    const older = await uploaded('may.csv', 'invoice_number,amount\nMAY-001,10.00\nMay-Two,20.50\n');
    await uploaded('june.csv', 'invoice_number,amount\nJUN-001,30.00\n');
    const link = (await api.request('/api/invoices/MAY-001')).json as InvoiceReply;
    expect(link).toMatchObject({ invoice_number: 'MAY-001', payment_status: 'unpaid', amount_paid: null, batch: { id: older, file: 'may.csv', line: 2 } });
    expect(link.payment_link).toMatch(/^https?:\/\//);
    expect(server.simulator!.ledger().map((e) => e.paymentLink)).toContain(link.payment_link);

    // Paid at the simulator: the webhook, the confirmation job and the status store record it.
    server.simulator!.movePayment(link.payment_id, { to: 'paid' });
    const paid = await until(async () => (await api.request('/api/invoices/may-001')).json as InvoiceReply, (r) => r.payment_status === 'paid', 'not paid');
    expect(paid).toMatchObject({ invoice_number: 'MAY-001', amount_paid: '10.00', payment_link: link.payment_link });

    // Mixed case in the ledger, typed in another case, with spaces around.
    const two = await api.request(`/api/invoices/${encodeURIComponent('  MAY-TWO ')}`);
    expect(two.status).toBe(200);
    expect((two.json as InvoiceReply).invoice_number).toBe('May-Two');
  }, 60_000);

  it('lists the exceptions naming the invoice (paid another amount)', async () => {
    await uploaded('july.csv', 'invoice_number,amount\nJUL-001,40.00\n');
    const { payment_id } = (await api.request('/api/invoices/JUL-001')).json as InvoiceReply;
    server.simulator!.movePayment(payment_id, { to: 'paid', amountCents: 3900 });
    const r = await until(async () => (await api.request('/api/invoices/jul-001')).json as InvoiceReply, (v) => v.exceptions.length > 0, 'no exception');
    expect(r.exceptions.map((e) => e.kind)).toEqual(['amount-mismatch']);
    expect(r.amount_paid).toBe('39.00');
  }, 60_000);

  it('answers 404 INVOICE_NOT_FOUND for an invoice no batch linked, 401 without a token', async () => {
    const a = await api.request('/api/invoices/NOPE-404');
    expect(a.status).toBe(404);
    expect(a.json).toEqual({ code: 'INVOICE_NOT_FOUND', message: 'no payment link for invoice "NOPE-404": no batch of this account made one' });
    expect((await new Client(server.url, null).request('/api/invoices/MAY-001')).status).toBe(401);
    // Longer than any invoice number: refused before any lookup (Fastify's router: 414).
    expect((await api.request(`/api/invoices/${'X'.repeat(101)}`)).status).toBe(414);
  });

  it('escapes glob characters in its scan pattern and folds ASCII case only', () => {
    expect(caseInsensitivePattern('in*[1]?')).toBe('[iI][nN]\\*\\[1\\]\\?');
  });
});

describe('GET /api/payments/events', () => {
  it('sends the counts at once, then again when a payment is recorded', async () => {
    await uploaded('aug.csv', 'invoice_number,amount\nAUG-001,5.00\n');
    const { payment_id } = (await api.request('/api/invoices/AUG-001')).json as InvoiceReply;
    const controller = new AbortController();
    const response = await fetch(`${server.url}/api/payments/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { counts: Record<string, number> }[] = [];
    let buffer = '';
    const next = async () => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(message);
          if (data) return JSON.parse(data[1]!) as { counts: Record<string, number> };
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += value;
      }
    };
    events.push(await next());
    const paidBefore = events[0]!.counts.paid!;
    server.simulator!.movePayment(payment_id, { to: 'paid' });
    events.push(await next());
    controller.abort();
    expect(events[1]!.counts.paid).toBe(paidBefore + 1);
  }, 60_000);
});
