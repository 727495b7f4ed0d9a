/**
 * The page's "Send links to customers" step (issue 19) in Chromium, against a
 * spawned `paylinks serve` with the simulator and a real SMTP server
 * (`smtp-server`): the preview shows the message the first customer gets,
 * with that invoice's own link and amount, the count and the rows left out;
 * the send is confirmed; the SMTP server receives one message per customer;
 * the progress and a bounce (550) show on the page.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { killSpawned } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv, tempDir } from '../processes/support.js';
import { Client, launchChromium, startServe, TOKEN, type RunningServe } from './support.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');

interface Received {
  to: string[];
  raw: string;
}

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let smtp: SMTPServer;
const received: Received[] = [];
let serve: RunningServe;
let browser: Browser;
let page: Page;
let api: Client;

// The first row with an address has a name that is HTML: the preview must show it as text.
const CSV = [
  'invoice_number,amount,description,email,name,due_date',
  'MAIL-001,120.50,Consulting April,jane@example.com,Jane <b>Doe</b>,2026-12-31',
  'MAIL-002,75.00,Support plan,,Nobody Here,',
  'MAIL-003,980.00,Licences,bob@example.com,Bob Smith,2026-12-15',
  'MAIL-004,12.34,Hosting,not-an-address,Carol,',
  'MAIL-005,1500.00,Project phase 2,bounce@example.com,Dave Gone,',
  'MAIL-006,42.00,Training,erin@example.com,,',
].join('\n');

beforeAll(async () => {
  dir = await tempDir('serve-page-mail');
  prefix = uniquePrefix('pmail');
  await mkdir(SHOTS, { recursive: true });
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address === 'bounce@example.com') {
        const error = new Error('5.1.1 <bounce@example.com>: Recipient address rejected: User unknown') as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  serve = await startServe(
    paylinksEnv({
      redisUrl: testRedisUrl(),
      prefix,
      sim,
      extra: {
        PAYLINKS_API_TOKENS: TOKEN,
        PAYLINKS_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        PAYLINKS_MAIL_FROM: 'Acme Billing <billing@acme.example>',
        PAYLINKS_MAIL_REPLY_TO: 'accounts@acme.example',
        PAYLINKS_MAIL_RATE: '2',
      },
    }),
  );
  api = new Client(serve.url);
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await killSpawned();
  await sim?.close();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

/** The text of a received message's body, quoted-printable undone. */
function bodyOf(raw: string): string {
  return raw
    .slice(raw.indexOf('\r\n\r\n'))
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe('the page: send links to customers, in Chromium', () => {
  it('previews the first customer\'s exact message, sends on confirm, shows progress and the bounce; the SMTP server gets one message per customer', async () => {
    const upload = await api.upload('customers.csv', CSV);
    expect(upload.status, upload.text).toBe(201);
    const batchId = (upload.json as { batch_id: string }).batch_id;
    await api.waitFinished(batchId);
    const links = new Map(sim.ledger().map((e) => [e.invoiceNumber, e]));
    expect(links.size).toBe(6);

    await page.goto(`${serve.url}/#token=${TOKEN}`);
    await expect.poll(() => page.locator('#recent-body tr').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Open customers.csv' }).click();
    await expect.poll(() => page.getByRole('heading', { name: /Done: customers\.csv/ }).isVisible(), { timeout: 20_000 }).toBe(true);
    await page.getByRole('button', { name: 'Send links to customers…' }).click();

    // The preview: 4 to send (Jane, Bob, the bounce, Erin), one row without an address, one with a bad one.
    await expect.poll(() => page.getByRole('heading', { name: /Send links to customers: customers\.csv/ }).isVisible()).toBe(true);
    await expect.poll(() => page.locator('#mail-counts').textContent(), { timeout: 20_000 }).toContain('Will be e-mailed4');
    const counts = await page.locator('#mail-counts').textContent();
    expect(counts).toContain('No e-mail address1');
    expect(counts).toContain('E-mail address not valid1');
    expect(await page.locator('#mail-to').textContent()).toBe('Jane <b>Doe</b> <jane@example.com>');
    expect(await page.locator('#mail-from').textContent()).toBe('Acme Billing <billing@acme.example>');
    expect(await page.locator('#mail-subject').textContent()).toBe('Invoice MAIL-001: $120.50 due December 31, 2026');
    const link = links.get('MAIL-001')!.paymentLink;
    // The HTML body, in its sandboxed frame: that invoice's link and amount; the name is text, not markup.
    const frame = page.frameLocator('#mail-frame');
    await expect.poll(() => frame.locator('body').textContent()).toContain('Dear Jane <b>Doe</b>,');
    expect(await frame.locator('b').count()).toBe(0);
    expect(await frame.getByRole('link', { name: 'Pay $120.50 now' }).getAttribute('href')).toBe(link);
    expect(await page.locator('#mail-frame').getAttribute('sandbox')).toBe('allow-same-origin');
    // The inline styles of the message apply in the preview (through the CSS object model).
    expect(await page.evaluate(`getComputedStyle(document.getElementById('mail-frame').contentDocument.querySelector('a')).backgroundColor`)).toBe('rgb(11, 92, 173)');
    expect(await page.locator('#mail-text').textContent()).toContain(`\n${link}\n`);
    await page.locator('#mail-sample').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, 'mail-01-preview.png'), fullPage: true });
    expect(received).toHaveLength(0); // nothing sent by a preview

    // Confirm, then the progress (2 messages a second: it is visible while it runs).
    await page.getByRole('button', { name: 'Send 4 messages…' }).click();
    expect(await page.locator('#mail-confirm-question').textContent()).toContain('Send 4 e-mails now?');
    await page.getByRole('button', { name: 'Send now' }).click();
    await expect.poll(() => page.locator('#mail-progress-text').textContent(), { timeout: 10_000 }).toMatch(/^\d of 4 messages sent$/);
    await page.screenshot({ path: path.join(SHOTS, 'mail-02-sending.png'), fullPage: true });
    await expect.poll(() => page.locator('#mail-progress-text').textContent(), { timeout: 30_000 }).toBe('Finished: 3 messages sent');
    expect(await page.locator('#mail-progress-detail').textContent()).toContain('1 bounce');
    const bounce = await page.locator('#mail-bounces-body tr').allTextContents();
    expect(bounce).toHaveLength(1);
    expect(bounce[0]).toMatch(/^MAIL-005.*550.*User unknown/);
    await page.screenshot({ path: path.join(SHOTS, 'mail-03-sent.png'), fullPage: true });

    // The SMTP server's log is the truth: one message each, with its own link and amount.
    expect(received.map((m) => m.to[0]).sort()).toEqual(['bob@example.com', 'erin@example.com', 'jane@example.com']);
    for (const [to, invoice, amount] of [['jane@example.com', 'MAIL-001', '120.50'], ['bob@example.com', 'MAIL-003', '980.00'], ['erin@example.com', 'MAIL-006', '42.00']] as const) {
      const body = bodyOf(received.find((m) => m.to[0] === to)!.raw);
      expect(body).toContain(links.get(invoice)!.paymentLink);
      expect(body).toContain(amount);
      for (const [other, entry] of links) if (other !== invoice) expect(body).not.toContain(entry.paymentLink);
      expect(body).not.toContain(TOKEN);
    }

    // Back on the step later: nothing left to send.
    await page.getByRole('button', { name: 'Back to the batch' }).click();
    await page.getByRole('button', { name: 'Send links to customers…' }).click();
    await expect.poll(() => page.locator('#mail-counts').textContent(), { timeout: 20_000 }).toContain('Will be e-mailed0');
    expect(await page.getByRole('button', { name: /^Send \d+ message/ }).isVisible()).toBe(false);
  });
});

