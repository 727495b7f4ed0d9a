/**
 * The answers of Paywint's payment endpoints (create, get, list), in the
 * contract's envelope, from the simulator's ledger. Faults, latency and
 * authentication are the server's business, not these functions'.
 */
import type { LedgerEntry, SimulatorLedger } from './ledger.js';
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

/** `GET get/{payment_id}`. */
export function getPayment(ledger: SimulatorLedger, id: string): Answer {
  const invalid = checkPaymentId(id);
  if (invalid !== undefined) return { status: 422, body: { detail: [invalid] } };
  const entry = ledger.find(id.toLowerCase());
  if (entry === undefined) return { status: 404, body: { detail: 'Payment not found' } };
  return { status: 200, body: envelope('Payment fetched', paymentRead(entry)) };
}

/** `POST list/payment-received`: one page of the ledger. */
export function listPayments(ledger: SimulatorLedger, contentType: string | undefined, body: string): Answer {
  const page = validateList(contentType, body);
  if (Array.isArray(page)) return { status: 422, body: { detail: page } };
  const { total, entries } = ledger.page(page.pageNo, page.rowsPerPage);
  return {
    status: 200,
    body: envelope('Payments fetched', { total_records: total, page_no: page.pageNo, rows_per_page: page.rowsPerPage, records: entries.map(paymentRead) }),
  };
}

function envelope(message: string, data: unknown): unknown {
  return { success: true, message, data, queryGeneratedTime: Date.now() / 1000 };
}

function paymentRead(entry: LedgerEntry): Record<string, unknown> {
  return {
    payment_id: entry.paymentId,
    amount: Number(entry.amount),
    currency: 'USD',
    description: entry.description,
    status: 'pending',
    created_at: entry.createdAt,
    payment_date: null,
    failure_reason: null,
    payer_name: null,
    payer_email: null,
    payee_name: 'Simulated Merchant',
  };
}
