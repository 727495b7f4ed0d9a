/**
 * The simulator's payments: the state of every link's payment, moved by the
 * control API (tests, the demo driver), read by `GET get/{id}` and the
 * received-payments list, and announced as webhook events.
 *
 * A link starts with one payment, its creation's payment id, in status
 * `initiated`; only payments that moved are stored, so a million untouched
 * links cost nothing here. Moves are not checked against a state machine on
 * purpose: tests need the contradictions real payments produce (paid after
 * expiry, a late `processing` after `success`).
 */
import { randomUUID } from 'node:crypto';
import type { LedgerEntry, SimulatorLedger } from './ledger.js';

/** The raw statuses the simulator reports (the webhook events' names; Paywint does not enumerate them). */
export const SIMULATOR_PAYMENT_STATUSES = ['initiated', 'opened', 'processing', 'success', 'failed', 'rejected', 'retried', 'expired'] as const;
export type SimulatorPaymentStatus = (typeof SIMULATOR_PAYMENT_STATUSES)[number];

/** Where the control API can move a payment. */
export type PaymentMove =
  | { to: 'opened' | 'processing' | 'expired' }
  /** Paid; `amountCents` when the payer paid another amount than the link's; `paidAt` ISO 8601, default now. */
  | { to: 'paid'; amountCents?: number; paidAt?: string }
  | { to: 'failed' | 'rejected'; reason?: string }
  /** Retried: the payment becomes `retried`, a new payment id on the same link starts `initiated`. */
  | { to: 'retry' };

/** One payment as the simulator knows it: the ground truth tests compare with. */
export interface SimulatorPayment {
  paymentId: string;
  paymentLink: string;
  /** The link's invoice number and amount, as created. */
  invoiceNumber: string | null;
  linkAmountCents: number;
  description: string | null;
  status: SimulatorPaymentStatus;
  /** The payment's amount: the link's, or what was paid when another amount was. */
  amountCents: number;
  paymentDate: string | null;
  failureReason: string | null;
  createdAt: string;
  /** For a retried payment's successor: the payment it replaced. */
  previousPaymentId: string | null;
  /** For a `retried` payment: the payment that replaced it. */
  nextPaymentId: string | null;
  /** Made at the simulator behind paylinks' back (`createStrayLink`). */
  stray: boolean;
}

/** A webhook event as Paywint documents it. */
export interface PaymentEvent {
  event: `payment.${SimulatorPaymentStatus}`;
  id: string;
  data: { payment_id: string; status: SimulatorPaymentStatus; amount: number; failed_reason?: string; previous_payment_id?: string };
  eventGeneratedTime: number;
}

const EVENT_OF_MOVE: Record<PaymentMove['to'], SimulatorPaymentStatus> = {
  opened: 'opened',
  processing: 'processing',
  expired: 'expired',
  paid: 'success',
  failed: 'failed',
  rejected: 'rejected',
  retry: 'retried',
};

interface State {
  link: LedgerEntry;
  status: SimulatorPaymentStatus;
  amountCents: number;
  paymentDate: string | null;
  failureReason: string | null;
  createdAt: string;
  previousPaymentId: string | null;
  nextPaymentId: string | null;
}

/** A move the book refuses (unknown payment, bad amount): the control API answers 400/404 with its message. */
export class PaymentMoveError extends Error {
  override readonly name = 'PaymentMoveError';
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

export class PaymentBook {
  readonly #ledger: SimulatorLedger;
  readonly #emit: (event: PaymentEvent) => void;
  /** Payments that moved, and retried successors. */
  #states = new Map<string, State>();
  /** Paid payments in the order they were received (the list shows the newest first). */
  #received: string[] = [];
  #stray = new Set<string>();

  /** `emit` gets every event a move makes, in the order they happened. */
  constructor(ledger: SimulatorLedger, emit: (event: PaymentEvent) => void) {
    this.#ledger = ledger;
    this.#emit = emit;
  }

  /** A payment by id (lower case), or undefined when Paywint never made it. */
  find(paymentId: string): SimulatorPayment | undefined {
    const state = this.#state(paymentId);
    return state === undefined ? undefined : this.#view(paymentId, state);
  }

