import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle, type SimulatorPayment } from '../../src/paywint/simulator/index.js';
import { callSimulator } from '../helpers/simulator.js';

const CREATE = '/api/user-api/payment/create-payment-link';
const GET = '/api/user-api/payment/get/';
const LIST = '/api/user-api/payment/list/payment-received';
const UNKNOWN_ID = '7d3c7d52-4a5e-4f3b-9d61-0f6f7a8b9c0d';

async function createLink(sim: SimulatorHandle, invoice: string, amount = 150.75): Promise<string> {
  const answer = await callSimulator(sim, CREATE, { body: JSON.stringify({ amount, description: `Invoice ${invoice}`, invoice_number: invoice }) });
  expect(answer.status).toBe(200);
  return (answer.json as { data: { payment_id: string } }).data.payment_id;
}

async function control(sim: SimulatorHandle, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${sim.url}/__simulator/${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

function list(sim: SimulatorHandle, pageNo: number, rows = 10) {
  return callSimulator(sim, LIST, { body: JSON.stringify({ rows_per_page: rows, page_no: pageNo }) });
}

describe('simulator payments', () => {
  let sim: SimulatorHandle;

  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterEach(() => {
    sim.setFaults({ errorRate: 0, rateLimitedRate: 0, hangRate: 0, dropRate: 0 });
    sim.reset();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers GET with the documented payment, data: null for an unknown id, 422 for a bad id, 401 without credentials', async () => {
    const id = await createLink(sim, 'INV-1');
    const found = await callSimulator(sim, `${GET}${id}`, { method: 'GET' });
    expect(found.status).toBe(200);
    expect(found.json).toMatchObject({
      success: true,
      data: { payment_id: id, amount: 150.75, currency: 'USD', description: 'Invoice INV-1', status: 'initiated', payment_date: null, failure_reason: null },
    });
    expect(Date.parse((found.json as { data: { created_at: string } }).data.created_at)).not.toBeNaN();

    expect(await callSimulator(sim, `${GET}${UNKNOWN_ID}`, { method: 'GET' })).toMatchObject({ status: 200, json: { success: true, data: null } });
    expect(await callSimulator(sim, `${GET}abc`, { method: 'GET' })).toMatchObject({ status: 422, json: { detail: [{ type: 'uuid_parsing', loc: ['path', 'payment_id'] }] } });
    expect((await fetch(`${sim.url}${GET}${id}`)).status).toBe(401);
    expect((await fetch(`${sim.url}${LIST}`, { method: 'POST', body: '{"rows_per_page":10,"page_no":1}' })).status).toBe(401);
  });

  it('moves a link through its states, GET reporting each one', async () => {
    const id = await createLink(sim, 'INV-2');
    const status = async () => ((await callSimulator(sim, `${GET}${id}`, { method: 'GET' })).json as { data: Record<string, unknown> }).data;

    expect(await control(sim, `payments/${id}`, { to: 'opened' })).toMatchObject({ status: 200, json: { status: 'opened' } });
    expect(await status()).toMatchObject({ status: 'opened' });
    await control(sim, `payments/${id}`, { to: 'processing' });
    expect(await status()).toMatchObject({ status: 'processing', payment_date: null });
    expect(await control(sim, `payments/${id}`, { to: 'paid', amountCents: 15000, paidAt: '2026-12-01T10:00:00.000Z' })).toMatchObject({ status: 200 });
    expect(await status()).toMatchObject({ status: 'success', amount: 150, payment_date: '2026-12-01T10:00:00.000Z' });

    const other = await createLink(sim, 'INV-3');
    await control(sim, `payments/${other}`, { to: 'failed', reason: 'Insufficient funds' });
    expect(sim.payments().find((p) => p.paymentId === other)).toMatchObject({ status: 'failed', failureReason: 'Insufficient funds', amountCents: 15075 });
    const third = await createLink(sim, 'INV-4');
    sim.movePayment(third, { to: 'rejected' });
    const fourth = await createLink(sim, 'INV-5');
    sim.movePayment(fourth, { to: 'expired' });
    expect(sim.payments().map((p) => [p.invoiceNumber, p.status])).toEqual([
      ['INV-2', 'success'],
      ['INV-3', 'failed'],
      ['INV-4', 'rejected'],
      ['INV-5', 'expired'],
    ]);
  });

  it('refuses bad moves: unknown payment 404, unknown state or bad amount 400', async () => {
    const id = await createLink(sim, 'INV-6');
    expect((await control(sim, `payments/${UNKNOWN_ID}`, { to: 'paid' })).status).toBe(404);
    expect((await control(sim, `payments/${id}`, { to: 'refunded' })).status).toBe(400);
    expect((await control(sim, `payments/${id}`, { to: 'paid', amountCents: 1.5 })).status).toBe(400);
    expect((await control(sim, `payments/${id}`, { to: 'paid', paidAt: 'yesterday' })).status).toBe(400);
    expect(sim.payments()[0]).toMatchObject({ status: 'initiated' });
  });

  it('retries a payment: the old one says retried, a new id on the same link starts over', async () => {
    const id = await createLink(sim, 'INV-7');
    const { json } = await control(sim, `payments/${id}`, { to: 'retry' });
    const next = json as SimulatorPayment;
    expect(next.paymentId).not.toBe(id);
    expect(next).toMatchObject({ status: 'initiated', previousPaymentId: id, invoiceNumber: 'INV-7', linkAmountCents: 15075 });
    const oldRead = await callSimulator(sim, `${GET}${id}`, { method: 'GET' });
    expect(oldRead.json).toMatchObject({ data: { status: 'retried', next_payment_id: next.paymentId } });
    const newRead = await callSimulator(sim, `${GET}${next.paymentId}`, { method: 'GET' });
    expect(newRead.json).toMatchObject({ data: { status: 'initiated', previous_payment_id: id, amount: 150.75 } });
    sim.movePayment(next.paymentId, { to: 'paid' });
    expect(sim.payments().map((p) => [p.paymentId, p.status])).toEqual([
      [id, 'retried'],
      [next.paymentId, 'success'],
    ]);
    expect(sim.ledger()).toHaveLength(1);
  });

  it('lists received payments only, newest first, paged in the documented shape', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 13; i += 1) ids.push(await createLink(sim, `INV-${i}`, 10 + i));
    for (const id of ids.slice(0, 12)) sim.movePayment(id, { to: 'paid' });
    sim.movePayment(ids[12]!, { to: 'opened' });

    const first = await list(sim, 1);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ success: true, status_code: 200, totalRecords: 12 });
    const ids1 = (first.json as { records: { payment_id: string }[] }).records.map((r) => r.payment_id);
    const ids2 = ((await list(sim, 2)).json as { records: { payment_id: string }[] }).records.map((r) => r.payment_id);
    expect(ids1).toEqual(ids.slice(2, 12).reverse());
    expect(ids2).toEqual(ids.slice(0, 2).reverse());
    expect(((await list(sim, 3)).json as { records: unknown[] }).records).toEqual([]);

    // A payment that leaves `success` leaves the list.
    sim.movePayment(ids[11]!, { to: 'failed' });
    expect((await list(sim, 1)).json).toMatchObject({ totalRecords: 11 });
    const bad = await callSimulator(sim, LIST, { body: JSON.stringify({ rows_per_page: 7, page_no: 0 }) });
    expect(bad).toMatchObject({ status: 422, json: { detail: [{ loc: ['body', 'rows_per_page'] }, { loc: ['body', 'page_no'] }] } });
  });

  it('makes a stray link behind paylinks back: in the ledger, marked stray, payable', async () => {
    const { status, json } = await control(sim, 'stray', { amountCents: 4200, description: 'Invoice INV-9', invoiceNumber: 'INV-9' });
    expect(status).toBe(200);
    const stray = json as { paymentId: string; amount: string };
    expect(stray.amount).toBe('42.00');
    expect(sim.stats().requests).toBe(0);
    sim.movePayment(stray.paymentId, { to: 'paid' });
    expect(sim.payments()).toEqual([expect.objectContaining({ paymentId: stray.paymentId, stray: true, status: 'success', amountCents: 4200 })]);
    expect((await list(sim, 1)).json).toMatchObject({ totalRecords: 1, records: [{ payment_id: stray.paymentId, amount: 42 }] });
    expect((await control(sim, 'stray', { amountCents: -1 })).status).toBe(400);
  });

  it('applies the same faults to the reads as to create', async () => {
    const id = await createLink(sim, 'INV-10');
    sim.setFaults({ rateLimitedRate: 1, retryAfterSeconds: 3 });
    const limited = await callSimulator(sim, `${GET}${id}`, { method: 'GET' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    sim.setFaults({ rateLimitedRate: 0, errorRate: 1 });
    expect([500, 503]).toContain((await list(sim, 1)).status);
  });

  it('reset forgets the payments', async () => {
    const id = await createLink(sim, 'INV-11');
    sim.movePayment(id, { to: 'paid' });
    sim.reset();
    expect(sim.payments()).toEqual([]);
    expect((await list(sim, 1)).json).toMatchObject({ totalRecords: 0 });
  });
});

