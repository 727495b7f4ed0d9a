/**
 * The reconciliation report's summary, added up row by row as the rows go
 * by: counts and amounts by payment status, the collected share of the
 * linked amount, the aging of the links not paid, and the exceptions.
 * Integer cents inside; decimal strings in its JSON.
 */
import { formatCents } from '../../core/money.js';
import { AGING_BUCKETS, agingBucketOf, type AgingBucket } from '../payment-status/collection.js';
import type { ExceptionKind, PaymentException } from '../payment-status/exceptions.js';
import { PAYMENT_STATES, type PaymentState } from '../payment-status/model.js';
import type { RowFacts } from './rows.js';

interface Tally {
  count: number;
  cents: number;
}

/** A count and an amount, as the JSON carries them. */
export interface CountAndAmountJson {
  count: number;
  amount: string;
}

/** The summary's JSON (issue 17 seam 1). */
export interface ReportSummaryJson {
  /** Input rows of the batch. */
  rows: number;
  /** Rows with a link. */
  links: number;
  linkedAmount: string;
  byStatus: Record<PaymentState, CountAndAmountJson>;
  /** What Paywint says was paid on those links. */
  paidAmount: string;
  /** paidAmount ÷ linkedAmount × 100, rounded down to two decimals (0 with no links). */
  collectedPercent: number;
  /** Links not paid, by days since the link was made. */
  aging: Record<AgingBucket, CountAndAmountJson>;
  exceptions: number;
  /** Every row with a link is paid (and there is at least one). */
  collected: boolean;
  /** Rows without a link (invalid, duplicate, conflict, failed). */
  withoutLink: number;
}

export class SummaryBuilder {
  private rows = 0;
  private links = 0;
  private linkedCents = 0;
  private paidCents = 0;
  private readonly byState = new Map<PaymentState, Tally>(PAYMENT_STATES.map((s) => [s, { count: 0, cents: 0 }]));
  private readonly aging = new Map<AgingBucket, Tally>(AGING_BUCKETS.map((b) => [b, { count: 0, cents: 0 }]));

  constructor(private readonly nowMs: number) {}

  add(facts: RowFacts): void {
    this.rows += 1;
    const state = facts.row.payment_status;
    if (state === '' || facts.linkedCents === null) return;
    this.links += 1;
    this.linkedCents += facts.linkedCents;
    const tally = this.byState.get(state)!;
    tally.count += 1;
    tally.cents += facts.linkedCents;
    if (state === 'paid') this.paidCents += facts.amountPaidCents ?? facts.linkedCents;
    else {
      const bucket = this.aging.get(agingBucketOf(this.nowMs - (facts.linkCreatedMs ?? this.nowMs)))!;
      bucket.count += 1;
      bucket.cents += facts.linkedCents;
    }
  }

  /** The summary; `totalRows` is the batch's row count when the rows themselves are gone (a report from the ledger). */
  toJson(exceptions: number, totalRows?: number): ReportSummaryJson {
    const json = (t: Tally): CountAndAmountJson => ({ count: t.count, amount: formatCents(t.cents) });
    const rows = Math.max(this.rows, totalRows ?? 0);
    return {
      rows,
      links: this.links,
      linkedAmount: formatCents(this.linkedCents),
      byStatus: Object.fromEntries(PAYMENT_STATES.map((s) => [s, json(this.byState.get(s)!)])) as Record<PaymentState, CountAndAmountJson>,
      paidAmount: formatCents(this.paidCents),
      collectedPercent: this.linkedCents === 0 ? 0 : Math.floor((this.paidCents * 10_000) / this.linkedCents) / 100,
      aging: Object.fromEntries(AGING_BUCKETS.map((b) => [b, json(this.aging.get(b)!)])) as Record<AgingBucket, CountAndAmountJson>,
      exceptions,
      collected: this.links > 0 && this.byState.get('paid')!.count === this.links,
      withoutLink: rows - this.links,
    };
  }
}

/** An exception as the report's JSON lists it. */
export interface ReportExceptionJson {
  id: string;
  kind: ExceptionKind;
  paymentId: string;
  invoiceNumber: string | null;
  amount: string | null;
  detail: string;
  at: string;
  likelyInvoices: string[];
}

export function exceptionToJson(e: PaymentException): ReportExceptionJson {
  return {
    id: e.id,
    kind: e.kind,
    paymentId: e.paymentId,
    invoiceNumber: e.invoiceNumber,
    amount: e.amountCents === undefined || e.amountCents === null ? null : formatCents(e.amountCents),
    detail: e.detail,
    at: e.at,
    likelyInvoices: e.likelyInvoices ?? [],
  };
}
