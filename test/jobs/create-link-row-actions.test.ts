/**
 * What a create-link row does next: pure units with inline data, one per
 * claim outcome and per kind of failed request.
 */
import { describe, expect, it } from 'vitest';
import { PaylinksError, PaywintError } from '../../src/core/errors.js';
import type { Claim } from '../../src/pipeline/ledger.js';
import { claimAction, failureAction, type RowContext, type WorkRow } from '../../jobs/create-link/row-actions.js';

const row: WorkRow = { row: 7, invoiceNumber: 'INV-7', amountCents: 8999, description: 'Consulting' };
const ctx: RowContext = { batchId: 'b1', apiKey: 'key-of-this-worker-1234', maxAttempts: 3, retryWindowMs: 60_000, unknownOutcomeRetries: 1 };
const entry = { paymentId: 'pay_1', paymentLink: 'https://pay.example/pay_1', amountCents: 8999, description: 'Consulting', batchId: 'b0', row: 0, createdAt: '2026-11-23T00:00:00Z' };

function claim(over: Partial<Claim> = {}): Claim {
  return { owner: 'b1-0-10', attempts: 0, unknown: 0, inFlight: 0, firstAt: Date.now(), ...over };
}

describe('claimAction', () => {
  it('skips a row recorded before and stops on a gone or stopped batch', () => {
    expect(claimAction({ kind: 'recorded' }, row, ctx)).toEqual({ kind: 'skip' });
    expect(claimAction({ kind: 'no-batch' }, row, ctx)).toEqual({ kind: 'stop' });
    expect(claimAction({ kind: 'stopped' }, row, ctx)).toEqual({ kind: 'stop' });
  });

  it('records ACCOUNT_MISMATCH, naming both keys by their last four characters and the retry command', () => {
    const action = claimAction({ kind: 'other-account', account: 'key-of-the-batch-abcd' }, row, ctx);
    expect(action).toMatchObject({ kind: 'record', withClaim: false, result: { status: 'failed', errorCode: 'ACCOUNT_MISMATCH', attempts: 0 } });
    if (action.kind !== 'record') throw new Error('not a record action');
    expect(action.accountMismatch).toContain('…abcd');
    expect(action.accountMismatch).toContain('…1234');
    expect(action.accountMismatch).toContain('paylinks retry b1');
    expect(action.accountMismatch).not.toContain('key-of-this-worker');
  });

  it('records an existing link as exists, and a link for another amount as a conflict that names both', () => {
    expect(claimAction({ kind: 'exists', entry }, row, ctx)).toEqual({
      kind: 'record',
      withClaim: false,
      result: { status: 'exists', paymentId: 'pay_1', paymentLink: 'https://pay.example/pay_1', attempts: 0 },
    });
    const conflict = claimAction({ kind: 'conflict', entry: { ...entry, amountCents: 100, description: null } }, row, ctx);
    expect(conflict).toMatchObject({ kind: 'record', withClaim: false, result: { status: 'conflict', errorCode: 'LEDGER_CONFLICT' } });
    if (conflict.kind !== 'record') throw new Error('not a record action');
    expect(conflict.result.errorMessage).toBe('invoice INV-7 already has link pay_1 for 1.00; this row says 89.99 ("Consulting"). Not sent');
  });

  it('asks about the holder of a busy claim', () => {
    expect(claimAction({ kind: 'busy', claim: claim({ owner: 'b2-0-5' }) }, row, ctx)).toEqual({ kind: 'busy', holder: 'b2-0-5' });
  });

  it('sends a claimed row within its budget, and one whose claim began its first attempt whatever the budget says', () => {
    const fresh = claim();
    expect(claimAction({ kind: 'claimed', claim: fresh }, row, ctx)).toEqual({ kind: 'send', claim: fresh, attempt: undefined });
    const spent = claim({ attempts: 3 });
    expect(claimAction({ kind: 'claimed', claim: spent, attempt: 'a1' }, row, ctx)).toEqual({ kind: 'send', claim: spent, attempt: 'a1' });
  });

  it('fails a claimed row whose budget is spent with the last error code, keeping the claim to release it, and flags unknown outcomes', () => {
    const spent = claim({ attempts: 3, lastCode: 'PAYWINT_TIMEOUT', lastMessage: 'no answer within 10 s', unknown: 1 });
    const action = claimAction({ kind: 'claimed', claim: spent }, row, ctx);
    expect(action).toMatchObject({ kind: 'record', withClaim: true, result: { status: 'failed', errorCode: 'PAYWINT_TIMEOUT', attempts: 3 } });
    if (action.kind !== 'record') throw new Error('not a record action');
    expect(action.result.errorMessage).toBe(
      'gave up after 3 requests over the retry window; the last: no answer within 10 s; 1 earlier request for this invoice got no clear answer (no answer, or one without a usable link); Paywint may hold a link for it: look for it before sending it again',
    );
    expect(action.result.maybeLinked).toBe(true);
    const old = claim({ attempts: 1, firstAt: Date.now() - 120_000, lastCode: 'NOT_A_PAYWINT_CODE' });
    expect(claimAction({ kind: 'claimed', claim: old }, row, ctx)).toMatchObject({ kind: 'record', result: { errorCode: 'PAYWINT_SERVER_ERROR' } });
  });

  it('records UNKNOWN_OUTCOME without sending once the unknown outcomes are over PAYLINKS_UNKNOWN_OUTCOME_RETRIES, unless a person accepted them', () => {
    const twice = claim({ unknown: 2 });
    const action = claimAction({ kind: 'claimed', claim: twice }, row, ctx);
    expect(action).toMatchObject({ kind: 'record', withClaim: true, result: { status: 'failed', errorCode: 'UNKNOWN_OUTCOME', attempts: 0, maybeLinked: true } });
    if (action.kind !== 'record') throw new Error('not a record action');
    expect(action.result.errorMessage).toMatch(/^2 requests for this invoice got no clear answer .*Paywint may hold a link for each: not sent again without your say-so.*`paylinks retry b1 --include-unknown`/);
    expect(claimAction({ kind: 'claimed', claim: claim({ unknown: 1 }) }, row, ctx)).toMatchObject({ kind: 'send' });
    expect(claimAction({ kind: 'claimed', claim: claim({ unknown: 2, accepted: 2 }) }, row, ctx)).toMatchObject({ kind: 'send' });
    expect(claimAction({ kind: 'claimed', claim: claim({ unknown: 3, accepted: 2 }) }, row, ctx)).toMatchObject({ kind: 'record', result: { errorCode: 'UNKNOWN_OUTCOME' } });
    expect(claimAction({ kind: 'claimed', claim: claim({ unknown: 1 }) }, row, { ...ctx, unknownOutcomeRetries: 0 })).toMatchObject({ kind: 'record', result: { errorCode: 'UNKNOWN_OUTCOME' } });
  });
});

