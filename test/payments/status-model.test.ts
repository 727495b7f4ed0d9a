/** The status merge and the record encoding, pure: order independence, precedence, exceptions noted. */
import { describe, expect, it } from 'vitest';
import { mergeStatus, stateOf, stateOfEvent, unpaidStatus, type Observation, type PaymentState, type PaymentStatus } from '../../src/pipeline/payment-status/model.js';
import { decodeRecord, encodeRecord, pack64, slotOf, unpack64 } from '../../src/pipeline/payment-status/encoding.js';

const ID = '0b7e2c1a-4d5f-4e6a-9b8c-7d6e5f4a3b2c';
const T0 = Date.parse('2026-12-07T10:00:00Z');

function obs(state: PaymentState, atS: number, extra: Partial<Observation> = {}): Observation {
  return { state, paymentId: ID, amountCents: state === 'paid' ? 15075 : null, paidAt: state === 'paid' ? '2026-12-07T09:59:30.000Z' : null, failureReason: state === 'failed' ? 'card declined' : null, observedAtMs: T0 + atS * 1000, by: 'webhook', ...extra };
}

function fold(list: Observation[]): { status: PaymentStatus; notes: string[] } {
  let status = unpaidStatus(ID);
  const notes: string[] = [];
  for (const o of list) {
    const r = mergeStatus(status, o);
    status = r.status;
    if (r.note) notes.push(r.note);
  }
  return { status, notes };
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('mergeStatus', () => {
  it('ends in the last state read whatever order the answers are merged in (opened, processing, paid)', () => {
    const answers = [obs('opened', 1), obs('processing', 2), obs('paid', 3)];
    for (const order of permutations(answers)) {
      const { status, notes } = fold(order);
      expect(status.state).toBe('paid');
      expect(status.amountPaidCents).toBe(15075);
      expect(status.confirmedAt).toBe('2026-12-07T10:00:03.000Z');
      expect(notes).toEqual([]);
    }
  });

  it('never lets a later processing undo paid, and notes a newer contradicting answer', () => {
    const paid = fold([obs('paid', 5)]).status;
    expect(mergeStatus(paid, obs('processing', 1))).toMatchObject({ changed: false, status: { state: 'paid' } });
    const later = mergeStatus(paid, obs('failed', 9));
    expect(later.status.state).toBe('paid');
    expect(later.note).toBe('contradiction');
  });

  it('records paid after expiry as paid with an exception note', () => {
    const r = mergeStatus(fold([obs('expired', 1)]).status, obs('paid', 2));
    expect(r.status.state).toBe('paid');
    expect(r.note).toBe('paid-after-expiry');
  });

  it('a failed payment read later as processing moves on (retried by the payer); an older read changes nothing', () => {
    const failed = fold([obs('failed', 5)]).status;
    expect(failed.failureReason).toBe('card declined');
    expect(mergeStatus(failed, obs('processing', 3)).changed).toBe(false);
    expect(mergeStatus(failed, obs('processing', 7)).status.state).toBe('processing');
  });

  it('ignores answers for a payment id that is no longer current unless they say paid', () => {
    const current = { ...unpaidStatus('1b7e2c1a-4d5f-4e6a-9b8c-7d6e5f4a3b2c') };
    expect(mergeStatus(current, obs('failed', 1)).changed).toBe(false);
  });
});

describe('raw statuses', () => {
  it('maps Paywint statuses and events; unknown ones are undefined, never paid', () => {
    expect(stateOf('success')).toBe('paid');
    expect(stateOf('SUCCESS')).toBe('paid');
    expect(stateOf('initiated')).toBe('unpaid');
    expect(stateOf('refunded')).toBeUndefined();
    expect(stateOfEvent('payment.success')).toBe('paid');
    expect(stateOfEvent('payment.expired')).toBe('expired');
    expect(stateOfEvent('invoice.success')).toBeUndefined();
  });
});

describe('record encoding', () => {
  it('round-trips a status, and a paid one by webhook is at most 22 bytes with an 11-character invoice number', () => {
    const { status } = fold([obs('opened', 1), obs('paid', 3)]);
    const raw = encodeRecord('INV-0000001', status, ID, 15075);
    expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(22);
    expect(decodeRecord(raw, ID, 15075)).toEqual({ invoiceNumber: 'INV-0000001', status: { ...status, paidAt: '2026-12-07T09:59:30.000Z' } });
    const partial = encodeRecord('INV-0000001', { ...status, amountPaidCents: 100 }, ID, 15075);
    expect(decodeRecord(partial, ID, 15075).status?.amountPaidCents).toBe(100);
    expect(encodeRecord('INV-0000001', null)).toBe('INV-0000001');
    expect(decodeRecord('INV-0000001', ID)).toEqual({ invoiceNumber: 'INV-0000001', status: null });
  });

  it('keeps a retried payment id, a failure reason, the sweep as confirmer, and odd invoice numbers', () => {
    const other = '9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f';
    const status: PaymentStatus = { state: 'failed', paymentId: other, amountPaidCents: null, paidAt: null, failureReason: 'insufficient funds', confirmedAt: '2026-12-07T10:00:00.000Z', confirmedBy: 'sweep' };
    const invoice = 'A\x1fB';
    expect(decodeRecord(encodeRecord(invoice, status, ID), ID)).toEqual({ invoiceNumber: invoice, status });
  });

  it('base 64 numbers and slots are stable', () => {
    for (const n of [0, 1, 63, 64, 4095, 15075, 2 ** 40, -5]) expect(unpack64(pack64(n))).toBe(n);
    const slot = slotOf(ID);
    expect(slot.field).toHaveLength(8);
    expect(slot.bucket).toBeGreaterThanOrEqual(0);
    expect(slot.bucket).toBeLessThan(16_384);
    expect(slotOf('not-a-uuid').field).toBe('~not-a-uuid');
  });
});
