/**
 * The read API of payment statuses, for the report and the page (issue 17's
 * contract): one object per account over the store, its exceptions and the
 * batch summaries. Reads never write.
 */
import type { RedisClient } from '../../core/lua.js';
import type { Keys } from '../keys.js';
import { batchCollection, scanBatchPayments, type BatchCollection } from './collection.js';
import { PaymentExceptions, type PaymentException } from './exceptions.js';
import { PaymentStatusStore, type InvoicePayment } from './store.js';

export class PaymentStatusReader {
  readonly store: PaymentStatusStore;
  readonly exceptionStore: PaymentExceptions;

  constructor(redis: RedisClient, keys: Keys, account: string) {
    this.store = new PaymentStatusStore(redis, keys, account);
    this.exceptionStore = new PaymentExceptions(redis, keys, account);
  }

  /** Invoice number → its link and payment status; invoices without a link in the ledger are left out. */
  readStatuses(invoiceNumbers: readonly string[]): Promise<Map<string, InvoicePayment>> {
    return this.store.readStatuses(invoiceNumbers);
  }

  /** A batch's counts and amounts by state, collected %, aging of links not paid, exceptions. */
  batchCollection(batchId: string, now = Date.now()): Promise<BatchCollection> {
    return batchCollection(this.store, this.exceptionStore, batchId, now);
  }

  /** A batch's links with their statuses, a page at a time (in no particular order). */
  batchPayments(batchId: string): AsyncGenerator<InvoicePayment[]> {
    return scanBatchPayments(this.store, batchId);
  }

  /** The exceptions of one batch, or every one of the account (`'all'`), oldest first. */
  exceptions(batchId: string | 'all'): Promise<PaymentException[]> {
    return this.exceptionStore.list(batchId === 'all' ? undefined : batchId);
  }
}
