/**
 * The answers of Paywint's payment endpoints (create, get, list), in the
 * contract's envelope, from the simulator's ledger and payment book. Faults, latency and
 * authentication are the server's business, not these functions'.
 */
import type { SimulatorLedger } from './ledger.js';
import { centsToDollars, type PaymentBook, type SimulatorPayment } from './payments.js';
import { checkPaymentId, validateCreate, validateList } from './validation.js';

/** An HTTP status and the JSON body to send with it. */
export interface Answer {
  status: number;
  body: unknown;
}

/** `POST create-payment-link`: a new ledger entry when the body is valid (and only then a 200), else 422. */
export function createPaymentLink(ledger: SimulatorLedger, contentType: string | undefined, body: string): Answer {
  const input = validateCreate(contentType, body);
  if (Array.isArray(input)) return { status: 422, body: { detail: input } };
  const entry = ledger.create(input);
  return { status: 200, body: envelope('Payment link created', { payment_id: entry.paymentId, payment_link: entry.paymentLink }) };
}

/** `GET get/{payment_id}`: the payment, or `data: null` for an id Paywint never made (the contract's "not known"). */
export function getPayment(payments: PaymentBook, id: string, badAmount: () => boolean): Answer {
  const invalid = checkPaymentId(id);
  if (invalid !== undefined) return { status: 422, body: { detail: [invalid] } };
  const payment = payments.find(id.toLowerCase());
  if (payment === undefined) return { status: 200, body: envelope('Payment not found', null) };
  return { status: 200, body: envelope('Payment fetched', paymentRead(payment, badAmount)) };
}

/** `POST list/payment-received`: one page of the payments received (paid), newest first, in the documented shape. */
export function listPayments(payments: PaymentBook, contentType: string | undefined, body: string, badAmount: () => boolean): Answer {
  const page = validateList(contentType, body);
  if (Array.isArray(page)) return { status: 422, body: { detail: page } };
  const { total, payments: records } = payments.receivedPage(page.pageNo, page.rowsPerPage);
  return {
    status: 200,
    body: { success: true, status_code: 200, message: 'Payments fetched', records: records.map((p) => paymentRead(p, badAmount)), totalRecords: total, queryGeneratedTime: Date.now() / 1000 },
  };
}

function envelope(message: string, data: unknown): unknown {
  return { success: true, message, data, queryGeneratedTime: Date.now() / 1000 };
}

/** `badAmount` is the fault draw: an amount a tenth of a cent off, which a client must refuse rather than round. */
function paymentRead(payment: SimulatorPayment, badAmount: () => boolean): Record<string, unknown> {
  const read: Record<string, unknown> = {
    payment_id: payment.paymentId,
    payer_id: null,
    payer_name: payment.paymentDate === null ? null : 'Simulated Payer',
    payee_id: null,
    payee_name: 'Simulated Merchant',
    amount: badAmount() ? (payment.amountCents * 10 + 1) / 1000 : centsToDollars(payment.amountCents),
    currency: 'USD',
    description: payment.description,
    payment_method: 'WALLET',
    receiving_method: 'WALLET',
    created_at: payment.createdAt,
    payment_date: payment.paymentDate,
    status: payment.status,
    failure_reason: payment.failureReason,
  };
  // Undocumented: how Paywint ties a retried payment to the one it replaced. The simulator says it here.
  if (payment.previousPaymentId !== null) read.previous_payment_id = payment.previousPaymentId;
  if (payment.nextPaymentId !== null) read.next_payment_id = payment.nextPaymentId;
  return read;
}
