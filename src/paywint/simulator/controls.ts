/**
 * The simulator's payment controls (tests and demos only; never part of
 * Paywint's API, no credentials): read the ground truth of every payment,
 * move a payment to another state, make a link behind paylinks' back.
 *
 * - `GET  /__simulator/payments`: every payment ({@link SimulatorPayment}).
 * - `POST /__simulator/payments/{payment_id}` `{"to": "opened"|"processing"|"expired"|"retry"}`,
 *   `{"to": "paid", "amountCents"?, "paidAt"?}`, `{"to": "failed"|"rejected", "reason"?}`:
 *   the payment after the move (for `retry`, the new payment).
 * - `POST /__simulator/stray` `{"amountCents", "invoiceNumber"?, "description"?}`: a link made
 *   at the simulator as if by someone else, not counted as a request.
 * - `GET  /__simulator/webhooks`: every event and what happened to it; `POST /__simulator/webhooks`
 *   `{"url"?, "lostRate"?, ...}`: change the delivery settings; `POST /__simulator/webhooks/idle`:
 *   answers once every delivery is done (at most `?timeoutMs=`, default 60000; 504 when not done).
 */
import { z } from 'zod';
import type { LedgerEntry, SimulatorLedger } from './ledger.js';
import { PaymentMoveError, type PaymentBook, type PaymentMove } from './payments.js';
import type { WebhookSender } from './webhooks.js';

/** An HTTP status and a JSON body. */
export interface ControlAnswer {
  status: number;
  body: unknown;
}

/** A link made behind paylinks' back. */
export interface StrayLink {
  amountCents: number;
  invoiceNumber?: string | null;
  description?: string | null;
}

const PAYMENTS = '/__simulator/payments';

export const MoveSchema = z.union([
  z.object({ to: z.enum(['opened', 'processing', 'expired', 'retry']) }).strict(),
  z.object({ to: z.literal('paid'), amountCents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(), paidAt: z.string().max(64).optional() }).strict(),
  z.object({ to: z.enum(['failed', 'rejected']), reason: z.string().max(255).optional() }).strict(),
]);
const StraySchema = z
  .object({
    amountCents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    invoiceNumber: z.string().max(20).nullish(),
    description: z.string().max(255).nullish(),
  })
  .strict();

/** Makes a stray link: in the ledger like any other, marked stray in the payment book. */
export function createStrayLink(ledger: SimulatorLedger, payments: PaymentBook, input: StrayLink): LedgerEntry {
  const stray = StraySchema.parse(input);
  const cents = stray.amountCents;
  const entry = ledger.create({
    amount: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
    amountCents: cents,
    invoiceNumber: stray.invoiceNumber ?? null,
    description: stray.description ?? null,
  });
  payments.markStray(entry.paymentId);
  return entry;
}

/** Moves a payment; throws {@link PaymentMoveError} (400 for a bad move, 404 for an unknown payment). */
export function movePayment(payments: PaymentBook, paymentId: string, move: PaymentMove): ReturnType<PaymentBook['move']> {
  const checked = MoveSchema.safeParse(move);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new PaymentMoveError(400, `bad move: ${issue === undefined ? 'invalid' : `${issue.path.join('.') || 'body'}: ${issue.message}`}`);
  }
  return payments.move(paymentId, checked.data);
}

/** Answers a `/__simulator/payments` or `/__simulator/stray` request; undefined for any other route. */
export function paymentControl(ledger: SimulatorLedger, payments: PaymentBook, method: string, path: string, body: string): ControlAnswer | undefined {
  if (method === 'GET' && path === PAYMENTS) return { status: 200, body: payments.all() };
  if (method === 'POST' && path.startsWith(`${PAYMENTS}/`)) {
    const json = parseJson(body);
    if (json === undefined) return { status: 400, body: { detail: 'expected a JSON object such as {"to": "paid"}' } };
    try {
      return { status: 200, body: movePayment(payments, safeDecode(path.slice(PAYMENTS.length + 1)), json as PaymentMove) };
    } catch (error) {
      if (error instanceof PaymentMoveError) return { status: error.status, body: { detail: error.message } };
      throw error;
    }
  }
  if (method === 'POST' && path === '/__simulator/stray') {
    const stray = StraySchema.safeParse(parseJson(body));
    if (!stray.success) return { status: 400, body: { detail: `expected {"amountCents", "invoiceNumber"?, "description"?}: ${stray.error.issues[0]?.message ?? 'invalid'}` } };
    return { status: 200, body: createStrayLink(ledger, payments, stray.data) };
  }
  return undefined;
}

/** Answers a `/__simulator/webhooks` request; undefined for any other route. */
export async function webhookControl(sender: WebhookSender, method: string, path: string, query: string, body: string): Promise<ControlAnswer | undefined> {
  if (method === 'GET' && path === '/__simulator/webhooks') return { status: 200, body: { settings: sender.settings(), records: sender.records() } };
  if (method === 'POST' && path === '/__simulator/webhooks') {
    try {
      sender.set(parseJson(body) ?? {});
    } catch (error) {
      return { status: 400, body: { detail: error instanceof Error ? error.message : String(error) } };
    }
    return { status: 200, body: sender.settings() };
  }
  if (method === 'POST' && path === '/__simulator/webhooks/idle') {
    const asked = Number(new URLSearchParams(query).get('timeoutMs') ?? 60_000);
    const timeoutMs = Number.isFinite(asked) ? Math.min(Math.max(asked, 0), 600_000) : 60_000;
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      sender.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done ? { status: 200, body: { idle: true } } : { status: 504, body: { idle: false, detail: `deliveries still pending after ${timeoutMs} ms` } };
  }
  return undefined;
}

function parseJson(body: string): unknown {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