describe('simulator demo payer', () => {
  it('pays a share of the links within the spread, each opened first; off unless asked', async () => {
    const demo = await startSimulator({ demoPayer: { paidShare: 0.5, spreadMs: 300, tickMs: 20 }, seed: 7 });
    const quiet = await startSimulator();
    try {
      for (let i = 0; i < 60; i += 1) {
        await createLink(demo, `INV-${i}`);
        await createLink(quiet, `INV-${i}`);
      }
      // Every move is due within 300 ms of the tick that saw its link.
      const deadline = Date.now() + 20_000;
      let settled = '';
      for (let last = ''; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 500))) {
        settled = JSON.stringify(demo.payments().map((p) => p.status));
        if (settled === last) break;
        last = settled;
      }
      const statuses = demo.payments().map((p) => p.status);
      const paid = statuses.filter((s) => s === 'success').length;
      expect(paid).toBeGreaterThanOrEqual(15);
      expect(paid).toBeLessThanOrEqual(45);
      expect(statuses.filter((s) => s === 'initiated').length).toBeGreaterThan(0);
      // Each paid link was opened first: its events in order.
      const events = demo.webhooks().map((r) => r.event);
      for (const p of demo.payments().filter((x) => x.status === 'success')) {
        expect(events.filter((e) => e.data.payment_id === p.paymentId).map((e) => e.event)).toEqual(['payment.opened', 'payment.success']);
      }
      expect(quiet.payments().every((p) => p.status === 'initiated')).toBe(true);
      await expect(startSimulator({ demoPayer: { paidShare: 0.9, openedShare: 0.5 } })).rejects.toThrow(/paidShare: the shares add up to more than 1/);
    } finally {
      await demo.close();
      await quiet.close();
    }
  });
});
