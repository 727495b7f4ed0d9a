import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type PaymentEvent, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { callSimulator, reply, startRawServer, type RawRequest, type RawServer } from '../helpers/simulator.js';

const CREATE = '/api/user-api/payment/create-payment-link';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function createLink(sim: SimulatorHandle, invoice: string): Promise<string> {
  const answer = await callSimulator(sim, CREATE, { body: JSON.stringify({ amount: 599, description: null, invoice_number: invoice }) });
  return (answer.json as { data: { payment_id: string } }).data.payment_id;
}

describe('simulator webhook delivery', () => {
  let sim: SimulatorHandle;
  let receiver: RawServer;
  let answer: (req: RawRequest, res: ServerResponse) => void;
  const received = () => receiver.requests.map((r) => JSON.parse(r.body) as PaymentEvent);

  beforeAll(async () => {
    receiver = await startRawServer((req, res) => answer(req, res));
    sim = await startSimulator({ webhooks: { url: `${receiver.url}/webhooks/paywint/secret`, retryDelayMs: 20 } });
  });
  beforeEach(() => {
    answer = (_req, res) => reply(res, 200, {});
  });
  afterEach(async () => {
    await sim.webhooksIdle();
    sim.setWebhooks({ lostRate: 0, duplicateRate: 0, outOfOrderRate: 0, lateRate: 0 });
    sim.reset();
    receiver.requests.length = 0;
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });

  it('POSTs each move as the documented payload to the configured URL', async () => {
    const id = await createLink(sim, 'INV-1');
    sim.movePayment(id, { to: 'opened' });
    sim.movePayment(id, { to: 'paid' });
    const failedId = await createLink(sim, 'INV-2');
    sim.movePayment(failedId, { to: 'failed', reason: 'Insufficient funds' });
    await sim.webhooksIdle();

    expect(receiver.requests.map((r) => [r.method, r.url, r.headers['content-type']])).toEqual(Array(3).fill(['POST', '/webhooks/paywint/secret', 'application/json']));
    const events = received();
    expect(events.map((e) => [e.event, e.data.payment_id, e.data.status, e.data.amount])).toEqual([
      ['payment.opened', id, 'opened', 599],
      ['payment.success', id, 'success', 599],
      ['payment.failed', failedId, 'failed', 599],
    ]);
    expect(events[2]!.data.failed_reason).toBe('Insufficient funds');
    expect(events[0]!.data).not.toHaveProperty('failed_reason');
    for (const e of events) {
      expect(e.id).toMatch(UUID_V4);
      expect(e.eventGeneratedTime).toBeCloseTo(Date.now() / 1000, -2);
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    expect(sim.webhooks().map((r) => r.fate)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  it('tries a non-2xx answer three times in all, then gives up', async () => {
    let calls = 0;
    answer = (_req, res) => {
      calls += 1;
      reply(res, calls === 1 ? 503 : 200, {});
    };
    const id = await createLink(sim, 'INV-3');
    sim.movePayment(id, { to: 'paid' });
    await sim.webhooksIdle();
    expect(sim.webhooks()).toEqual([expect.objectContaining({ fate: 'delivered', attempts: 2, statuses: [503, 200] })]);

    answer = (_req, res) => reply(res, 500, {});
    sim.movePayment(id, { to: 'expired' });
    await sim.webhooksIdle();
    expect(sim.webhooks()[1]).toMatchObject({ fate: 'failed', attempts: 3, statuses: [500, 500, 500] });
    const ids = received().map((e) => e.id);
    expect(ids.slice(2)).toEqual(Array(3).fill(sim.webhooks()[1]!.event.id));
  });

  it('injects lost, duplicated, out-of-order and late deliveries', async () => {
    const id = await createLink(sim, 'INV-4');
    sim.setWebhooks({ lostRate: 1 });
    sim.movePayment(id, { to: 'opened' });
    sim.setWebhooks({ lostRate: 0, duplicateRate: 1 });
    sim.movePayment(id, { to: 'processing' });
    await sim.webhooksIdle();
    expect(received().map((e) => e.event)).toEqual(['payment.processing', 'payment.processing']);
    expect(received()[0]!.id).toBe(received()[1]!.id);
    expect(sim.webhooks().map((r) => r.fate)).toEqual(['lost', 'delivered']);
    receiver.requests.length = 0;

    // Held back, it arrives after the event that followed it.
    sim.setWebhooks({ duplicateRate: 0, outOfOrderRate: 1 });
    sim.movePayment(id, { to: 'processing' });
    sim.setWebhooks({ outOfOrderRate: 0 });
    sim.movePayment(id, { to: 'paid' });
    await sim.webhooksIdle();
    expect(received().map((e) => e.event)).toEqual(['payment.success', 'payment.processing']);
    receiver.requests.length = 0;

    sim.setWebhooks({ lateRate: 1, lateMs: 300 });
    const other = await createLink(sim, 'INV-5');
    const started = Date.now();
    sim.movePayment(other, { to: 'expired' });
    sim.setWebhooks({ lateRate: 0 });
    sim.movePayment(other, { to: 'paid' });
    await sim.webhooksIdle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(received().map((e) => e.event)).toEqual(['payment.success', 'payment.expired']);
  });

  it('sends payment.retried naming the new payment and the one it replaced', async () => {
    const id = await createLink(sim, 'INV-6');
    const next = sim.movePayment(id, { to: 'retry' });
    await sim.webhooksIdle();
    expect(received()).toEqual([expect.objectContaining({ event: 'payment.retried', data: { payment_id: next.paymentId, status: 'retried', amount: 599, previous_payment_id: id } })]);
  });

  it('sends the payment of a stray link like any other', async () => {
    const stray = sim.createStrayLink({ amountCents: 12345, invoiceNumber: 'INV-7', description: 'Invoice INV-7' });
    sim.movePayment(stray.paymentId, { to: 'paid' });
    await sim.webhooksIdle();
    expect(received()).toEqual([expect.objectContaining({ event: 'payment.success', data: { payment_id: stray.paymentId, status: 'success', amount: 123.45 } })]);
  });

  it('is driven over HTTP too: settings, records, and waiting until idle', async () => {
    const set = await fetch(`${sim.url}/__simulator/webhooks`, { method: 'POST', body: JSON.stringify({ lateRate: 1, lateMs: 200 }) });
    expect(set.status).toBe(200);
    const id = await createLink(sim, 'INV-8');
    await fetch(`${sim.url}/__simulator/payments/${id}`, { method: 'POST', body: '{"to":"paid"}' });
    expect(receiver.requests).toHaveLength(0);
    const idle = await fetch(`${sim.url}/__simulator/webhooks/idle`, { method: 'POST' });
    expect(idle.status).toBe(200);
    expect(receiver.requests).toHaveLength(1);
    const log = (await (await fetch(`${sim.url}/__simulator/webhooks`)).json()) as { records: { fate: string; late: boolean }[] };
    expect(log.records).toEqual([expect.objectContaining({ fate: 'delivered', late: true })]);
    expect((await fetch(`${sim.url}/__simulator/webhooks`, { method: 'POST', body: JSON.stringify({ lostRate: 3 }) })).status).toBe(400);
  });

  it('records events without a URL, and rejects a bad setting naming it', async () => {
    const own = await startSimulator();
    try {
      const id = await createLink(own, 'INV-9');
      own.movePayment(id, { to: 'paid' });
      await own.webhooksIdle();
      expect(own.webhooks()).toEqual([expect.objectContaining({ fate: 'no-url', attempts: 0 })]);
      expect(() => own.setWebhooks({ duplicateRate: 2 })).toThrow(/duplicateRate/);
      expect(() => own.setWebhooks({ url: 'ftp://x' })).toThrow(/url/);
    } finally {
      await own.close();
    }
  });
});
