import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, SIMULATOR_DEMO_API_KEY, SIMULATOR_DEMO_API_SECRET, type LedgerEntry, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { callSimulator, simulatorClient } from '../helpers/simulator.js';

const CREATE = '/api/user-api/payment/create-payment-link';
const valid = { amount: 150.75, description: 'Payment for June invoice', invoice_number: 'INV-2025-0012' };

function create(sim: SimulatorHandle, body: unknown, headers: Record<string, string> = {}) {
  return callSimulator(sim, CREATE, { body: typeof body === 'string' ? body : JSON.stringify(body), headers });
}

describe('Paywint simulator', () => {
  let sim: SimulatorHandle;

  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterEach(() => {
    sim.setFaults({ errorRate: 0, rateLimitedRate: 0, hangRate: 0, dropRate: 0, rateLimitPerSecond: 0, latencyMs: 0 });
    sim.reset();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('creates a link as documented, one ledger entry per request, duplicates included', async () => {
    const first = await create(sim, valid);
    const second = await create(sim, valid);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ success: true, message: 'Payment link created', data: { payment_id: expect.any(String), payment_link: expect.any(String) } });
    const data = (first.json as { data: { payment_id: string; payment_link: string }; queryGeneratedTime: number }).data;
    expect(data.payment_link).toBe(`https://pay.sandbox.paywint.com/l/${data.payment_id}`);
    expect((first.json as { queryGeneratedTime: number }).queryGeneratedTime).toBeCloseTo(Date.now() / 1000, -1);
    expect(second.status).toBe(200);
    const ledger = sim.ledger();
    expect(ledger).toHaveLength(2);
    expect(new Set(ledger.map((e) => e.paymentId)).size).toBe(2);
    expect(ledger[0]).toMatchObject({ paymentId: data.payment_id, invoiceNumber: 'INV-2025-0012', amount: '150.75', amountCents: 15075, description: 'Payment for June invoice' });
    expect(Date.parse(ledger[0]!.createdAt)).not.toBeNaN();
  });

  it('keeps the amount as written and accepts nulls and extra fields', async () => {
    await create(sim, '{"amount": 1234.50, "description": null, "invoice_number": null, "currency": "USD"}');
    await create(sim, { amount: 7 });
    await create(sim, '{"amount": 1.5e2}');
    expect(sim.ledger().map((e) => [e.amount, e.amountCents, e.description, e.invoiceNumber])).toEqual([
      ['1234.50', 123450, null, null],
      ['7', 700, null, null],
      ['1.5e2', 15000, null, null],
    ]);
  });

  it.each([
    ['a missing amount', { description: 'x' }, [{ type: 'missing', loc: ['body', 'amount'], msg: 'Field required' }]],
    ['an amount given as a string', { amount: '150.75' }, [{ type: 'float_type', loc: ['body', 'amount'], msg: 'Input should be a valid number' }]],
    ['a zero amount', { amount: 0 }, [{ type: 'greater_than', loc: ['body', 'amount'], msg: 'Input should be greater than 0' }]],
    ['a negative amount', { amount: -5 }, [{ type: 'greater_than', loc: ['body', 'amount'], msg: 'Input should be greater than 0' }]],
    ['a description of 256 characters', { amount: 1, description: 'd'.repeat(256) }, [{ type: 'string_too_long', loc: ['body', 'description'], msg: 'String should have at most 255 characters' }]],
    ['a description that is a number', { amount: 1, description: 5 }, [{ type: 'string_type', loc: ['body', 'description'], msg: 'Input should be a valid string' }]],
    ['an invoice number of 21 characters', { amount: 1, invoice_number: 'I'.repeat(21) }, [{ type: 'string_too_long', loc: ['body', 'invoice_number'], msg: 'String should have at most 20 characters' }]],
    ['a body that is an array', [], [{ type: 'model_attributes_type', loc: ['body'] }]],
    ['an empty body', '', [{ type: 'missing', loc: ['body'], msg: 'Field required' }]],
    ['malformed JSON', '{"amount": 1,}', [{ type: 'json_invalid', loc: ['body', 13], msg: 'JSON decode error' }]],
    [
      'several faults at once',
      { amount: 'x', description: 'd'.repeat(300), invoice_number: 'I'.repeat(30) },
      [{ loc: ['body', 'amount'] }, { loc: ['body', 'description'] }, { loc: ['body', 'invoice_number'] }],
    ],
  ])('answers 422 to %s, FastAPI style, and creates nothing', async (_name, body, detail) => {
    const answer = await create(sim, body);
    expect(answer.status).toBe(422);
    expect(answer.json).toMatchObject({ detail });
    expect((answer.json as { detail: unknown[] }).detail).toHaveLength(detail.length);
    expect(sim.ledger()).toHaveLength(0);
  });

  it('counts characters as Python does (a 255-emoji description is fine)', async () => {
    expect((await create(sim, { amount: 1, description: '😀'.repeat(255) })).status).toBe(200);
    expect((await create(sim, { amount: 1, description: '😀'.repeat(256) })).status).toBe(422);
  });

  it('reads a non-JSON content type as raw bytes, as FastAPI does', async () => {
    const answer = await create(sim, JSON.stringify(valid), { 'Content-Type': 'text/plain' });
    expect(answer.status).toBe(422);
    expect(answer.json).toMatchObject({ detail: [{ type: 'model_attributes_type', loc: ['body'] }] });
  });

  it('answers 401 to a wrong secret, a wrong key or missing credentials, before validating', async () => {
    const wrongSecret = await create(sim, valid, { 'X-Api-Secret': 'nope' });
    const wrongKey = await create(sim, {}, { 'X-Api-Key': '00000000-0000-4000-8000-000000000000' });
    const none = await fetch(`${sim.url}${CREATE}`, { method: 'POST', body: JSON.stringify(valid), headers: { 'content-type': 'application/json' } });
    for (const answer of [wrongSecret, wrongKey, { status: none.status, json: await none.json() }]) {
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ detail: 'Invalid API credentials' });
    }
    expect(sim.ledger()).toHaveLength(0);
    expect(sim.stats()).toMatchObject({ requests: 3, byStatus: { 401: 3 } });
    expect(sim.apiKey).toBe(SIMULATOR_DEMO_API_KEY);
  });

  it('enforces its own rate limit: a burst of 60 at 20/s lets 20 through, then frees up after a second', async () => {
    sim.setFaults({ rateLimitPerSecond: 20 });
    const burst = await Promise.all(Array.from({ length: 60 }, () => create(sim, valid)));
    const ok = burst.filter((a) => a.status === 200);
    const limited = burst.filter((a) => a.status === 429);
    expect(ok.length + limited.length).toBe(60);
    for (const answer of limited) expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const arrivals = sim.stats().requestTimesMs;
    expect(arrivals).toHaveLength(60);
    // Exactly 20 when the burst arrived within one second, as it does unless the machine stalls.
    if (Math.max(...arrivals) - Math.min(...arrivals) < 1_000) expect(ok).toHaveLength(20);
    else expect(ok.length).toBeGreaterThanOrEqual(20);
    const admitted = sim.ledger().map((e) => Date.parse(e.createdAt));
    expect(admitted).toHaveLength(ok.length);
    for (let i = 0; i + 20 < admitted.length; i += 1) expect(admitted[i + 20]! - admitted[i]!).toBeGreaterThanOrEqual(999);

    const freeAt = Math.max(...admitted) + 1_000;
    while (Date.now() <= freeAt) await new Promise((resolve) => setTimeout(resolve, freeAt - Date.now() + 5));
    const again = await Promise.all(Array.from({ length: 20 }, () => create(sim, valid)));
    expect(again.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 200));
  });

  it('changes faults at run time: Paywint down, then back', async () => {
    sim.setFaults({ errorRate: 1 });
    const down = await Promise.all(Array.from({ length: 10 }, () => create(sim, valid)));
    expect(down.every((a) => a.status === 500 || a.status === 503)).toBe(true);
    expect(sim.ledger()).toHaveLength(0);

    sim.setFaults({ errorRate: 0 });
    expect((await create(sim, valid)).status).toBe(200);
    expect(sim.stats().created).toBe(1);
  });

  it('injects a 429 with the configured Retry-After', async () => {
    sim.setFaults({ rateLimitedRate: 1, retryAfterSeconds: 3 });
    const answer = await create(sim, valid);
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).toBe('3');
  });

  it('adds the configured latency', async () => {
    sim.setFaults({ latencyMs: 150 });
    const started = Date.now();
    expect((await create(sim, valid)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('is deterministic with a seed', async () => {
    const statuses = async () => {
      const seeded = await startSimulator({ seed: 42, errorRate: 0.3, rateLimitedRate: 0.3 });
      try {
        const out: number[] = [];
        for (let i = 0; i < 20; i += 1) out.push((await create(seeded, valid)).status);
        return out;
      } finally {
        await seeded.close();
      }
    };
    const first = await statuses();
    expect(new Set(first).size).toBeGreaterThan(1);
    expect(await statuses()).toEqual(first);
  });

  it('serves the ledger, the stats, faults and reset on /__simulator', async () => {
    await create(sim, valid);
    const ledger = (await (await fetch(`${sim.url}/__simulator/ledger`)).json()) as LedgerEntry[];
    expect(ledger).toEqual(sim.ledger());
    const stats = (await (await fetch(`${sim.url}/__simulator/stats`)).json()) as { requests: number; created: number };
    expect(stats).toMatchObject({ requests: 1, created: 1, byStatus: { 200: 1 } });

    const set = await fetch(`${sim.url}/__simulator/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 1 }) });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ errorRate: 1 });
    expect((await create(sim, valid)).status).toBeGreaterThanOrEqual(500);
    const bad = await fetch(`${sim.url}/__simulator/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 2, nonsense: 1 }) });
    expect(bad.status).toBe(400);

    expect((await fetch(`${sim.url}/__simulator/reset`, { method: 'POST' })).status).toBe(200);
    expect(sim.ledger()).toHaveLength(0);
    expect(sim.stats().requests).toBe(0);
  });

  it('answers 404 and 405 as FastAPI does', async () => {
    expect((await callSimulator(sim, '/api/user-api/nothing')).status).toBe(404);
    expect((await callSimulator(sim, CREATE, { method: 'GET' })).status).toBe(405);
  });

  it('closes promptly with hung requests in flight', async () => {
    const own = await startSimulator({ hangRate: 1 });
    const client = simulatorClient(own, { timeoutMs: 10_000 });
    const pending = client.createPaymentLink({ invoiceNumber: 'INV-1', amountCents: 100, description: null }).catch((e: unknown) => e);
    while (own.stats().hung === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await pending).toMatchObject({ code: 'PAYWINT_CONNECTION_LOST', outcomeUnknown: true });
    expect(own.ledger()).toHaveLength(1);
    await client.close();
  });

  it('rejects bad options and faults, naming them', async () => {
    await expect(startSimulator({ errorRate: 1.5 })).rejects.toThrow(/errorRate/);
    expect(() => sim.setFaults({ hangRate: -1 })).toThrow(/hangRate/);
  });

  it('accepts custom credentials and link base', async () => {
    const own = await startSimulator({ apiKey: 'a1b2c3d4-0000-4000-8000-000000000001', apiSecret: 'other', linkBaseUrl: 'https://links.example.com/p/' });
    try {
      // A link base off Paywint's hosts is accepted only when the client is told of that host (PAYWINT_LINK_HOSTS).
      const client = simulatorClient(own, { apiSecret: 'other', linkHosts: ['links.example.com'] });
      const link = await client.createPaymentLink({ invoiceNumber: 'INV-1', amountCents: 100, description: null });
      expect(link.paymentLink).toBe(`https://links.example.com/p/${link.paymentId}`);
      await client.close();
      expect((await callSimulator(own, CREATE, { body: JSON.stringify(valid), headers: { 'X-Api-Secret': SIMULATOR_DEMO_API_SECRET } })).status).toBe(401);
    } finally {
      await own.close();
    }
  });
});
