/**
 * Every Redis key paylinks uses, in one place.
 *
 * All keys, BullMQ's included, live under `{prefix}`: the braces are a Redis
 * Cluster hash tag, so every key hashes to one slot and the Lua scripts that
 * touch several of them run unchanged on a cluster.
 */

/** The BullMQ queue every batch's rows go through. */
export const QUEUE_NAME = 'create-link';

export class Keys {
  /** BullMQ's `prefix` option: BullMQ appends `:create-link:...`. */
  readonly bullPrefix: string;

  constructor(readonly prefix: string) {
    this.bullPrefix = `{${prefix}}`;
  }

  private key(...parts: string[]): string {
    return [this.bullPrefix, ...parts].join(':');
  }

  /** Hash: a batch's metadata, state and counters by status. */
  batch(batchId: string): string {
    return this.key('batch', batchId);
  }

  /** List: a batch's input records in file order, each its line and cells (see BatchStore's row encoding). */
  batchRows(batchId: string): string {
    return this.key('batch', batchId, 'rows');
  }

  /** Hash: row index → final result of that row (see BatchStore's result encoding). */
  batchResults(batchId: string): string {
    return this.key('batch', batchId, 'results');
  }

  /** Sorted set: batch ids by creation time, for `status` with no batch. */
  batchIndex(): string {
    return this.key('batches');
  }

  /** Hash: file SHA-256 → the newest batch made from it, to resume an unfinished one. */
  batchesBySha(): string {
    return this.key('batches', 'by-sha');
  }

  /** Sorted set: finish events (`<batch>-f<n>`) by time, until their notifications are queued. */
  finishEvents(): string {
    return this.key('batches', 'finished');
  }

  /** String: which process holds a drop-folder pickup (see src/inbox/); expires unless renewed. */
  inboxLock(pickupId: string): string {
    return this.key('inbox', 'lock', pickupId);
  }

  /** Hash: invoice key (`ledgerField`) → the link created for it, per Paywint account (see `encodeLedgerEntry`). */
  ledger(apiKey: string): string {
    return this.key('ledger', apiKey);
  }

  /**
   * String: `1` once the account's ledger, claims and unsettled counts are
   * keyed by invoice keys (`INV-7` for `inv-7`: see ledger-rekey.ts).
   */
  ledgerKeyed(apiKey: string): string {
    return this.key('ledger-keyed', apiKey);
  }

  /** Hash: invoice number → the job currently allowed to call Paywint for it. */
  claims(apiKey: string): string {
    return this.key('claims', apiKey);
  }

  /**
   * Hash: invoice number → requests whose outcome is unknown (Paywint may
   * have made a link) left by claims released without a link: a later claim
   * on the invoice (a retry, another file) starts from that count, so its
   * link is flagged.
   */
  unsettled(apiKey: string): string {
    return this.key('unsettled', apiKey);
  }

  /**
   * Hash: one bucket of an account's payment index: payment id (part of it)
   * → its invoice number, and the invoice's payment status under the ledger's
   * own payment id (see src/pipeline/payment-status/encoding.ts).
   */
  paymentBucket(apiKey: string, bucket: number): string {
    return this.key('pay', apiKey, String(bucket));
  }

  /** Hash: the payment index's own state per account (how much of the ledger it covers), and ids whose short field collided. */
  paymentMeta(apiKey: string): string {
    return this.key('pay', apiKey, 'meta');
  }

  /** Hash: payment exceptions per account, by id (`kind:payment id`) → JSON (see payment-status/exceptions.ts). */
  paymentExceptions(apiKey: string): string {
    return this.key('pay', apiKey, 'exceptions');
  }

  /**
   * Sorted set: the payment ids the sweep has seen nearest the top of the
   * received-payments list (the newest few hundred), scored by a sequence
   * that grows down the list and from one pass to the next.
   */
  paymentsSeen(apiKey: string): string {
    return this.key('pay', apiKey, 'seen');
  }

  /** Hash: per account, messages to customers by kind and invoice → how each went (see mail-ledger.ts). */
  messages(apiKey: string): string {
    return this.key('messages', apiKey);
  }

  /** Hash: invoice number → the mail server's reply, for a batch's first messages that bounced or failed. */
  batchBounces(batchId: string): string {
    return this.key('batch', batchId, 'bounces');
  }

  /** String (a bitmap by row): the rows of a batch whose first message was queued, whichever send queued it. */
  batchMailRows(batchId: string): string {
    return this.key('batch', batchId, 'mail-rows');
  }

  /** String: the shared schedule of messages to the mail server (`PAYLINKS_MAIL_RATE`), every process together. */
  mailRate(): string {
    return this.key('rate', 'mail');
  }

  /** Sorted set: batches to send their messages once they finish (`submit --send`), by when asked. */
  mailOnFinish(): string {
    return this.key('batches', 'send-on-finish');
  }

  /** Hash: the payment sweep's state per account: when the next periodic pass is due, the last pass's summary. */
  paymentSweep(apiKey: string): string {
    return this.key('pay', apiKey, 'sweep');
  }

  /** String: which process is sweeping the account's payments now; expires unless renewed. */
  paymentSweepLock(apiKey: string): string {
    return this.key('pay', apiKey, 'sweep', 'lock');
  }

  /** String: the sweep's own request schedule (its share of the rate limit while a batch runs), per account. */
  paymentSweepRate(apiKey: string): string {
    return this.key('rate', apiKey, 'sweep');
  }

  /** String: the shared request schedule of the rate limiter, per Paywint account. */
  rateLimit(apiKey: string): string {
    return this.key('rate', apiKey);
  }

  /** BullMQ's list of the queue's active job ids (read to know which rows of a stopped batch may still be in flight). */
  queueActive(): string {
    return `${this.bullPrefix}:${QUEUE_NAME}:active`;
  }
}
