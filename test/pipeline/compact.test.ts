/**
 * What paylinks keeps per invoice and per row, in compact form: every value
 * round-trips exactly (odd ones included), old JSON ledger entries still
 * read, and the common case is as small as promised.
 */
import { describe, expect, it } from 'vitest';
import { decodeResult, encodeResult } from '../../src/pipeline/batch-codec.js';
import { decodeLedgerEntry, encodeLedgerEntry, type LedgerEntry } from '../../src/pipeline/ledger.js';
import type { RowResult } from '../../src/pipeline/output.js';

const ID = '8f14e45f-ceea-467f-a0e6-3b2a1c0d9e8f';
const entry: LedgerEntry = {
  paymentId: ID,
  paymentLink: `https://pay.sandbox.paywint.com/l/${ID}`,
  amountCents: 123_456,
  description: 'Bench invoice 123456',
  batchId: '20261125T030457-a1b2c3',
  row: 999_999,
  createdAt: '2026-11-25T03:05:00.123Z',
};

describe('ledger entries', () => {
  it('round-trip, and a Paywint link with a 20-character description takes under 100 bytes', () => {
    const raw = encodeLedgerEntry(entry);
    expect(decodeLedgerEntry(raw)).toEqual(entry);
    expect(Buffer.byteLength(raw)).toBeLessThan(100);
    expect(Buffer.byteLength(raw)).toBeLessThan(JSON.stringify(entry).length / 2);
  });

  it('round-trip odd values: no description, an empty one, a link elsewhere, a non-UUID id, a foreign batch id, separators in the text', () => {
    const odd: LedgerEntry[] = [
      { ...entry, description: null },
      { ...entry, description: '' },
      { ...entry, paymentLink: `https://links.example/pay/${ID}` },
      { ...entry, paymentId: 'PAY-42', paymentLink: 'https://pay.example/x?id=PAY-42' },
      { ...entry, paymentId: ID.toUpperCase(), paymentLink: `https://pay.paywint.com/l/${ID.toUpperCase()}` },
      { ...entry, batchId: 'imported-2025', description: 'a\x1fb [c]' },
      { ...entry, description: '[starts like JSON' },
    ];
    for (const e of odd) expect(decodeLedgerEntry(encodeLedgerEntry(e))).toEqual(e);
  });

  it('reads entries written as JSON by earlier versions', () => {
    expect(decodeLedgerEntry(JSON.stringify(entry))).toEqual(entry);
  });
});

describe('row results', () => {
  it('round-trip every status, and a created row takes under 32 bytes', () => {
    const results: RowResult[] = [
      { status: 'created', paymentId: ID, paymentLink: entry.paymentLink, errorCode: null, errorMessage: null, attempts: 1 },
      { status: 'created', paymentId: ID, paymentLink: entry.paymentLink, errorCode: 'POSSIBLE_DUPLICATE_LINK', errorMessage: '1 earlier request(s)…', attempts: 3 },
      { status: 'exists', paymentId: 'p-1', paymentLink: 'https://pay.example/p-1', errorCode: null, errorMessage: null, attempts: 0 },
      { status: 'invalid', paymentId: null, paymentLink: null, errorCode: 'INVALID_AMOUNT', errorMessage: 'the amount "abc" is not a number', attempts: 0 },
      { status: 'duplicate', paymentId: null, paymentLink: null, errorCode: 'DUPLICATE_INVOICE', errorMessage: 'same as line 2', attempts: 0 },
      { status: 'conflict', paymentId: null, paymentLink: null, errorCode: 'LEDGER_CONFLICT', errorMessage: 'x', attempts: 0 },
      { status: 'failed', paymentId: null, paymentLink: null, errorCode: 'PAYWINT_SERVER_ERROR', errorMessage: 'Paywint said\x1f"no"', attempts: 12 },
    ];
    for (const r of results) expect(decodeResult(encodeResult(r))).toEqual(r);
    expect(Buffer.byteLength(encodeResult(results[0]!))).toBeLessThan(32);
  });
});
