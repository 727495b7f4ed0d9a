/**
 * Payment statuses (issue 17): the model and its merge (model.ts), the store
 * and its payment index (store.ts, encoding.ts), exceptions (exceptions.ts)
 * and the batch-level read API (collection.ts). See docs/payments.md.
 */
export * from './model.js';
export { BUCKETS, MAX_REASON_CHARS } from './encoding.js';
export { PaymentStatusStore, type InvoicePayment } from './store.js';
export { EXCEPTION_KINDS, PaymentExceptions, type ExceptionKind, type NewException, type PaymentException } from './exceptions.js';
export { AGING_BUCKETS, agingBucketOf, batchCollection, scanBatchPayments, type AgingBucket, type BatchCollection, type CountAndAmount } from './collection.js';
export { PaymentStatusReader } from './reader.js';
