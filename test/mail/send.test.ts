/**
 * Sending each customer their link (issue 19), against the Paywint simulator
 * and a real SMTP server: what the server received is what customers got.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { runFile, startWorker, writeBatchOutput } from '../../src/index.js';
import { BatchStore } from '../../src/pipeline/batch-store.js';
import { Keys } from '../../src/pipeline/keys.js';
import { openMailQueue } from '../../src/pipeline/mail-job.js';
import { mailProgress, planSend, startSend } from '../../src/mail/sending.js';
import { summarizeBatch } from '../../src/notify/summary.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { readOutputCsv } from '../helpers/csv.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { headerOf, startSmtp, type TestSmtp } from '../helpers/smtp.js';

const API_KEY = '3a1d2c3b-4a5f-4e6d-9c7b-0a1b2c3d4e5f';
const API_SECRET = 'sk_test_mail-send-not-real-Zq81';

let dir: string;
let prefix: string;
let redis: Redis;
let sim: SimulatorHandle;
let smtp: TestSmtp | undefined;

function config(extra: Record<string, string> = {}): Config {
  return loadConfig({
    dotenvPath: false,
    env: {
      PAYWINT_API_KEY: API_KEY,
      PAYWINT_API_SECRET: API_SECRET,
      PAYWINT_BASE_URL: sim.url,
      REDIS_URL: testRedisUrl(),
      PAYLINKS_PREFIX: prefix,
      PAYLINKS_RATE_LIMIT: '500',
      PAYLINKS_CONCURRENCY: '8',
      PAYLINKS_MAIL_FROM: 'Acme Billing <billing@acme.example>',
      PAYLINKS_MAIL_RATE: '200',
      PAYLINKS_MAIL_RETRY_MS: '200',
      ...(smtp ? { PAYLINKS_SMTP_URL: smtp.url } : {}),
      ...extra,
    },
  });
}

/** Soft line breaks of quoted-printable undone (links have no `=`). */
const unfolded = (raw: string) => raw.replace(/=\r?\n/g, '');

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-mail-'));
  prefix = uniquePrefix('mail');
  redis = new Redis(testRedisUrl());
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
});

