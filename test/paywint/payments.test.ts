import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PaywintError } from '../../src/core/errors.js';
import type { PaywintClient } from '../../src/paywint/client.js';
import { literalToCents } from '../../src/paywint/payments.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { simulatorClient } from '../helpers/simulator.js';

const UNKNOWN_ID = '7d3c7d52-4a5e-4f3b-9d61-0f6f7a8b9c0d';

async function failure(promise: Promise<unknown>): Promise<PaywintError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PaywintError);
  return error as PaywintError;
}

describe('PaywintClient payment reads against the simulator', () => {
  let sim: SimulatorHandle;
  let client: PaywintClient;

  beforeAll(async () => {
    sim = await startSimulator();
    client = simulatorClient(sim);
  });
  afterEach(() => {
    sim.setFaults({ errorRate: 0, rateLimitedRate: 0, hangRate: 0, dropRate: 0, badAmountRate: 0 });
    sim.reset();
  });
  afterAll(async () => {
    await client.close();
    await sim.close();
  });

  async function link(invoiceNumber: string, amountCents: number) {
    return client.createPaymentLink({ invoiceNumber, amountCents, description: `Invoice ${invoiceNumber}` });
  }

  it('reads a payment with its exact cents, status and dates as they move', async () => {
    const created = await link('INV-1', 123456789);
    expect(await client.getPayment(created.paymentId)).toEqual({
      paymentId: created.paymentId,
      amountCents: 123456789,
      currency: 'USD',
      description: 'Invoice INV-1',
      status: 'initiated',
      createdAt: sim.ledger()[0]!.createdAt,
      paymentDate: null,
      failureReason: null,
    });
    sim.movePayment(created.paymentId, { to: 'paid', amountCents: 1, paidAt: '2026-12-02T08:30:00.000Z' });
    expect(await client.getPayment(created.paymentId)).toMatchObject({ status: 'success', amountCents: 1, paymentDate: '2026-12-02T08:30:00.000Z' });
    const failed = await link('INV-2', 1005);
    sim.movePayment(failed.paymentId, { to: 'failed', reason: 'Card expired' });
    expect(await client.getPayment(failed.paymentId)).toMatchObject({ status: 'failed', amountCents: 1005, failureReason: 'Card expired', paymentDate: null });
  });

  it('reads data: null as null (not known), never as a payment', async () => {
    expect(await client.getPayment(UNKNOWN_ID)).toBeNull();
  });

  it('refuses an amount finer than a cent as PAYWINT_PROTOCOL, in a get and in a list', async () => {
    const created = await link('INV-3', 15075);
    sim.movePayment(created.paymentId, { to: 'paid' });
    sim.setFaults({ badAmountRate: 1 });
    const error = await failure(client.getPayment(created.paymentId));
    expect(error).toMatchObject({ code: 'PAYWINT_PROTOCOL', retryable: false, outcomeUnknown: false });
    expect(error.message).toContain('150.751');
    expect(await failure(client.listReceivedPayments(1, 10))).toMatchObject({ code: 'PAYWINT_PROTOCOL' });
  });

  it('reads amounts from the JSON literal, never through a float', () => {
    expect(literalToCents('150.75')).toBe(15075);
    expect(literalToCents('150.750')).toBe(15075);
    expect(literalToCents('7')).toBe(700);
    expect(literalToCents('1.5e2')).toBe(15000);
    expect(literalToCents('0.01')).toBe(1);
    // A float would read both as 150.75.
    expect(literalToCents('150.74999999999999999')).toBeUndefined();
    expect(literalToCents('150.755')).toBeUndefined();
    expect(literalToCents('-1')).toBeUndefined();
    expect(literalToCents('1e400')).toBeUndefined();
    expect(literalToCents('90071992547409.92')).toBeUndefined();
  });

  it('maps 401, 429, 5xx and a hang to typed errors, for get and list', async () => {
    const created = await link('INV-4', 100);
    const wrong = simulatorClient(sim, { apiSecret: 'not-the-secret' });
    try {
      expect(await failure(wrong.getPayment(created.paymentId))).toMatchObject({ code: 'PAYWINT_AUTH', status: 401, retryable: false });
      expect(await failure(wrong.listReceivedPayments(1, 10))).toMatchObject({ code: 'PAYWINT_AUTH', status: 401 });
    } finally {
      await wrong.close();
    }
    sim.setFaults({ rateLimitedRate: 1, retryAfterSeconds: 4 });
    expect(await failure(client.getPayment(created.paymentId))).toMatchObject({ code: 'PAYWINT_RATE_LIMITED', status: 429, retryAfterMs: 4000, retryable: true });
    expect(await failure(client.listReceivedPayments(1, 20))).toMatchObject({ code: 'PAYWINT_RATE_LIMITED' });
    sim.setFaults({ rateLimitedRate: 0, errorRate: 1 });
    const server = await failure(client.getPayment(created.paymentId));
    expect(server).toMatchObject({ code: 'PAYWINT_SERVER_ERROR', retryable: true, outcomeUnknown: false });
    expect([500, 503]).toContain(server.status);
    expect(await failure(client.listReceivedPayments(1, 50))).toMatchObject({ code: 'PAYWINT_SERVER_ERROR' });

    sim.setFaults({ errorRate: 0, hangRate: 1 });
    const quick = simulatorClient(sim, { timeoutMs: 300 });
    try {
      // A read creates nothing: a timeout leaves no outcome unknown.
      expect(await failure(quick.getPayment(created.paymentId))).toMatchObject({ code: 'PAYWINT_TIMEOUT', retryable: true, outcomeUnknown: false });
      expect(await failure(quick.listReceivedPayments(1, 10))).toMatchObject({ code: 'PAYWINT_TIMEOUT', outcomeUnknown: false });
    } finally {
      await quick.close();
    }
  });

  it('pages the received payments to the end, each paid payment once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 25; i += 1) ids.push((await link(`INV-${i}`, 1000 + i)).paymentId);
    for (const id of ids.slice(0, 23)) sim.movePayment(id, { to: 'paid' });

    const seen: string[] = [];
    let total = -1;
    for (let page = 1; ; page += 1) {
      const answer = await client.listReceivedPayments(page, 10);
      total = answer.totalRecords;
      if (answer.records.length === 0) break;
      for (const record of answer.records) {
        expect(record.status).toBe('success');
        expect(record.amountCents).toBe(1000 + ids.indexOf(record.paymentId));
        seen.push(record.paymentId);
      }
    }
    expect(total).toBe(23);
    expect(seen).toEqual(ids.slice(0, 23).reverse());
    await expect(client.listReceivedPayments(0, 10)).rejects.toThrow(/pageNo/);
    await expect(client.listReceivedPayments(1, 30 as 10)).rejects.toThrow(/rowsPerPage/);
  });

  it('awaits the beforeRequest hook before each read (the shared rate limit)', async () => {
    const created = await link('INV-5', 100);
    const before = sim.stats().requests;
    let calls = 0;
    const beforeRequest = async () => {
      calls += 1;
      // The request must not have left yet.
      expect(sim.stats().requests).toBe(before + calls - 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await client.getPayment(created.paymentId, { beforeRequest });
    await client.listReceivedPayments(1, 10, { beforeRequest });
    expect(calls).toBe(2);
    expect(sim.stats().requests).toBe(before + 2);
  });
});
