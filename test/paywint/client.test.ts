import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PaywintError } from '../../src/core/errors.js';
import { PaywintClient } from '../../src/paywint/client.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { closedPortUrl, reply, simulatorClient, startRawServer, type RawServer } from '../helpers/simulator.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const request = { invoiceNumber: 'INV-2025-0012', amountCents: 15075, description: 'Payment for June invoice' };

/** The PaywintError a promise rejects with (fails the test on anything else). */
async function failure(promise: Promise<unknown>): Promise<PaywintError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PaywintError);
  return error as PaywintError;
}

/** Every place an error could be printed from: message, stack, cause chain, JSON, inspect. */
function printed(error: Error): string {
  const parts: string[] = [JSON.stringify(error), inspect(error, { depth: null, showHidden: true })];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message, e.stack ?? '', JSON.stringify(e));
  return parts.join('\n');
}

describe('PaywintClient against the simulator', () => {
  let sim: SimulatorHandle;
  let client: PaywintClient;

  beforeAll(async () => {
    sim = await startSimulator();
    client = simulatorClient(sim);
  });
  afterEach(() => {
    sim.setFaults({ errorRate: 0, rateLimitedRate: 0, hangRate: 0, dropRate: 0, rateLimitPerSecond: 0 });
    sim.reset();
  });
  afterAll(async () => {
    await client.close();
    await sim.close();
  });

  it('creates a link and the simulator records exactly what was asked', async () => {
    const link = await client.createPaymentLink(request);
    const other = await client.createPaymentLink({ invoiceNumber: 'INV-2', amountCents: 123450, description: null });

    expect(link.paymentId).toMatch(UUID);
    expect(link.paymentLink).toMatch(/^https:\/\//);
    expect(link.paymentLink).toContain(link.paymentId);
    const ledger = sim.ledger();
    expect(ledger).toHaveLength(2);
    expect(ledger[0]).toMatchObject({
      paymentId: link.paymentId,
      paymentLink: link.paymentLink,
      invoiceNumber: 'INV-2025-0012',
      amount: '150.75',
      amountCents: 15075,
      description: 'Payment for June invoice',
    });
    expect(ledger[1]).toMatchObject({ paymentId: other.paymentId, invoiceNumber: 'INV-2', amount: '1234.5', amountCents: 123450, description: null });
  });

  it('maps a wrong secret to PAYWINT_AUTH and never shows the secret', async () => {
    const secret = 'wrong-secret-7f3a9c1e5b';
    const wrong = simulatorClient(sim, { apiSecret: secret });
    try {
      const error = await failure(wrong.createPaymentLink(request));
      expect(error).toMatchObject({ code: 'PAYWINT_AUTH', status: 401, retryable: false, outcomeUnknown: false });
      expect(error.message).toBe('Paywint answered 401 Unauthorized: check PAYWINT_API_KEY and PAYWINT_API_SECRET');
      expect(printed(error)).not.toContain(secret);
      expect(inspect(wrong, { depth: null, showHidden: true }) + JSON.stringify(wrong)).not.toContain(secret);
    } finally {
      await wrong.close();
    }
    expect(sim.ledger()).toHaveLength(0);
  });

  it('keeps the field messages of a 422', async () => {
    const error = await failure(client.createPaymentLink({ ...request, description: 'x'.repeat(256), invoiceNumber: 'INV-'.padEnd(21, '9') }));
    expect(error).toMatchObject({ code: 'PAYWINT_VALIDATION', status: 422, retryable: false, outcomeUnknown: false });
    expect(error.fieldErrors).toEqual(['body.description: String should have at most 255 characters', 'body.invoice_number: String should have at most 20 characters']);
    expect(error.message).toContain('body.description: String should have at most 255 characters');
    expect(sim.ledger()).toHaveLength(0);
  });

  it('maps an injected 429 to PAYWINT_RATE_LIMITED with Retry-After in ms', async () => {
    sim.setFaults({ rateLimitedRate: 1, retryAfterSeconds: 7 });
    const error = await failure(client.createPaymentLink(request));
    expect(error).toMatchObject({ code: 'PAYWINT_RATE_LIMITED', status: 429, retryable: true, retryAfterMs: 7000, outcomeUnknown: false });
  });

  it('maps 500 and 503 to a retryable PAYWINT_SERVER_ERROR that created nothing', async () => {
    sim.setFaults({ errorRate: 1 });
    const statuses = new Set<number | undefined>();
    for (let i = 0; i < 16; i += 1) {
      const error = await failure(client.createPaymentLink(request));
      expect(error).toMatchObject({ code: 'PAYWINT_SERVER_ERROR', retryable: true, outcomeUnknown: false });
      statuses.add(error.status);
    }
    expect([...statuses].sort()).toEqual([500, 503]);
    expect(sim.ledger()).toHaveLength(0);
  });

  it('reports a hang as PAYWINT_TIMEOUT with the outcome unknown, and the link was in fact created', async () => {
    sim.setFaults({ hangRate: 1 });
    const quick = simulatorClient(sim, { timeoutMs: 300 });
    try {
      const started = Date.now();
      const error = await failure(quick.createPaymentLink(request));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error).toMatchObject({ code: 'PAYWINT_TIMEOUT', retryable: true, outcomeUnknown: true, status: undefined });
      expect(error.message).toBe('Paywint did not answer within 300 ms; the link may have been created');
      expect(sim.ledger()).toHaveLength(1);
      expect(sim.stats().hung).toBe(1);
      expect(printed(error)).not.toContain('simulator-demo-secret');
    } finally {
      await quick.close();
    }
  });

  it('reports a dropped connection as PAYWINT_CONNECTION_LOST with the outcome unknown', async () => {
    sim.setFaults({ dropRate: 1 });
    const error = await failure(client.createPaymentLink(request));
    expect(error).toMatchObject({ code: 'PAYWINT_CONNECTION_LOST', retryable: true, outcomeUnknown: true });
    expect(sim.ledger()).toHaveLength(1);
    expect(sim.stats().dropped).toBe(1);
  });

  it('reuses keep-alive connections', async () => {
    const pooled = simulatorClient(sim, { connections: 4 });
    try {
      for (let i = 0; i < 30; i += 1) await pooled.createPaymentLink(request);
      // undici frees a connection a tick after the body ends, so a request sent at once may open a second one.
      expect(sim.stats().connections).toBeLessThanOrEqual(2);
      await Promise.all(Array.from({ length: 100 }, () => pooled.createPaymentLink(request)));
      expect(sim.stats().connections).toBeLessThanOrEqual(4);
      expect(sim.ledger()).toHaveLength(130);
    } finally {
      await pooled.close();
    }
  });

  it('keeps reusing connections after error answers (their bodies are consumed)', async () => {
    const pooled = simulatorClient(sim, { connections: 1 });
    try {
      sim.setFaults({ errorRate: 1 });
      for (let i = 0; i < 5; i += 1) await failure(pooled.createPaymentLink(request));
      sim.setFaults({ errorRate: 0 });
      await failure(pooled.createPaymentLink({ ...request, description: 'x'.repeat(300) }));
      await pooled.createPaymentLink(request);
      expect(sim.stats().connections).toBe(1);
    } finally {
      await pooled.close();
    }
  });

  it('reports a cancelled request: not sent when cancelled before, outcome unknown once in flight', async () => {
    const before = await failure(client.createPaymentLink(request, { signal: AbortSignal.abort() }));
    expect(before).toMatchObject({ code: 'PAYWINT_NETWORK', outcomeUnknown: false });

    sim.setFaults({ hangRate: 1 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const during = await failure(client.createPaymentLink(request, { signal: controller.signal }));
    expect(during).toMatchObject({ code: 'PAYWINT_CONNECTION_LOST', outcomeUnknown: true, retryable: true });
    expect(sim.ledger()).toHaveLength(1);
  });
});

describe('PaywintClient transport failures', () => {
  it('reports a refused connection as PAYWINT_NETWORK: nothing was sent', async () => {
    const client = new PaywintClient({ baseUrl: await closedPortUrl(), apiKey: 'k', apiSecret: 'secret-not-to-print-42', timeoutMs: 2_000 });
    try {
      const error = await failure(client.createPaymentLink(request));
      expect(error).toMatchObject({ code: 'PAYWINT_NETWORK', retryable: true, outcomeUnknown: false });
      expect(error.message).toContain('ECONNREFUSED');
      expect(printed(error)).not.toContain('secret-not-to-print-42');
    } finally {
      await client.close();
    }
  });

  it('rejects bad options at once, naming them and never echoing the secret', () => {
    const base = { baseUrl: 'http://127.0.0.1:1', apiKey: 'k', apiSecret: 's', timeoutMs: 1000 };
    expect(() => new PaywintClient({ ...base, baseUrl: 'ftp://x' })).toThrow(/baseUrl/);
    expect(() => new PaywintClient({ ...base, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new PaywintClient({ ...base, connections: 0 })).toThrow(/connections/);
    expect(() => new PaywintClient({ ...base, apiSecret: 'top\nsecret' })).toThrow(/apiSecret: .*a value of 10 characters/);
  });
});

describe('PaywintClient against a raw server', () => {
  let server: RawServer;
  let answer: Parameters<typeof startRawServer>[0] = (_req, res) => reply(res, 500, {});
  let client: PaywintClient;

  beforeAll(async () => {
    server = await startRawServer((req, res) => answer(req, res));
    client = new PaywintClient({ baseUrl: `${server.url}/`, apiKey: 'key-1', apiSecret: 'raw-secret', timeoutMs: 2_000 });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  const okLink = { payment_id: '7d3c7d52-4a5e-4f3b-9d61-0f6f7a8b9c0d', payment_link: 'https://pay.paywint.com/l/7d3c7d52' };

  it('sends exactly what the contract says', async () => {
    answer = (_req, res) => reply(res, 200, { success: true, message: 'ok', data: okLink, queryGeneratedTime: 1718006400.5 });
    const before = server.requests.length;
    await expect(client.createPaymentLink({ invoiceNumber: 'INV-1', amountCents: 15075, description: null })).resolves.toEqual({
      paymentId: okLink.payment_id,
      paymentLink: okLink.payment_link,
    });
    await client.createPaymentLink({ invoiceNumber: 'INV-"2"', amountCents: 1500, description: 'Zoë: "quoted"' });
    const [first, second] = server.requests.slice(before);
    expect(first).toMatchObject({ method: 'POST', url: '/api/user-api/payment/create-payment-link' });
    expect(first!.headers).toMatchObject({ 'x-api-key': 'key-1', 'x-api-secret': 'raw-secret', 'content-type': 'application/json', accept: 'application/json' });
    expect(first!.body).toBe('{"amount":150.75,"description":null,"invoice_number":"INV-1"}');
    expect(second!.body).toBe('{"amount":15,"description":"Zoë: \\"quoted\\"","invoice_number":"INV-\\"2\\""}');
  });

  it('reads Retry-After as an HTTP date, and as absent', async () => {
    const at = new Date(Date.now() + 5_000).toUTCString();
    answer = (_req, res) => reply(res, 429, { detail: 'slow down' }, { 'retry-after': at });
    const dated = await failure(client.createPaymentLink(request));
    expect(dated).toMatchObject({ code: 'PAYWINT_RATE_LIMITED', status: 429, retryable: true });
    expect(dated.retryAfterMs).toBeGreaterThan(3_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(5_000);

    answer = (_req, res) => reply(res, 429, { detail: 'slow down' });
    const bare = await failure(client.createPaymentLink(request));
    expect(bare).toMatchObject({ code: 'PAYWINT_RATE_LIMITED', retryAfterMs: undefined });
  });

  it.each([
    ['success: true with data: null', 200, { success: true, message: 'Success', data: null }, true, /^Paywint answered 200 with success: true but no data; the link may have been created$/],
    ['success: false', 200, { success: false, message: 'Wallet not verified', data: null }, false, /Wallet not verified/],
    ['a body that is not JSON', 200, '<html>ok</html>', true, /not JSON/],
    ['an http link', 200, { success: true, data: { ...okLink, payment_link: 'http://pay.paywint.com/l/1' } }, true, /payment_link/],
    ['a payment id that is not a uuid', 200, { success: true, message: 'Success', data: { ...okLink, payment_id: '12345' } }, true, /^Paywint answered 200 with a link that is not usable \(payment_id: [^)]*\); the link may have been created$/],
    ['a JSON array', 200, [], true, /unknown shape/],
    ['a link on another host', 200, { success: true, data: { ...okLink, payment_link: 'https://evil.example/x' } }, true, /a link on evil\.example, not on Paywint's hosts \(paywint\.com; PAYWINT_LINK_HOSTS sets them\)/],
    ['a link on a host that ends like Paywint\'s', 200, { success: true, data: { ...okLink, payment_link: 'https://evilpaywint.com/l/1' } }, true, /not on Paywint's hosts/],
    ['a link with Paywint\'s host as its user name', 200, { success: true, data: { ...okLink, payment_link: 'https://pay.paywint.com@evil.example/l/1' } }, true, /not on Paywint's hosts/],
  ])('maps a 2xx with %s to PAYWINT_PROTOCOL', async (_name, status, body, outcomeUnknown, message) => {
    answer = (_req, res) => reply(res, status, body);
    const error = await failure(client.createPaymentLink(request));
    expect(error).toMatchObject({ code: 'PAYWINT_PROTOCOL', status, retryable: false, outcomeUnknown });
    expect(error.message).toMatch(message);
  });

  it.each([
    [400, 'PAYWINT_BAD_REQUEST', { detail: 'Invoice closed' }, false, false],
    [403, 'PAYWINT_AUTH', { detail: 'Forbidden' }, false, false],
    [404, 'PAYWINT_WRONG_BASE_URL', { detail: 'Not Found' }, false, false],
    [409, 'PAYWINT_UNEXPECTED_STATUS', { detail: 'Conflict' }, false, false],
    [302, 'PAYWINT_WRONG_BASE_URL', '', false, false],
    [500, 'PAYWINT_SERVER_ERROR', 'Internal Server Error', true, false],
    [502, 'PAYWINT_SERVER_ERROR', '<html>Bad Gateway</html>', true, true],
    [503, 'PAYWINT_SERVER_ERROR', { detail: 'Service Unavailable' }, true, false],
    [504, 'PAYWINT_SERVER_ERROR', '<html>Gateway Timeout</html>', true, true],
  ])('maps %i to %s', async (status, code, body, retryable, outcomeUnknown) => {
    answer = (_req, res) => reply(res, status, body);
    const error = await failure(client.createPaymentLink(request));
    expect(error).toMatchObject({ code, status, retryable, outcomeUnknown });
  });

  it('a 404 or a redirect on the create endpoint says PAYWINT_BASE_URL is wrong; a redirect from http to https says to use https', async () => {
    answer = (_req, res) => reply(res, 404, { detail: 'Not Found' });
    const notFound = await failure(client.createPaymentLink(request));
    expect(notFound.message).toBe(
      `Paywint answered 404 Not Found to the create request: there is no create endpoint under PAYWINT_BASE_URL ${server.url}: ` +
        'check PAYWINT_BASE_URL (https://api.sandbox.paywint.com or https://api.paywint.com; https, not http; no path after the host)',
    );
    answer = (_req, res) => reply(res, 301, '', { location: 'https://api.sandbox.paywint.com/api/user-api/payment/create-payment-link' });
    const moved = await failure(client.createPaymentLink(request));
    expect(moved).toMatchObject({ code: 'PAYWINT_WRONG_BASE_URL', status: 301, outcomeUnknown: false });
    expect(moved.message).toMatch(/^Paywint answered 301 Moved Permanently to the create request: PAYWINT_BASE_URL http:\/\/127\.0\.0\.1:\d+ redirects to https:\/\/api\.sandbox\.paywint\.com\/.*: use https:\/\/ in PAYWINT_BASE_URL, not http:\/\/$/);
  });

  it('accepts links only on the hosts it is given (PAYWINT_LINK_HOSTS), subdomains included', async () => {
    const own = new PaywintClient({ baseUrl: server.url, apiKey: 'k', apiSecret: 's', timeoutMs: 2_000, linkHosts: ['links.example.org'] });
    try {
      answer = (_req, res) => reply(res, 200, { success: true, data: { ...okLink, payment_link: 'https://pay.links.example.org/l/1' } });
      await expect(own.createPaymentLink(request)).resolves.toMatchObject({ paymentLink: 'https://pay.links.example.org/l/1' });
      answer = (_req, res) => reply(res, 200, { success: true, data: okLink });
      expect(await failure(own.createPaymentLink(request))).toMatchObject({ code: 'PAYWINT_PROTOCOL', outcomeUnknown: true });
    } finally {
      await own.close();
    }
  });

  it('reads no more than 1 MB of a body: a bigger one is a protocol error, the outcome unknown, the connection dropped early', async () => {
    let written = 0;
    answer = (_req, res) => {
      // 250 MB of a JSON string, written as fast as the client reads it.
      const total = 250 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(total) });
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    };
    const error = await failure(client.createPaymentLink(request));
    expect(error).toMatchObject({ code: 'PAYWINT_PROTOCOL', status: 200, outcomeUnknown: true, retryable: false });
    expect(error.message).toBe('Paywint answered 200 with a body larger than 1048576 bytes (read no further); the link may have been created');
    expect(written).toBeLessThan(32 * 1024 * 1024);
  });

  it('puts Paywint\'s explanation of a 400 in the message', async () => {
    answer = (_req, res) => reply(res, 400, { detail: 'Invoice closed' });
    const error = await failure(client.createPaymentLink(request));
    expect(error.message).toBe('Paywint answered 400 Bad Request: Invoice closed');
  });

  it('bounds the whole request, a slow body included', async () => {
    const slow = new PaywintClient({ baseUrl: server.url, apiKey: 'k', apiSecret: 's', timeoutMs: 300 });
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"success": true, ');
      // never ends the body
    };
    try {
      const started = Date.now();
      const error = await failure(slow.createPaymentLink(request));
      expect(error).toMatchObject({ code: 'PAYWINT_TIMEOUT', outcomeUnknown: true });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await slow.close();
    }
  });
});