afterEach(async (context) => {
  await sim.close();
  await smtp?.close();
  smtp = undefined;
  redis.disconnect();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

async function writeFileOf(lines: string[]): Promise<string> {
  const file = path.join(dir, 'may.csv');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

describe('paylinks run --send', () => {
  it('each valid row with an address gets exactly one message with its own link and amount; 550 ends the row with the reply; 4xx is retried', async () => {
    smtp = await startSmtp((to, nth) => {
      if (to === 'nobody@bounce.example') return { code: 550, text: '5.1.1 <nobody@bounce.example>: mailbox unknown' };
      if (to === 'busy@slow.example' && nth <= 2) return { code: 451, text: '4.7.1 try again later' };
      return undefined;
    });
    const lines = ['invoice_number,amount,description,customer_email,customer_name,due_date'];
    for (let i = 1; i <= 20; i++) lines.push(`INV-${i},${i}.50,Work ${i},c${i}@example.com,Customer ${i},2030-01-${String(i).padStart(2, '0')}`);
    lines.push('INV-21,21.00,Bad address,not-an-address,Bad,');
    lines.push('INV-22,22.00,No address,,Nobody,');
    lines.push('INV-23,23.00,Bounce,nobody@bounce.example,"Evil\r\nBcc: victim@example.com",');
    lines.push('INV-24,24.00,Slow,busy@slow.example,Slow,');
    lines.push('INV-25,-1,Invalid row,c25@example.com,X,');
    const file = await writeFileOf(lines);

    const run = await runFile({ file, config: config(), logger: silentLogger(), send: true });
    expect(run.batch.counts.created).toBe(24);
    // run waits for the messages it can send now; a message refused for now waits for its retry.
    const first = await readOutputCsv(run.outputFile!);
    expect(first.rows.find((r) => r.invoice_number === 'INV-24')!.email_status).toMatch(/^(retrying: 451 4\.7\.1 try again later|sent)$/);

    // Any process running workers sends the retries.
    const keys = new Keys(prefix);
    const store = new BatchStore(redis, keys);
    const worker = await startWorker({ redisUrl: testRedisUrl(), credentials: { apiKey: API_KEY, apiSecret: API_SECRET }, baseUrl: sim.url, settings: config(), logger: silentLogger(), mail: config().mail });
    try {
      const deadline = Date.now() + 20_000;
      while (smtp.messages.length < 21 && Date.now() < deadline) await sleep(50);
    } finally {
      await worker.close();
    }
    const outputFile = path.join(dir, 'again.out.csv');
    await writeBatchOutput(store, run.batchId, outputFile);
    const out = await readOutputCsv(outputFile);
    const byInvoice = new Map(out.rows.map((r) => [r.invoice_number, r]));
    expect(out.headers.slice(-4)).toEqual(['emailed_at', 'email_status', 'reminders_sent', 'last_reminder_at']);

    // The server's messages are the truth: one per valid row with a good address (20 + the slow one), none else.
    const to = smtp.messages.map((m) => m.to).sort();
    const expected = [...Array.from({ length: 20 }, (_, i) => `c${i + 1}@example.com`), 'busy@slow.example'].sort();
    expect(to).toEqual(expected);
    for (let i = 1; i <= 20; i++) {
      const message = smtp.messages.find((m) => m.to === `c${i}@example.com`)!;
      const row = byInvoice.get(`INV-${i}`)!;
      const body = unfolded(message.raw);
      expect(body).toContain(row.payment_link);
      expect(body).toContain(`${i}.50`);
      expect(headerOf(message.raw, 'Subject')).toContain(`INV-${i}`);
      expect(row.email_status).toBe('sent');
      expect(Date.parse(row.emailed_at!)).toBeGreaterThan(0);
      expect(row.reminders_sent).toBe('0');
    }
    // Every link in every message is the one recorded for its invoice, and no one else's.
    const links = out.rows.filter((r) => r.payment_link).map((r) => r.payment_link!);
    for (const m of smtp.messages) expect(links.filter((l) => unfolded(m.raw).includes(l))).toHaveLength(1);

    expect(byInvoice.get('INV-21')!.email_status).toMatch(/^not sent: the e-mail address "not-an-address" has no @/);
    expect(byInvoice.get('INV-21')!.status).toBe('created');
    expect(byInvoice.get('INV-22')!.email_status).toBe('no address');
    expect(byInvoice.get('INV-23')!.email_status).toBe('bounced: 550 5.1.1 <nobody@bounce.example>: mailbox unknown');
    expect(byInvoice.get('INV-24')!.email_status).toBe('sent');
    expect(smtp.refused.filter((r) => r.to === 'busy@slow.example').map((r) => r.code)).toEqual([451, 451]);
    expect(byInvoice.get('INV-25')!.email_status).toBe('');

    // A name with CR/LF cannot add a header; no secret, key or token in any message.
    for (const m of smtp.messages) {
      expect(m.raw).not.toContain(API_SECRET);
      expect(m.raw).not.toContain(API_KEY);
      expect(m.raw).not.toMatch(/^Bcc:/im);
      expect(headerOf(m.raw, 'From')).toBe('Acme Billing <billing@acme.example>');
    }

    const queue = openMailQueue(redis, keys);
    try {
      const ctx = { redis, keys, store, queue, settings: config().mail };
      const progress = await mailProgress(ctx, run.batchId);
      expect(progress).toMatchObject({ queued: 0, sent: 21, failed: 0, unknown: 0 });
      expect(progress.bounced).toEqual([{ invoiceNumber: 'INV-23', reply: '550 5.1.1 <nobody@bounce.example>: mailbox unknown' }]);
      // The batch notification counts them.
      const summary = await summarizeBatch(store, (await store.get(run.batchId))!, { outputName: 'may.out.csv', attached: true });
      expect(summary.text).toContain('E-mails:        21 sent, 1 bounced, 0 failed, 0 unknown, 0 waiting (of 22 to customers)');
      // A second send sends nothing new.
      const plan = await planSend(ctx, run.batchId);
      expect(plan.willSend).toBe(0);
      expect(plan.skipped).toMatchObject({ 'already-sent': 22, 'invalid-address': 1, 'no-address': 1, 'no-link': 1 });
      expect(await startSend(ctx, run.batchId)).toEqual({ queued: 0 });
    } finally {
      await queue.close();
    }
  }, 60_000);

  it('refuses --send for a file without an address column, before anything is sent', async () => {
    smtp = await startSmtp();
    const file = await writeFileOf(['invoice_number,amount', 'INV-1,1.00']);
    await expect(runFile({ file, config: config(), logger: silentLogger(), send: true })).rejects.toMatchObject({ code: 'MAIL_NO_ADDRESS_COLUMN' });
    await sleep(100);
    expect(sim.ledger()).toHaveLength(0);
  });
});
