/**
 * "Where is INV-123, what is its link, is it paid?": one invoice found in the
 * account's ledger, whichever batch made its link, with its payment status
 * and the exceptions that name it (issue 17, item 6).
 *
 * Invoice numbers compare as src/core/invoice-key.ts says (trimmed, NFC, case
 * ignored). The ledger is keyed by the invoice's key (ledger.ts's
 * `ledgerField`), so the lookup tries the key and the number as typed first
 * (one HMGET): once the ledger is keyed (ledger-rekey.ts), a miss is final.
 * Only a ledger not moved yet is scanned for a field with the same key: server-side with a
 * case-insensitive MATCH pattern when the number is ASCII (Redis sends back
 * only the candidates), every field otherwise. A number typed as stored
 * costs one round trip; a scan of a 1,000,000-entry ledger took 2.4 to 5 s on
 * a loaded 2-core machine (bench/invoice-lookup-bench.ts). A ledger keyed by
 * invoiceKey would make every lookup one round trip.
 */
import { invoiceKey } from '../core/invoice-key.js';
import type { RedisClient } from '../core/lua.js';
import type { Keys } from './keys.js';
import { decodeLedgerEntry, writtenInvoiceNumber, type LedgerEntry } from './ledger.js';
import { PaymentStatusReader, type PaymentException, type PaymentStatus } from './payment-status/index.js';

/** The longest invoice number looked up (Paywint takes 20 characters; imported ledgers may hold longer ones). */
export const MAX_LOOKUP_CHARACTERS = 100;

/** How many ledger fields one HSCAN call looks at. */
const SCAN_COUNT = 5000;

export interface FoundInvoice {
  /** The number as the ledger holds it (as the file wrote it). */
  invoiceNumber: string;
  entry: LedgerEntry;
  status: PaymentStatus;
  /** Exceptions about this invoice, or naming it as the likely invoice of a stray payment; oldest first. */
  exceptions: PaymentException[];
}

/** A Redis MATCH pattern matching `text` in any letter case (ASCII only), glob characters escaped. */
export function caseInsensitivePattern(text: string): string {
  let out = '';
  for (const ch of text) {
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    if (lower !== upper) out += `[${lower}${upper}]`;
    else out += /[*?[\]\\^]/.test(ch) ? `\\${ch}` : ch;
  }
  return out;
}

/**
 * The ledger field holding `query`'s invoice (compared by {@link invoiceKey}), or null. `keyed`: the ledger is
 * keyed by invoice keys (see ledger-rekey.ts): an invoice it holds is under its key, so a miss there is final.
 */
async function ledgerFieldOf(redis: RedisClient, ledgerKey: string, query: string, keyed: boolean): Promise<{ field: string; raw: string } | null> {
  const typed = query.trim();
  const key = invoiceKey(typed);
  const tries = [...new Set([key, typed])];
  const direct = await redis.hmget(ledgerKey, ...tries);
  for (let i = 0; i < tries.length; i += 1) if (direct[i]) return { field: tries[i]!, raw: direct[i]! };
  if (keyed) return null;
  // Redis matches bytes: a pattern can fold the case of ASCII letters only.
  // eslint-disable-next-line no-control-regex
  const pattern = /^[\x00-\x7f]*$/.test(typed) ? caseInsensitivePattern(typed) : '*';
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(ledgerKey, cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    for (let i = 0; i + 1 < flat.length; i += 2) if (invoiceKey(flat[i]!) === key) return { field: flat[i]!, raw: flat[i + 1]! };
  } while (cursor !== '0');
  return null;
}

/** The invoice `query` names, with its link, payment status and exceptions; null when the ledger has no link for it. */
export async function findInvoice(redis: RedisClient, keys: Keys, account: string, query: string): Promise<FoundInvoice | null> {
  const keyed = (await redis.get(keys.ledgerKeyed(account))) === '1';
  const found = await ledgerFieldOf(redis, keys.ledger(account), query, keyed);
  if (found === null) return null;
  const reader = new PaymentStatusReader(redis, keys, account);
  const entry = decodeLedgerEntry(found.raw);
  const status = await reader.store.read(found.field, entry);
  const key = invoiceKey(found.field);
  const names = (n: string | null | undefined) => typeof n === 'string' && invoiceKey(n) === key;
  const exceptions = (await reader.exceptions('all')).filter((e) => names(e.invoiceNumber) || (e.likelyInvoices ?? []).some(names));
  return { invoiceNumber: writtenInvoiceNumber(found.field, entry), entry, status, exceptions };
}
