/**
 * Paywint's payment reads: what `GET /payment/get/{payment_id}` and
 * `POST /payment/list/payment-received` answer, read into
 * {@link PaywintPayment}s. The client (`client.ts`) sends the requests on its
 * one request path; this module builds them and reads the answers.
 *
 * Amounts are read from the JSON text itself, never through a float: the
 * literal `150.75` becomes 15075 cents, and an amount with more than two
 * decimals (`150.755`, or `150.74999999999999999` that a float would read as
 * 150.75) is a `PAYWINT_PROTOCOL` error, never rounded.
 */
import { z } from 'zod';
import { describeIssue, isSuccess, protocolError, statusError, type Answer } from './outcomes.js';

/** One payment as Paywint reports it (the fields paylinks uses). */
export interface PaywintPayment {
  paymentId: string;
  /** Exact whole cents of Paywint's `amount` (dollars in the JSON). */
  amountCents: number;
  currency: string;
  description: string | null;
  /** Raw, as Paywint says it (`initiated`, `success`, ...; not enumerated by Paywint: keep unknown ones). */
  status: string;
  /** As Paywint wrote it (ISO 8601 by the contract). */
  createdAt: string;
  paymentDate: string | null;
  failureReason: string | null;
}

/** Page sizes the list endpoint accepts. */
export type RowsPerPage = 10 | 20 | 50 | 100;
export const ROWS_PER_PAGE: readonly RowsPerPage[] = [10, 20, 50, 100];

export interface ReceivedPaymentsPage {
  records: PaywintPayment[];
  /** All received payments, every page together. */
  totalRecords: number;
}

export const GET_PAYMENT_PATH = '/api/user-api/payment/get/';
export const LIST_RECEIVED_PATH = '/api/user-api/payment/list/payment-received';

/** Marks an amount literal turned into a string before `JSON.parse`, so that a string sent by Paywint is still told apart. */
const LITERAL_MARK = '\u0000n:';
/** The same, as written inside a JSON string (a raw control character is not valid JSON). */
const LITERAL_MARK_JSON = '\\u0000n:';
/** `"amount": <number literal>` as a key (a quote inside a string value is escaped, so cannot start this match). */
const AMOUNT_LITERAL = /"amount"(\s*):(\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
/** Beyond this a number of cents is no longer exact in a double. */
const MAX_CENTS = Number.MAX_SAFE_INTEGER;

const PaymentData = z.object({
  payment_id: z.guid(),
  amount: z.string().startsWith(LITERAL_MARK, 'expected a JSON number'),
  currency: z.string(),
  description: z.string().nullish(),
  status: z.string().min(1),
  created_at: z.string().min(1),
  payment_date: z.string().nullish(),
  failure_reason: z.string().nullish(),
});
const GetEnvelope = z.object({
  success: z.boolean().default(true),
  message: z.string().nullish().catch(undefined),
  data: z.unknown().optional(),
});
const ListBody = z.object({
  success: z.boolean().default(true),
  message: z.string().nullish().catch(undefined),
  records: z.array(z.unknown()),
  totalRecords: z.number().int().min(0),
});

/** The path of one payment. */
export function paymentPath(paymentId: string): string {
  return `${GET_PAYMENT_PATH}${encodeURIComponent(paymentId)}`;
}

/** The list request's body; throws a `RangeError` naming a bad page. */
export function listBody(pageNo: number, rowsPerPage: RowsPerPage): string {
  if (!Number.isSafeInteger(pageNo) || pageNo < 1) throw new RangeError(`pageNo: expected a whole number from 1, got ${String(pageNo)}`);
  if (!ROWS_PER_PAGE.includes(rowsPerPage)) throw new RangeError(`rowsPerPage: expected 10, 20, 50 or 100, got ${String(rowsPerPage)}`);
  return JSON.stringify({ rows_per_page: rowsPerPage, page_no: pageNo });
}

/** The answer of `GET get/{id}`: the payment, or null for `data: null` ("not known", never paid). Throws `PaywintError`. */
export function readPaymentAnswer(answer: Answer): PaywintPayment | null {
  if (!isSuccess(answer.status)) throw statusError(answer, false);
  const envelope = GetEnvelope.safeParse(parseMarked(answer));
  if (!envelope.success) throw protocolError(answer.status, `a body of an unknown shape (${describeIssue(envelope.error)})`, undefined, false);
  const { success, message, data } = envelope.data;
  if (!success) throw protocolError(answer.status, 'success: false', message, false);
  if (data === null || data === undefined) return null;
  return toPayment(answer.status, data, message, 'data');
}

/** The answer of `POST list/payment-received`. Throws `PaywintError`. */
export function readListAnswer(answer: Answer): ReceivedPaymentsPage {
  if (!isSuccess(answer.status)) throw statusError(answer, false);
  const body = ListBody.safeParse(parseMarked(answer));
  if (!body.success) throw protocolError(answer.status, `a list of an unknown shape (${describeIssue(body.error)})`, undefined, false);
  if (!body.data.success) throw protocolError(answer.status, 'success: false', body.data.message, false);
  return {
    records: body.data.records.map((record, i) => toPayment(answer.status, record, body.data.message, `records.${i}`)),
    totalRecords: body.data.totalRecords,
  };
}

function toPayment(status: number, value: unknown, message: string | null | undefined, where: string): PaywintPayment {
  const parsed = PaymentData.safeParse(value);
  if (!parsed.success) throw protocolError(status, `a payment that is not usable (${where}.${describeIssue(parsed.error)})`, message, false);
  const p = parsed.data;
  const literal = p.amount.slice(LITERAL_MARK.length);
  const cents = literalToCents(literal);
  if (cents === undefined) {
    throw protocolError(status, `a payment amount that is not whole cents (${where}.amount: ${literal.slice(0, 40)})`, message, false);
  }
  return {
    paymentId: p.payment_id.toLowerCase(),
    amountCents: cents,
    currency: p.currency,
    description: p.description ?? null,
    status: p.status,
    createdAt: p.created_at,
    paymentDate: p.payment_date ?? null,
    failureReason: p.failure_reason ?? null,
  };
}

/** The body parsed as JSON with every `amount` number kept as its literal (marked). */
function parseMarked(answer: Answer): unknown {
  const text = (answer.text ?? '').replace(AMOUNT_LITERAL, (_m, a: string, b: string, literal: string) => `"amount"${a}:${b}"${LITERAL_MARK_JSON}${literal}"`);
  try {
    return JSON.parse(text);
  } catch {
    throw protocolError(answer.status, 'a body that is not JSON', undefined, false);
  }
}

/**
 * A JSON number literal as exact whole cents, with no float on the way;
 * undefined when negative, finer than a cent or too large to be exact.
 */
export function literalToCents(literal: string): number | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m || m[1] === '-') return undefined;
  const exponent = Number(m[4] ?? 0);
  if (Math.abs(exponent) > 400) return undefined;
  const digits = `${m[2]}${m[3] ?? ''}`;
  const shift = exponent - (m[3]?.length ?? 0) + 2;
  let cents: bigint;
  if (shift >= 0) {
    cents = BigInt(digits) * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    const whole = BigInt(digits);
    if (whole % divisor !== 0n) return undefined;
    cents = whole / divisor;
  }
  return cents <= BigInt(MAX_CENTS) ? Number(cents) : undefined;
}
