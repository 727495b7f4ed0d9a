/**
 * The payment status of an invoice's link: what Paywint said about its
 * payment, and how the answers merge whatever order they come in.
 *
 * Only a read of the payment with our own credentials (`GET`, by the
 * confirmation job or the sweep) is an observation; a webhook is a hint to
 * make one. Merging is order-independent:
 * - `paid` is never undone. A later answer that says otherwise is kept as an
 *   exception (`contradiction`), the status stays `paid`.
 * - `paid` after `expired` or `rejected` is recorded `paid`, with an
 *   exception (`paid-after-expiry`): someone paid a link we took for dead.
 * - Otherwise the answer read last wins (`observedAtMs`); an answer read
 *   before the recorded one (a slow job) changes nothing, unless it says
 *   `paid` (paid is sticky: the newer answer then contradicts it).
 * - Answers for a payment id that is no longer the invoice's current one
 *   (after `retried`) change nothing unless they say `paid`.
 */

/** What paylinks records per link. `unpaid`: nothing heard (or nothing beyond "created"). */
export const PAYMENT_STATES = ['unpaid', 'opened', 'processing', 'paid', 'failed', 'rejected', 'expired'] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];

/** How a status was last confirmed: a read made for a webhook, or by the sweep. */
export type ConfirmedBy = 'webhook' | 'sweep';

/** An invoice's payment status (see the module's notes). */
export interface PaymentStatus {
  state: PaymentState;
  /** The current payment id: the ledger's, or the one a `retried` moved it to. */
  paymentId: string;
  amountPaidCents: number | null;
  /** ISO 8601, from Paywint's `payment_date`. */
  paidAt: string | null;
  failureReason: string | null;
  /** ISO 8601, second precision: when the answer recorded was read. Null while nothing was heard. */
  confirmedAt: string | null;
  confirmedBy: ConfirmedBy | null;
}

/** The status of a link nothing was heard of. */
export function unpaidStatus(paymentId: string): PaymentStatus {
  return { state: 'unpaid', paymentId, amountPaidCents: null, paidAt: null, failureReason: null, confirmedAt: null, confirmedBy: null };
}

/** One answer of Paywint's about one payment (the fields of `PaywintPayment` the status uses). */
export interface PaymentAnswer {
  paymentId: string;
  amountCents: number;
  description: string | null;
  /** Raw, as Paywint says it. */
  status: string;
  paymentDate: string | null;
  failureReason: string | null;
}

/** Paywint's raw statuses (its webhook events name them; GET does not enumerate them) and ours. */
const RAW_STATES: Record<string, PaymentState> = {
  success: 'paid',
  paid: 'paid',
  completed: 'paid',
  processing: 'processing',
  // The simulator and Paywint's events call a new link's payment 'initiated': nothing paid yet.
  initiated: 'unpaid',
  opened: 'opened',
  failed: 'failed',
  rejected: 'rejected',
  expired: 'expired',
  // A payment retried under a new payment id: this one's own attempt failed.
  retried: 'failed',
  pending: 'unpaid',
  created: 'unpaid',
  unpaid: 'unpaid',
  active: 'unpaid',
};

/**
 * Our state for Paywint's raw status; `undefined` for one we do not know
 * (kept as an exception by the caller, never counted as paid).
 */
export function stateOf(rawStatus: string): PaymentState | undefined {
  return RAW_STATES[rawStatus.trim().toLowerCase()];
}

/** The state a webhook event claims (`payment.success` -> paid), undefined for an event name we do not know. */
export function stateOfEvent(event: string): PaymentState | undefined {
  const m = /^payment\.([a-z_]+)$/.exec(event);
  return m ? stateOf(m[1]!) : undefined;
}

/**
 * How far along a payment is: a webhook whose claimed state ranks above what
 * GET says is contradicted by it (a forged or mistaken `payment.success`);
 * one ranking at or below is an older step of the same payment.
 */
export const STATE_RANK: Record<PaymentState, number> = { unpaid: 0, opened: 1, processing: 2, failed: 3, rejected: 3, expired: 3, paid: 4 };

/** One observation to merge: an answer, read at `observedAtMs`, by `by`. */
export interface Observation {
  state: PaymentState;
  paymentId: string;
  amountCents: number | null;
  paidAt: string | null;
  failureReason: string | null;
  observedAtMs: number;
  by: ConfirmedBy;
}

/** What a merge found besides the new status. */
export type MergeNote = 'contradiction' | 'paid-after-expiry';

export interface MergeResult {
  status: PaymentStatus;
  /** Whether anything recorded changed (the status or its confirmation time). */
  changed: boolean;
  /** Whether the state changed. */
  stateChanged: boolean;
  note?: MergeNote;
}

const isoSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString();

function take(o: Observation): PaymentStatus {
  return {
    state: o.state,
    paymentId: o.paymentId,
    amountPaidCents: o.state === 'paid' ? o.amountCents : null,
    paidAt: o.state === 'paid' ? o.paidAt : null,
    failureReason: o.state === 'failed' || o.state === 'rejected' ? o.failureReason : null,
    confirmedAt: isoSeconds(o.observedAtMs),
    confirmedBy: o.by,
  };
}

/** Merges an observation into the recorded status (see the module's notes). Pure. */
export function mergeStatus(current: PaymentStatus, o: Observation): MergeResult {
  const unchanged: MergeResult = { status: current, changed: false, stateChanged: false };
  const currentAtMs = current.confirmedAt === null ? -Infinity : Date.parse(current.confirmedAt);
  const newer = Math.floor(o.observedAtMs / 1000) * 1000 >= currentAtMs;
  const forCurrent = o.paymentId === current.paymentId;
  if (current.state === 'paid') {
    if (o.state === 'paid') {
      if (!newer || !forCurrent) return unchanged;
      // The same fact read again: only the confirmation moves.
      const status = { ...current, confirmedAt: isoSeconds(o.observedAtMs), confirmedBy: o.by };
      return { status, changed: status.confirmedAt !== current.confirmedAt || status.confirmedBy !== current.confirmedBy, stateChanged: false };
    }
    return newer && forCurrent ? { ...unchanged, note: 'contradiction' } : unchanged;
  }
  if (o.state === 'paid') {
    const note: MergeNote | undefined =
      current.state === 'expired' || current.state === 'rejected' ? 'paid-after-expiry' : !newer && current.confirmedAt !== null && STATE_RANK[current.state] > 0 ? 'contradiction' : undefined;
    return { status: take(o), changed: true, stateChanged: true, ...(note ? { note } : {}) };
  }
  if (!forCurrent || !newer) return unchanged;
  const status = take(o);
  const same = status.state === current.state && status.failureReason === current.failureReason;
  if (same && status.confirmedAt === current.confirmedAt && status.confirmedBy === current.confirmedBy) return unchanged;
  return { status, changed: true, stateChanged: !same };
}

/** The current payment id moves (a `retried`): the new payment starts unheard of. */
export function retriedTo(current: PaymentStatus, newPaymentId: string): PaymentStatus {
  if (current.state === 'paid' || current.paymentId === newPaymentId) return current;
  return { ...unpaidStatus(newPaymentId), confirmedAt: current.confirmedAt, confirmedBy: current.confirmedBy };
}
