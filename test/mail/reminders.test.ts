/**
 * Reminders (issue 19 item 5) against the simulator and a real SMTP server:
 * delayed jobs queued when the first message went out; none to a paid
 * invoice; none inside the quiet hours (an injected clock).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendMailProcessor } from '../../jobs/send-mail.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { runFile, writeBatchOutput } from '../../src/index.js';
import { BatchStore } from '../../src/pipeline/batch-store.js';
import { Keys } from '../../src/pipeline/keys.js';
import { decodeLedgerEntry, ledgerField } from '../../src/pipeline/ledger.js';
import { openMailQueue } from '../../src/pipeline/mail-job.js';
import { startMailWorker } from '../../src/pipeline/mail-worker.js';
import { PaymentStatusStore } from '../../src/pipeline/payment-status/store.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { readOutputCsv } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { headerOf, startSmtp, type TestSmtp } from '../helpers/smtp.js';

const API_KEY = '4b1d2c3b-4a5f-4e6d-9c7b-0a1b2c3d4e5f';
const API_SECRET = 'sk_test_mail-reminders-not-real-Pq3';

let dir: string;
let prefix: string;
let redis: Redis;
let sim: SimulatorHandle;
let smtp: TestSmtp;

function config(): Config {
  return loadConfig({
    dotenvPath: false,
    env: {
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      REDIS_URL: testRedisUrl(),
      PAYLINKS_PREFIX: prefix,
      PAYLINKS_RATE_LIMIT: '500',
      PAYLINKS_MAIL_FROM: 'billing@acme.example',
      PAYLINKS_MAIL_RATE: '100',
      PAYLINKS_SMTP_URL: smtp.url,
      PAYLINKS_REMINDERS: '3d,7d',
      PAYLINKS_QUIET_HOURS: '21:00-08:00',
      PAYLINKS_TIMEZONE: 'America/New_York',
    },
  });
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-remind-'));
  prefix = uniquePrefix('remind');
  redis = new Redis(testRedisUrl());
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  smtp = await startSmtp();
});

afterEach(async (context) => {
  await sim.close();
  await smtp.close();
  redis.disconnect();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

describe('reminders', () => {
  it('go out as delayed jobs, only to unpaid invoices, never inside the quiet hours', async () => {
    const file = path.join(dir, 'june.csv');
    await writeFile(file, 'invoice,amount,email,name\nR-1,10.00,one@example.com,One\nR-2,20.00,two@example.com,Two\nR-3,30.00,three@example.com,Three\n');
    const run = await runFile({ file, config: config(), logger: silentLogger(), send: true });
    expect(smtp.messages.map((m) => m.to).sort()).toEqual(['one@example.com', 'three@example.com', 'two@example.com']);

    const keys = new Keys(prefix);
    const queue = openMailQueue(redis, keys);
    const delayed = await queue.getDelayed();
    // Two reminders per invoice, 3 and 7 days after the first message (moved out of the quiet hours).
    expect(delayed.map((j) => `${(j.data as { invoiceNumber: string }).invoiceNumber}:${(j.data as { kind: string }).kind}`).sort()).toEqual(['R-1:reminder1', 'R-1:reminder2', 'R-2:reminder1', 'R-2:reminder2', 'R-3:reminder1', 'R-3:reminder2']);
    for (const j of delayed) expect(j.delay).toBeGreaterThanOrEqual((j.data as { kind: string }).kind === 'reminder1' ? 3 * 86_400_000 - 3_600_000 : 7 * 86_400_000 - 3_600_000);

    // R-2 is paid.
    const payments = new PaymentStatusStore(redis, keys, API_KEY);
    await payments.ensureIndexed();
    const entry = decodeLedgerEntry((await redis.hget(keys.ledger(API_KEY), ledgerField('R-2')))!);
    await payments.record('R-2', entry, { state: 'paid', paymentId: entry.paymentId, amountCents: 2000, paidAt: new Date().toISOString(), failureReason: null, observedAtMs: Date.now(), by: 'sweep' });

    // 22:30 in New York: inside the quiet hours. A reminder due now waits for 08:00.
    const night = Date.parse('2030-01-16T03:30:00Z');
    let worker = await startMailWorker({ redisUrl: testRedisUrl(), keys, settings: config().mail, logger: silentLogger(), processor: sendMailProcessor, now: () => night, pollMs: 60_000 });
    try {
      const r1 = delayed.find((j) => j.data.invoiceNumber === 'R-1' && j.data.kind === 'reminder1')!;
      await r1.promote();
      await waitFor(async () => (await queue.getJobState(r1.id!)) === 'delayed');
      await sleep(300);
      expect(smtp.messages).toHaveLength(3);
      const score = Number(await redis.zscore(`${keys.bullPrefix}:mail:delayed`, r1.id!));
      expect(new Date(Math.floor(score / 4096)).toISOString()).toBe('2030-01-16T13:00:00.000Z');
    } finally {
      await worker.close();
    }

    // 10:00 in New York: every reminder due is sent, but none to the paid invoice.
    const day = Date.parse('2030-01-16T15:00:00Z');
    worker = await startMailWorker({ redisUrl: testRedisUrl(), keys, settings: config().mail, logger: silentLogger(), processor: sendMailProcessor, now: () => day, pollMs: 60_000 });
    try {
      await queue.promoteJobs();
      await waitFor(async () => {
        const c = await queue.getJobCounts('delayed', 'wait', 'active');
        return (c.delayed ?? 0) + (c.wait ?? 0) + (c.active ?? 0) === 0;
      });
      await sleep(300);
    } finally {
      await worker.close();
      await queue.close();
    }
    const reminders = smtp.messages.slice(3);
    expect(reminders.map((m) => m.to).sort()).toEqual(['one@example.com', 'one@example.com', 'three@example.com', 'three@example.com']);
    for (const m of reminders) expect(headerOf(m.raw, 'Message-ID')).toMatch(/^<reminder[12]\./);

    const out = path.join(dir, 'june.out.csv');
    await writeBatchOutput(new BatchStore(redis, keys), run.batchId, out);
    const rows = new Map((await readOutputCsv(out)).rows.map((r) => [r.invoice, r]));
    expect(rows.get('R-1')).toMatchObject({ email_status: 'sent', reminders_sent: '2', last_reminder_at: new Date(day).toISOString() });
    expect(rows.get('R-2')).toMatchObject({ email_status: 'sent', reminders_sent: '0', last_reminder_at: '' });
  }, 60_000);
});
