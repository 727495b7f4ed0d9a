/**
 * Recording what Paywint answered about one payment: the one path by which
 * a status changes, shared by the confirmation job (a webhook's hint) and the
 * sweep. Finds the payment's invoice (indexing the ledger first when it grew),
 * merges the answer, and keeps what a person must see as exceptions.
 */
import type { PaywintPayment } from '../../paywint/payments.js';
import { formatCents } from '../../core/money.js';
import { scanLedger, type LedgerEntry } from '../ledger.js';
import type { PaymentExceptions } from './exceptions.js';
import { STATE_RANK, stateOf, type ConfirmedBy, type PaymentState } from './model.js';
import type { PaymentStatusStore } from './store.js';

/** What a confirmation did (`recorded`: the state changed; `confirmed`: the same state, confirmed again). */
export type ConfirmOutcome = 'recorded' | 'confirmed' | 'unchanged' | 'contradicted' | 'unknown-payment' | 'stray';

export interface ConfirmInput {
  paymentId: string;
  /** Paywint's answer (GET, or a row of the received list); null: Paywint does not know the payment id. */
  payment: PaywintPayment | null;
  by: ConfirmedBy;
  observedAtMs: number;
  /** The state a webhook event claimed, to tell whether the answer bears it out. */
  claimedState?: PaymentState;
  /** The payment id a `retried` event replaces, when it names one. */
  previousPaymentId?: string;
}

export interface ConfirmDeps {
  store: PaymentStatusStore;
  exceptions: PaymentExceptions;
}

/** Likely invoices of a stray payment: same amount and description (at most this many). */
const MAX_LIKELY = 5;

export async function confirmPayment(deps: ConfirmDeps, input: ConfirmInput): Promise<ConfirmOutcome> {
  const { store, exceptions } = deps;
  const { paymentId, payment } = input;
  let found = await store.lookup(paymentId);
  if (!found && (await store.ensureIndexed())) found = await store.lookup(paymentId);
  if (!found && input.previousPaymentId) {
    const previous = await store.lookup(input.previousPaymentId);
    if (previous) {
      await store.retried(previous.invoiceNumber, previous.entry, paymentId);
      found = previous;
    }
  }
  if (!found) return stray(deps, input);

  const { invoiceNumber, entry } = found;
  const where = { paymentId, invoiceNumber, batchId: entry.batchId };
  if (payment === null) {
    // Paywint does not know a payment id our ledger has: the event was not Paywint's (or names the wrong id).
    if (input.claimedState !== undefined) await exceptions.add({ kind: 'event-contradicted', ...where, idSuffix: input.claimedState, detail: `an event said ${input.claimedState}; Paywint does not know the payment` });
    return 'contradicted';
  }
  const state = stateOf(payment.status);
  if (state === undefined) {
    await exceptions.add({ kind: 'unknown-status', ...where, idSuffix: payment.status.slice(0, 24), amountCents: payment.amountCents, detail: `Paywint says "${payment.status.slice(0, 24)}", a status paylinks does not know: not counted as paid` });
    return 'unchanged';
  }
  const result = await store.record(invoiceNumber, entry, {
    state,
    paymentId,
    amountCents: payment.amountCents,
    paidAt: payment.paymentDate,
    failureReason: payment.failureReason,
    observedAtMs: input.observedAtMs,
    by: input.by,
  });
  if (result.note === 'contradiction') {
    await exceptions.add({ kind: 'contradiction', ...where, idSuffix: state, amountCents: payment.amountCents, detail: `recorded ${result.status.state}, confirmed ${result.status.confirmedAt ?? ''}; Paywint now says ${payment.status}` });
  } else if (result.note === 'paid-after-expiry') {
    await exceptions.add({ kind: 'paid-after-expiry', ...where, amountCents: payment.amountCents, detail: `paid ${formatCents(payment.amountCents)} after the link was recorded expired or rejected` });
  }
  if (state === 'paid' && result.stateChanged) await paidChecks(deps, invoiceNumber, entry, payment);
  // Every paid answer (not only the change): a confirmation run again after a crash still asks for the check.
  if (state === 'paid') await store.noteCollectCheck(entry.batchId);
  if (input.claimedState !== undefined && STATE_RANK[input.claimedState] > STATE_RANK[state]) {
    await exceptions.add({ kind: 'event-contradicted', ...where, idSuffix: input.claimedState, detail: `an event said ${input.claimedState}; Paywint says ${payment.status}` });
    return 'contradicted';
  }
  return result.stateChanged ? 'recorded' : result.changed ? 'confirmed' : 'unchanged';
}