describe('the mail routes', () => {
  it('404 for an unknown batch; 409 MAIL_NO_ADDRESS_COLUMN for a file without addresses, shown on the page in words', async () => {
    for (const [method, route] of [['GET', 'mail/preview'], ['POST', 'mail/send'], ['GET', 'mail']] as const) {
      const answer = await api.request(`/api/batches/20990101T000000-abcdef/${route}`, { method });
      expect([answer.status, (answer.json as { code: string }).code]).toEqual([404, 'BATCH_NOT_FOUND']);
    }
    const upload = await api.upload('no-addresses.csv', 'invoice_number,amount\nNOADDR-1,10.00\n');
    expect(upload.status, upload.text).toBe(201);
    const batchId = (upload.json as { batch_id: string }).batch_id;
    await api.waitFinished(batchId);
    const preview = await api.request(`/api/batches/${batchId}/mail/preview`);
    expect([preview.status, (preview.json as { code: string }).code]).toEqual([409, 'MAIL_NO_ADDRESS_COLUMN']);
    const send = await api.request(`/api/batches/${batchId}/mail/send`, { method: 'POST' });
    expect(send.status).toBe(409);

    await page.goto(`${serve.url}/#token=${TOKEN}`);
    await page.getByRole('button', { name: 'Open no-addresses.csv' }).click();
    await page.getByRole('button', { name: 'Send links to customers…' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toContain('no e-mail address column');
    expect(await page.getByRole('button', { name: /^Send \d+ message/ }).isVisible()).toBe(false);
  });
});

describe('a server without mail settings', () => {
  it('previews the message but cannot send: 409 CONFIG_MISSING naming the settings; the page says so and offers no send', async () => {
    const bare = await startServe(paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN } }));
    const client = new Client(bare.url);
    const upload = await client.upload('bare.csv', 'invoice_number,amount,email\nBARE-1,15.00,frank@example.com\n');
    expect(upload.status, upload.text).toBe(201);
    const batchId = (upload.json as { batch_id: string }).batch_id;
    await client.waitFinished(batchId);
    const preview = await client.request(`/api/batches/${batchId}/mail/preview`);
    expect(preview.status, preview.text).toBe(200);
    expect(preview.json).toMatchObject({ configured: false, willSend: 1, sample: { to: 'frank@example.com', from: null, subject: 'Invoice BARE-1: $15.00' } });
    const send = await client.request(`/api/batches/${batchId}/mail/send`, { method: 'POST' });
    expect([send.status, (send.json as { code: string }).code]).toEqual([409, 'CONFIG_MISSING']);
    expect((send.json as { message: string }).message).toContain('PAYLINKS_SMTP_URL');

    await page.goto(`${bare.url}/#token=${TOKEN}`);
    await page.getByRole('button', { name: 'Open bare.csv' }).click();
    await page.getByRole('button', { name: 'Send links to customers…' }).click();
    await expect.poll(() => page.locator('#mail-off').isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.locator('#mail-off').textContent()).toContain('cannot send e-mail yet');
    expect(await page.getByRole('button', { name: 'Send 1 message…' }).isDisabled()).toBe(true);
    expect(received.filter((m) => m.to.includes('frank@example.com'))).toEqual([]);
  });
});
