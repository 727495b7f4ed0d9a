/**
 * One pass of the payment sweep, the backstop for webhooks that never came:
 * 1. the received-payments list, newest first, page by page until a page
 *    holds a payment an earlier pass saw (Keys.paymentsSeen keeps the newest
 *    few hundred seen); each payment not seen is recorded through the one
 *    status path (payment-status/confirm.ts, `by: 'sweep'`), and a payment id
 *    paylinks has no record of becomes a `stray` exception;
 * 2. `GET` of every open link made before the cutoff, oldest first
 *    (open-links.ts), its status read again just before, so a link a webhook
 *    settled meanwhile costs no request.
 * Every request takes its slot(s) first (pacer.ts). A read that fails is
 * tried again (a 429 pauses the shared schedule for its Retry-After) and then
 * counted and left to the next pass; a refused key stops the pass.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { coerceError, PaywintError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ReadOptions } from '../../paywint/client.js';
import type { PaywintPayment, ReceivedPaymentsPage, RowsPerPage } from '../../paywint/payments.js';
import { confirmPayment, type ConfirmOutcome } from '../payment-status/confirm.js';
import type { PaymentExceptions } from '../payment-status/exceptions.js';
import type { PaymentStatusStore } from '../payment-status/store.js';
import { OPEN_STATES, oldestOpenLinks, type OpenLink } from './open-links.js';
import type { SweepPacer } from './pacer.js';

/** The reads the sweep makes (PaywintClient's). */
export interface SweepReads {
  getPayment(paymentId: string, options?: ReadOptions): Promise<PaywintPayment | null>;
  listReceivedPayments(pageNo: number, rowsPerPage: RowsPerPage, options?: ReadOptions): Promise<ReceivedPaymentsPage>;
}

export interface SweepDeps {
  store: PaymentStatusStore;
  exceptions: PaymentExceptions;
  reads: SweepReads;
  pacer: SweepPacer;
  /** Keys.paymentsSeen of the account. */
  seenKey: string;
  /** Keys.paymentSweep of the account. */
  sweepKey: string;
  logger: Logger;
}

export interface SweepOptions {
  /** Read only this batch's open links (the received list is the account's, read as always). */
  batchId?: string;
  /** Open links made at least this long ago are read, ms. */
  openAfterMs: number;
  /** Reads in flight at once. Default 16. */
  concurrency?: number;
  /** Open links per round of the oldest-first selection. Default 50,000. */
  roundSize?: number;
  signal?: AbortSignal;
}

/** What a pass did. */
export interface SweepSummary {
  startedAt: string;
  seconds: number;
  received: { pages: number; payments: number; recorded: number; unchanged: number; stray: number; contradicted: number };
  open: { rounds: number; read: number; recorded: number; unchanged: number; contradicted: number; unknownAtPaywint: number; settledMeanwhile: number; selectionWaitSeconds: number };
  /** Requests sent (each took its slot). */
  requests: number;
  /** Reads that failed after their attempts (left to the next pass). */
  errors: number;
  /** The first of them, for the log and the summary line. */
  firstError?: string;
}

/** Rows per page of the received list (the largest Paywint takes). */
const PAGE_ROWS: RowsPerPage = 100;
/** Seen payment ids kept (the newest): a pass stops at the first page holding one. */
export const SEEN_KEPT = 500;
/** Attempts of one read. */
const READ_ATTEMPTS = 3;
/** Open links whose status is read again in one round trip. */
const RECHECK_CHUNK = 200;

export async function sweepPayments(deps: SweepDeps, options: SweepOptions): Promise<SweepSummary> {
  const started = Date.now();
  const summary: SweepSummary = {
    startedAt: new Date(started).toISOString(),
    seconds: 0,
    received: { pages: 0, payments: 0, recorded: 0, unchanged: 0, stray: 0, contradicted: 0 },
    open: { rounds: 0, read: 0, recorded: 0, unchanged: 0, contradicted: 0, unknownAtPaywint: 0, settledMeanwhile: 0, selectionWaitSeconds: 0 },
    requests: 0,
    errors: 0,
  };
  const requestsBefore = deps.pacer.requests;
  const cutoffMs = started - options.openAfterMs;
  const roundSize = options.roundSize ?? 50_000;
  // The first round's scan runs while the received list is read.
  const firstRound = settle(oldestOpenLinks(deps.store, { cutoffMs, batchId: options.batchId, limit: roundSize }));
  try {
    deps.logger.debug({ batchId: options.batchId, cutoff: new Date(cutoffMs).toISOString() }, 'payment sweep: reading the received payments');
    await sweepReceived(deps, options, summary);
    deps.logger.debug({ received: summary.received }, 'payment sweep: reading the open links');
    await sweepOpen(deps, options, summary, firstRound, cutoffMs, roundSize);
  } finally {
    summary.requests = deps.pacer.requests - requestsBefore;
    summary.seconds = (Date.now() - started) / 1000;
  }
  return summary;
}

/** A promise that never rejects unobserved: awaited later, it rethrows. */
function settle<T>(p: Promise<T>): () => Promise<T> {
  const held = p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return async () => {
    const r = await held;
    if (!r.ok) throw r.error;
    return r.value;
  };
}