describe('failureAction', () => {
  const base = { batchId: 'b1', maxAttempts: 3, retryWindowMs: 60_000, unknownOutcomeRetries: 1, runs: 0, maxRuns: 10, aborted: false };
  const serverError = new PaywintError('PAYWINT_SERVER_ERROR', 'HTTP 500', { retryable: true });

  it('pauses everyone on a 429 within budget, for its Retry-After', () => {
    const limited = new PaywintError('PAYWINT_RATE_LIMITED', 'HTTP 429', { retryable: true, retryAfterMs: 2_000 });
    const action = failureAction(limited, claim({ attempts: 1 }), base);
    expect(action.kind).toBe('pause');
    if (action.kind !== 'pause') throw new Error('not a pause');
    expect(action.pauseMs).toBe(2_000);
  });

  it('stops the batch on PAYWINT_AUTH, even while shutting down', () => {
    const auth = new PaywintError('PAYWINT_AUTH', 'HTTP 401', { retryable: false });
    expect(failureAction(auth, claim({ attempts: 1 }), { ...base, aborted: true })).toMatchObject({ kind: 'stop-batch', result: { status: 'failed', errorCode: 'PAYWINT_AUTH', attempts: 1 } });
  });

  it('leaves the row to its chunk while shutting down', () => {
    expect(failureAction(serverError, claim({ attempts: 1 }), { ...base, aborted: true })).toEqual({ kind: 'interrupted' });
  });

  it('retries a retryable error later, in a job of its own with the next run count, while budget and runs are left', () => {
    expect(failureAction(serverError, claim({ attempts: 1 }), { ...base, runs: 2 })).toMatchObject({ kind: 'retry-later', runs: 3 });
    expect(failureAction(serverError, claim({ attempts: 1 }), { ...base, runs: 9 })).toMatchObject({ kind: 'record', result: { errorCode: 'PAYWINT_SERVER_ERROR' } });
    expect(failureAction(serverError, claim({ attempts: 3 }), base)).toMatchObject({ kind: 'record', result: { errorCode: 'PAYWINT_SERVER_ERROR', attempts: 3 } });
  });

  it('fails a row at once on an error no retry can help', () => {
    const invalid = new PaylinksError('PAYWINT_VALIDATION', 'HTTP 422: amount', { retryable: false });
    expect(failureAction(invalid, claim({ attempts: 2, unknown: 1 }), base)).toMatchObject({
      kind: 'record',
      result: { status: 'failed', errorCode: 'PAYWINT_VALIDATION', attempts: 2, maybeLinked: true, errorMessage: expect.stringContaining('; 1 earlier request for this invoice got no clear answer') },
    });
  });

  it('counts only the earlier unknown outcomes in its note, never the request that just failed', () => {
    const timeout = new PaywintError('PAYWINT_TIMEOUT', 'Paywint did not answer within 300 ms; the link may have been created', { retryable: true, outcomeUnknown: true });
    // The first unanswered request: its own message says what happened, no note; the row may have a link.
    const first = failureAction(timeout, claim({ attempts: 1, unknown: 1 }), { ...base, runs: 9 });
    expect(first).toMatchObject({ kind: 'record', result: { errorCode: 'PAYWINT_TIMEOUT', maybeLinked: true, errorMessage: timeout.message } });
    // An answered failure after it: one earlier request, not two.
    const answered = failureAction(serverError, claim({ attempts: 2, unknown: 1 }), { ...base, runs: 9 });
    if (answered.kind !== 'record') throw new Error('not a record action');
    expect(answered.result.errorMessage).toMatch(/^HTTP 500; 1 earlier request for this invoice got no clear answer/);
    // A 200 that was not a link (data: null): answered, so never "got no answer"; a link may exist.
    const noData = new PaywintError('PAYWINT_PROTOCOL', 'Paywint answered 200 with success: true but no data; the link may have been created', { outcomeUnknown: true });
    const protocol = failureAction(noData, claim({ attempts: 1, unknown: 1 }), base);
    expect(protocol).toMatchObject({ kind: 'record', result: { errorCode: 'PAYWINT_PROTOCOL', maybeLinked: true, errorMessage: noData.message } });
  });

  it('a second unknown outcome ends the row UNKNOWN_OUTCOME at once, whatever its budget: no later run would send it', () => {
    const timeout = new PaywintError('PAYWINT_TIMEOUT', 'Paywint did not answer within 300 ms; the link may have been created', { retryable: true, outcomeUnknown: true });
    const action = failureAction(timeout, claim({ attempts: 2, unknown: 2, lastMessage: timeout.message }), base);
    expect(action).toMatchObject({ kind: 'record', result: { status: 'failed', errorCode: 'UNKNOWN_OUTCOME', attempts: 2, maybeLinked: true } });
    if (action.kind !== 'record') throw new Error('not a record action');
    expect(action.result.errorMessage).toContain('2 requests for this invoice got no clear answer (no answer, or one without a usable link), the last: Paywint did not answer within 300 ms');
    // One unknown outcome: retried, once.
    expect(failureAction(timeout, claim({ attempts: 1, unknown: 1 }), base)).toMatchObject({ kind: 'retry-later' });
  });
});