/** An invoice just recorded paid: paid in full? paid twice (a stray payment made for it)? */
async function paidChecks(deps: ConfirmDeps, invoiceNumber: string, entry: LedgerEntry, payment: PaywintPayment): Promise<void> {
  const where = { paymentId: payment.paymentId, invoiceNumber, batchId: entry.batchId };
  if (payment.amountCents !== entry.amountCents) {
    await deps.exceptions.add({ kind: 'amount-mismatch', ...where, amountCents: payment.amountCents, detail: `paid ${formatCents(payment.amountCents)}; the invoice is ${formatCents(entry.amountCents)}` });
  }
  const strayId = await deps.store.paidStrayOf(invoiceNumber);
  if (strayId !== null && strayId !== payment.paymentId) await doublePayment(deps, invoiceNumber, entry, strayId, payment.paymentId);
}

async function doublePayment(deps: ConfirmDeps, invoiceNumber: string, entry: LedgerEntry, strayId: string, ownId: string): Promise<void> {
  await deps.exceptions.add({
    kind: 'double-payment',
    paymentId: strayId,
    invoiceNumber,
    batchId: entry.batchId,
    amountCents: entry.amountCents,
    detail: `invoice ${invoiceNumber} was paid twice: on its link (${ownId}) and on a second link (${strayId}); refund one`,
  });
}

/** A payment id paylinks has no record of. */
async function stray(deps: ConfirmDeps, input: ConfirmInput): Promise<ConfirmOutcome> {
  const { payment, paymentId } = input;
  if (payment === null) {
    await deps.exceptions.add({ kind: 'stray', paymentId, invoiceNumber: null, batchId: null, idSuffix: 'unknown', detail: `an event${input.claimedState ? ` (${input.claimedState})` : ''} for a payment id neither paylinks nor Paywint knows` });
    return 'unknown-payment';
  }
  const likely = await likelyInvoices(deps.store, payment);
  const state = stateOf(payment.status);
  const first = likely[0];
  await deps.exceptions.add({
    kind: 'stray',
    paymentId,
    invoiceNumber: null,
    batchId: first?.entry.batchId ?? null,
    likelyInvoices: likely.map((l) => l.invoiceNumber),
    amountCents: payment.amountCents,
    detail: `a payment (${payment.status}, ${formatCents(payment.amountCents)}${payment.description ? `, "${payment.description.slice(0, 40)}"` : ''}) on a link paylinks has no record of${likely.length > 0 ? `; likely invoice ${likely.map((l) => l.invoiceNumber).join(', ')}` : ''}`,
  });
  if (state === 'paid' && likely.length === 1 && first) {
    await deps.store.notePaidStray(first.invoiceNumber, paymentId);
    const own = await deps.store.read(first.invoiceNumber, first.entry);
    if (own.state === 'paid') await doublePayment(deps, first.invoiceNumber, first.entry, paymentId, own.paymentId);
  }
  return 'stray';
}

/** Invoices whose link asks for the payment's amount with its description (one pass over the ledger; strays are rare). */
async function likelyInvoices(store: PaymentStatusStore, payment: PaywintPayment): Promise<{ invoiceNumber: string; entry: LedgerEntry }[]> {
  const out: { invoiceNumber: string; entry: LedgerEntry }[] = [];
  for await (const page of scanLedger(store.redis, store.ledgerKey)) {
    for (const r of page) {
      if (r.entry.amountCents === payment.amountCents && (r.entry.description ?? '') === (payment.description ?? '') && !out.some((o) => o.invoiceNumber === r.invoiceNumber)) out.push(r);
      if (out.length >= MAX_LIKELY) return out;
    }
  }
  return out;
}