async function sweepReceived(deps: SweepDeps, options: SweepOptions, summary: SweepSummary): Promise<void> {
  const { store, pacer } = deps;
  const redis = store.redis;
  const fresh: string[] = [];
  for (let pageNo = 1; ; pageNo += 1) {
    const page = await readWithRetries(deps, options, () => deps.reads.listReceivedPayments(pageNo, PAGE_ROWS, readOptions(pacer, options.signal)));
    summary.received.pages += 1;
    if (page.records.length === 0) break;
    const scores = await redis.zmscore(deps.seenKey, ...page.records.map((p) => p.paymentId));
    const unseen = page.records.filter((_, i) => scores[i] === null);
    await inPool(unseen, options.concurrency ?? 16, async (payment) => {
      const outcome = await confirmPayment(deps, { paymentId: payment.paymentId, payment, by: 'sweep', observedAtMs: Date.now() });
      summary.received.payments += 1;
      countReceived(summary, outcome);
    });
    for (const p of unseen) if (fresh.length < SEEN_KEPT) fresh.push(p.paymentId);
    if (unseen.length < page.records.length || pageNo * PAGE_ROWS >= page.totalRecords) break;
  }
  if (fresh.length === 0) return;
  // Seen only once recorded: a pass cut short reads them again. Scores grow towards the top of the list.
  const top = await redis.hincrby(deps.sweepKey, 'seen_seq', fresh.length);
  await redis
    .multi()
    .zadd(deps.seenKey, ...fresh.flatMap((id, i) => [top - i, id]))
    .zremrangebyrank(deps.seenKey, 0, -(SEEN_KEPT + 1))
    .exec();
}

function countReceived(summary: SweepSummary, outcome: ConfirmOutcome): void {
  if (outcome === 'recorded') summary.received.recorded += 1;
  else if (outcome === 'stray' || outcome === 'unknown-payment') summary.received.stray += 1;
  else if (outcome === 'contradicted') summary.received.contradicted += 1;
  else summary.received.unchanged += 1;
}

async function sweepOpen(deps: SweepDeps, options: SweepOptions, summary: SweepSummary, firstRound: () => Promise<OpenLink[]>, cutoffMs: number, roundSize: number): Promise<void> {
  const { store } = deps;
  let round = firstRound;
  for (;;) {
    const waitStart = Date.now();
    const links = await round();
    // Time with no read to make: waiting for a round's scan of the ledger (the first one's, mostly).
    summary.open.selectionWaitSeconds += (Date.now() - waitStart) / 1000;
    if (links.length === 0) return;
    summary.open.rounds += 1;
    const last = links[links.length - 1]!;
    // The next round's scan runs while this round's links are read.
    round = links.length < roundSize ? async () => [] : settle(oldestOpenLinks(store, { cutoffMs, batchId: options.batchId, limit: roundSize, after: last }));
    await inPool(stillOpen(store, links, summary), options.concurrency ?? 16, async (link) => {
      let payment: PaywintPayment | null;
      try {
        payment = await readWithRetries(deps, options, () => deps.reads.getPayment(link.paymentId, readOptions(deps.pacer, options.signal)));
      } catch (error) {
        if (isFatal(error, options.signal)) throw error;
        summary.errors += 1;
        summary.firstError ??= coerceError(error).message;
        return;
      }
      summary.open.read += 1;
      if (payment === null) {
        summary.open.unknownAtPaywint += 1;
        return;
      }
      const outcome = await confirmPayment(deps, { paymentId: link.paymentId, payment, by: 'sweep', observedAtMs: Date.now() });
      if (outcome === 'recorded') summary.open.recorded += 1;
      else if (outcome === 'contradicted') summary.open.contradicted += 1;
      else summary.open.unchanged += 1;
    });
  }
}

/** The round's links still open now (a webhook may have settled some), with their current payment ids. */
async function* stillOpen(store: PaymentStatusStore, links: readonly OpenLink[], summary: SweepSummary): AsyncGenerator<{ invoiceNumber: string; paymentId: string }> {
  for (let i = 0; i < links.length; i += RECHECK_CHUNK) {
    const current = await store.withStatuses(links.slice(i, i + RECHECK_CHUNK));
    for (const p of current) {
      if (OPEN_STATES.has(p.status.state)) yield { invoiceNumber: p.invoiceNumber, paymentId: p.status.paymentId };
      else summary.open.settledMeanwhile += 1;
    }
  }
}

function readOptions(pacer: SweepPacer, signal: AbortSignal | undefined): ReadOptions {
  return { signal, beforeRequest: (s) => pacer.acquire(s) };
}

/** A refused key, a cancelled pass: nothing more can be read. */
function isFatal(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return true;
  return error instanceof PaywintError && error.code === 'PAYWINT_AUTH';
}

/** One read, tried again on a 429 (after pausing the shared schedule) or a retryable error. */
async function readWithRetries<T>(deps: SweepDeps, options: SweepOptions, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= READ_ATTEMPTS || isFatal(error, options.signal) || !(error instanceof PaywintError) || !error.retryable) throw error;
      if (error.code === 'PAYWINT_RATE_LIMITED') await deps.pacer.pause(error.retryAfterMs ?? 1000);
      else await sleep(500 * attempt, undefined, { signal: options.signal });
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` at once; the first error stops taking new items and is thrown. */
async function inPool<T>(items: Iterable<T> | AsyncIterable<T>, concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : toAsync((items as Iterable<T>)[Symbol.iterator]());
  let failed: { error: unknown } | undefined;
  const runner = async () => {
    while (!failed) {
      const next = await iterator.next();
      if (next.done) return;
      try {
        await work(next.value);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, runner));
  if (failed) throw failed.error;
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return { next: async () => it.next() };
}
