/**
 * One-row forms of the batch store's and the ledger's group operations, for
 * tests that record or claim one row at a time (production code always works
 * on groups: see BatchStore.finishRows and Ledger.claimRows).
 */
import type { BatchStore } from '../../src/pipeline/batch-store.js';
import type { ClaimOutcome, Ledger, LedgerEntry, RowRef } from '../../src/pipeline/ledger.js';
import type { RateLimiter } from '../../src/pipeline/rate-limiter.js';
import type { RowResult } from '../../src/pipeline/output.js';

export interface FinishRowOptions {
  /** The invoice the row is for ('' for rows that have none). */
  invoiceNumber?: string;
  /** The job holding the invoice's claim: released when the row finishes. */
  claimOwner?: string;
  /** The link just created: written to the ledger in the same step. */
  ledgerEntry?: LedgerEntry;
  ledgerKey?: string;
  claimsKey?: string;
  /** Where unknown outcomes of a released claim are kept (see Keys.unsettled). */
  unsettledKey?: string;
  amountCents?: number;
}

/** Records one row's final result; resolves false when it was recorded before. */
export async function finishRow(store: BatchStore, id: string, row: number, result: RowResult, options: FinishRowOptions = {}): Promise<boolean> {
  const ledger = options.ledgerKey && options.claimsKey && options.unsettledKey ? { ledgerKey: options.ledgerKey, claimsKey: options.claimsKey, unsettledKey: options.unsettledKey } : undefined;
  const [recorded] = await store.finishRows(id, [{ row, result, invoiceNumber: options.invoiceNumber, claimOwner: options.claimOwner, ledgerEntry: options.ledgerEntry, amountCents: options.amountCents }], ledger);
  return recorded!;
}

/** Claims one invoice (see Ledger.claimRows); with a limiter, a fresh claim due now also begins its first attempt. */
export async function claim(ledger: Ledger, invoiceNumber: string, owner: string, amountCents: number, description: string | null, row: RowRef, limiter?: RateLimiter): Promise<ClaimOutcome> {
  const [outcome] = await ledger.claimRows(row, [{ invoiceNumber, owner, amountCents, description, row: row.row, begin: limiter !== undefined }], limiter);
  return outcome!;
}