  /** One page of received (paid) payments, newest first, and their total. */
  receivedPage(pageNo: number, rowsPerPage: number): { total: number; payments: SimulatorPayment[] } {
    const total = this.#received.length;
    const end = total - (pageNo - 1) * rowsPerPage;
    const ids = end <= 0 ? [] : this.#received.slice(Math.max(0, end - rowsPerPage), end).reverse();
    return { total, payments: ids.map((id) => this.#view(id, this.#states.get(id)!)) };
  }

  /** Every payment: each link's first one in creation order, each followed by its successors. */
  all(): SimulatorPayment[] {
    const out: SimulatorPayment[] = [];
    for (const link of this.#ledger.entries()) {
      for (let id: string | null = link.paymentId; id !== null; ) {
        const state: State = this.#state(id)!;
        out.push(this.#view(id, state));
        id = state.nextPaymentId;
      }
    }
    return out;
  }

  /** Moves a payment and emits its event; returns the payment (the new one for a retry). Throws {@link PaymentMoveError}. */
  move(paymentId: string, move: PaymentMove): SimulatorPayment {
    const id = paymentId.toLowerCase();
    const stored = this.#state(id);
    if (stored === undefined) throw new PaymentMoveError(404, `no payment ${paymentId.slice(0, 40)}`);
    const status = EVENT_OF_MOVE[move.to];
    if (move.to === 'paid') {
      const amountCents = move.amountCents ?? stored.link.amountCents;
      if (!Number.isSafeInteger(amountCents) || amountCents <= 0) throw new PaymentMoveError(400, `amountCents: expected a whole number above 0, got ${String(move.amountCents)}`);
      const paidAt = move.paidAt ?? new Date().toISOString();
      if (Number.isNaN(Date.parse(paidAt))) throw new PaymentMoveError(400, `paidAt: expected an ISO 8601 time, got ${paidAt.slice(0, 40)}`);
      stored.amountCents = amountCents;
      stored.paymentDate = paidAt;
    }
    this.#states.set(id, stored);
    if (stored.status === 'success' && status !== 'success') this.#received = this.#received.filter((r) => r !== id);
    if (status === 'success' && stored.status !== 'success') this.#received.push(id);
    stored.status = status;
    stored.failureReason = move.to === 'failed' || move.to === 'rejected' ? (move.reason ?? (move.to === 'failed' ? 'Payment declined' : 'Payment rejected')) : null;
    if (move.to !== 'retry') {
      this.#emit(eventOf(id, stored));
      return this.#view(id, stored);
    }
    const nextId = randomUUID();
    stored.nextPaymentId = nextId;
    const next: State = { ...fresh(stored.link), amountCents: stored.link.amountCents, previousPaymentId: id };
    this.#states.set(nextId, next);
    if (this.#stray.has(stored.link.paymentId)) this.#stray.add(nextId);
    // `payment.retried` names the new payment, and the one it replaced.
    this.#emit({ ...eventOf(nextId, next), event: 'payment.retried', data: { ...eventOf(nextId, next).data, status: 'retried', previous_payment_id: id } });
    return this.#view(nextId, next);
  }

  /** Marks a link as made behind paylinks' back. */
  markStray(paymentId: string): void {
    this.#stray.add(paymentId);
  }

  reset(): void {
    this.#states = new Map();
    this.#received = [];
    this.#stray = new Set();
  }

  #state(id: string): State | undefined {
    const stored = this.#states.get(id);
    if (stored !== undefined) return stored;
    const link = this.#ledger.find(id);
    return link === undefined ? undefined : fresh(link);
  }

  #view(paymentId: string, s: State): SimulatorPayment {
    return {
      paymentId,
      paymentLink: s.link.paymentLink,
      invoiceNumber: s.link.invoiceNumber,
      linkAmountCents: s.link.amountCents,
      description: s.link.description,
      status: s.status,
      amountCents: s.amountCents,
      paymentDate: s.paymentDate,
      failureReason: s.failureReason,
      createdAt: s.createdAt,
      previousPaymentId: s.previousPaymentId,
      nextPaymentId: s.nextPaymentId,
      stray: this.#stray.has(paymentId),
    };
  }
}

function fresh(link: LedgerEntry): State {
  return {
    link,
    status: 'initiated',
    amountCents: link.amountCents,
    paymentDate: null,
    failureReason: null,
    createdAt: link.createdAt,
    previousPaymentId: null,
    nextPaymentId: null,
  };
}

/**
 * Dollars as a JSON number: the division is correctly rounded, so the double
 * is the one the literal `150.75` reads as, and JSON writes it back as `150.75`.
 */
export function centsToDollars(cents: number): number {
  return cents / 100;
}

function eventOf(paymentId: string, s: State): PaymentEvent {
  const data: PaymentEvent['data'] = { payment_id: paymentId, status: s.status, amount: centsToDollars(s.amountCents) };
  if (s.failureReason !== null) data.failed_reason = s.failureReason;
  return { event: `payment.${s.status}`, id: randomUUID(), data, eventGeneratedTime: Date.now() / 1000 };
}
