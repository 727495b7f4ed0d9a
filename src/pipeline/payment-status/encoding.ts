/**
 * The stored form of the payment index: where a payment id's record lives
 * (bucket and field) and the record itself (its invoice number, and for the
 * ledger's own payment id, the invoice's payment status).
 *
 * Why this shape (measured in bench/payment-status-bench.ts; docs/payments.md):
 * - One record per payment id, in hashes of about 60 records each
 *   ({@link BUCKETS} buckets): small enough to stay listpack-encoded, where a
 *   field and its value cost their bytes plus about 2 each, against about 70
 *   bytes of overhead per entry in a hashtable-encoded hash.
 * - The bucket comes from the payment id's first 14 bits, the field is its
 *   next 48 bits (8 base64url characters), not the whole id: 62 bits tell
 *   ids apart; two ids that share them both (about one in 10^7 at a million
 *   links) are told apart by the collision hash the index also keeps.
 * - The status is fixed fields joined by the unit separator (compact.ts),
 *   numbers in base 64, times in seconds since 2020, the payment date as its
 *   distance from the confirmation: `INV-0000001␟pBc9Xa␟f` (an invoice paid in
 *   full by webhook, 40 s before we read it) is 20 bytes; the amount is kept
 *   only when it is not the invoice's.
 */
import { joinFields, packId, splitFields, unpackId } from '../compact.js';
import type { Keys } from '../keys.js';
import type { ConfirmedBy, PaymentState, PaymentStatus } from './model.js';

/** Buckets per account (2^14): about 61 records each at a million links, below Redis's default listpack limit of 128. */
export const BUCKETS = 16_384;
/** Failure reasons are kept to this many characters (Redis's listpack value limit is 64 bytes). */
export const MAX_REASON_CHARS = 32;

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DIGIT_VALUE = new Map([...DIGITS].map((c, i) => [c, i]));
/** 2020-01-01T00:00:00Z, seconds. */
const EPOCH_S = 1_577_836_800;

/** A whole number in base 64 (`!` before a negative one). */
export function pack64(n: number): string {
  if (n < 0) return `!${pack64(-n)}`;
  let out = '';
  do {
    out = DIGITS[n % 64]! + out;
    n = Math.floor(n / 64);
  } while (n > 0);
  return out;
}

export function unpack64(s: string): number {
  if (s.startsWith('!')) return -unpack64(s.slice(1));
  let n = 0;
  for (const c of s) n = n * 64 + (DIGIT_VALUE.get(c) ?? 0);
  return n;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Where a payment id's record lives: its bucket (0 to BUCKETS - 1), its field there, and its packed form. */
export interface IndexSlot {
  bucket: number;
  field: string;
  packed: string;
}

export function slotOf(paymentId: string): IndexSlot {
  return slotOfPacked(packId(paymentId));
}

export function slotOfPacked(packed: string): IndexSlot {
  if (packed.startsWith('~') || packed.length !== 22) return { bucket: fnv1a(packed) % BUCKETS, field: packed, packed };
  const v = (i: number) => DIGIT_VALUE.get(packed[i]!) ?? 0;
  return { bucket: (v(0) << 8) | (v(1) << 2) | (v(2) >> 4), field: packed.slice(3, 11), packed };
}

const STATE_LETTER: Record<PaymentState, string> = { unpaid: 'u', opened: 'o', processing: 's', paid: 'p', failed: 'f', rejected: 'r', expired: 'e' };
const LETTER_STATE = new Map(Object.entries(STATE_LETTER).map(([s, l]) => [l, s as PaymentState]));

/** A record: the invoice number alone, or with the status (see the module's notes). */
export function encodeRecord(invoiceNumber: string, status: PaymentStatus | null, ownPaymentId?: string, invoiceAmountCents?: number): string {
  if (status === null || status.confirmedAt === null) return joinFields([invoiceNumber]);
  const confirmedS = Math.floor(Date.parse(status.confirmedAt) / 1000);
  const letter = STATE_LETTER[status.state];
  const head = `${status.confirmedBy === 'sweep' ? letter.toUpperCase() : letter}${pack64(confirmedS - EPOCH_S)}`;
  const paid = status.paidAt === null ? '' : pack64(confirmedS - Math.floor(Date.parse(status.paidAt) / 1000));
  // Paid in full (the usual case) is the empty field: the invoice's amount is in the ledger.
  const amount = status.amountPaidCents === null || status.amountPaidCents === invoiceAmountCents ? '' : pack64(status.amountPaidCents);
  const reason = status.failureReason === null ? '' : status.failureReason.slice(0, MAX_REASON_CHARS);
  const current = ownPaymentId === undefined || status.paymentId === ownPaymentId ? '' : packId(status.paymentId);
  const fields = [invoiceNumber, head, paid, amount, reason, current];
  while (fields.length > 2 && fields[fields.length - 1] === '') fields.pop();
  return joinFields(fields);
}

/** The invoice and state of a record, from its first letters only (for scans over many records). */
export function stateOfRecord(raw: string): { invoiceNumber: string; state: PaymentState } {
  const [invoiceNumber = '', head = ''] = splitFields(raw);
  return { invoiceNumber, state: head === '' ? 'unpaid' : (LETTER_STATE.get(head[0]!.toLowerCase()) ?? 'unpaid') };
}

export interface DecodedRecord {
  invoiceNumber: string;
  /** Null when nothing was heard of the payment. */
  status: PaymentStatus | null;
}

/**
 * Reads a record written by {@link encodeRecord}; `ownPaymentId` is the
 * payment id it is stored under, `invoiceAmountCents` the ledger's amount.
 */
export function decodeRecord(raw: string, ownPaymentId: string, invoiceAmountCents?: number): DecodedRecord {
  const [invoiceNumber = '', head = '', paid = '', amount = '', reason = '', current = ''] = splitFields(raw);
  if (head === '') return { invoiceNumber, status: null };
  const letter = head[0]!;
  const state = LETTER_STATE.get(letter.toLowerCase()) ?? 'unpaid';
  const confirmedS = unpack64(head.slice(1)) + EPOCH_S;
  const by: ConfirmedBy = letter === letter.toUpperCase() ? 'sweep' : 'webhook';
  return {
    invoiceNumber,
    status: {
      state,
      paymentId: current === '' ? ownPaymentId : unpackId(current),
      amountPaidCents: amount !== '' ? unpack64(amount) : state === 'paid' ? (invoiceAmountCents ?? null) : null,
      paidAt: paid === '' ? null : new Date((confirmedS - unpack64(paid)) * 1000).toISOString(),
      failureReason: reason === '' ? null : reason,
      confirmedAt: new Date(confirmedS * 1000).toISOString(),
      confirmedBy: by,
    },
  };
}

/** The keys of an account's payment index, for the scripts that write the ledger and index a link in the same step. */
export interface PaymentIndexKeys {
  metaKey: string;
  bucketKey(bucket: number): string;
}

export function paymentIndexKeys(keys: Keys, account: string): PaymentIndexKeys {
  return { metaKey: keys.paymentMeta(account), bucketKey: (bucket) => keys.paymentBucket(account, bucket) };
}
