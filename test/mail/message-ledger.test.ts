/**
 * The exactly-once steps of a message (issue 19 item 3), on real Redis and a
 * real SMTP server: a message withdrawn before its end is never taken; a run
 * that lost its claim cannot commit; a commit whose run died becomes unknown,
 * once, and is never claimed again.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpSender } from '../../src/mail/smtp.js';
import { Keys } from '../../src/pipeline/keys.js';
import { MailLedger } from '../../src/pipeline/mail-ledger.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const ACCOUNT = '5d1d2c3b-4a5f-4e6d-9c7b-0a1b2c3d4e5f';
let redis: Redis;
let prefix: string;
let smtp: TestSmtp;

beforeEach(async () => {
  redis = new Redis(testRedisUrl());
  prefix = uniquePrefix('msg');
  smtp = await startSmtp();
});

afterEach(async () => {
  await smtp.close();
  redis.disconnect();
  await deletePrefix(testRedisUrl(), prefix);
});

const message = Buffer.from('From: a@acme.example\r\nTo: b@example.com\r\nSubject: x\r\n\r\nPay here: https://pay.paywint.com/l/1\r\n');

describe('the message ledger and the SMTP hand-over', () => {
  it('a message withdrawn before its end never reaches the server; one committed does, once', async () => {
    const sender = new SmtpSender({ url: smtp.url, connections: 1 });
    try {
      expect(await sender.send({ from: 'a@acme.example', to: 'b@example.com' }, message, async () => false)).toEqual({ kind: 'withdrawn' });
      expect(await sender.send({ from: 'a@acme.example', to: 'c@example.com' }, message, async () => true)).toMatchObject({ kind: 'accepted' });
      await new Promise((r) => setTimeout(r, 200));
      expect(smtp.messages.map((m) => m.to)).toEqual(['c@example.com']);
    } finally {
      sender.close();
    }
  });

  it('only the attempt holding the claim commits; a commit without an end becomes unknown once, never sent again', async () => {
    const keys = new Keys(prefix);
    await redis.hset(keys.batch('b1'), 'id', 'b1');
    const ledger = new MailLedger(redis, keys, ACCOUNT);
    expect(await ledger.claim('b1', 'inv-7', 'first', 'run-1')).toEqual({ kind: 'claimed' });
    // run-1 lost its lock; run-2 takes the message over before run-1 committed.
    expect(await ledger.claim('b1', 'INV-7', 'first', 'run-2')).toEqual({ kind: 'claimed' });
    expect(await ledger.commit('inv-7', 'first', 'run-1')).toBe(false);
    expect(await ledger.commit('INV-7', 'first', 'run-2')).toBe(true);
    // run-2 is killed before the answer: the next run flags it, and the one after finds it ended.
    expect(await ledger.claim('b1', 'INV-7', 'first', 'run-3')).toEqual({ kind: 'unknown' });
    expect(await ledger.claim('b1', 'INV-7', 'first', 'run-4')).toMatchObject({ kind: 'done', record: { state: 'unknown' } });
    expect(await redis.hget(keys.batch('b1'), 'mail_unknown')).toBe('1');
    // The answer came after all: recorded, counted once.
    expect(await ledger.end('b1', 'INV-7', 'first', 'run-2', 'sent', null)).toBe(true);
    expect(await redis.hmget(keys.batch('b1'), 'mail_unknown', 'mail_sent')).toEqual(['0', '1']);
    // A reminder is its own message.
    expect(await ledger.claim('b1', 'INV-7', 'reminder1', 'run-5')).toEqual({ kind: 'claimed' });
  });
});
