/**
 * The collection view and the invoice search in a real browser (Debian's
 * Chromium), against a real serve (in this process) whose webhook route the
 * Paywint simulator calls as it pays links, and real Redis: a finance person
 * opens a batch's payments, reads who paid and what needs attention in words,
 * sees a payment arrive without reloading, finds an invoice of an older file,
 * and is told plainly when an invoice does not exist. Also at 390 px wide.
 * Screenshots go to test-results/screenshots/.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { connect } from '../../src/core/redis.js';
import { Keys } from '../../src/pipeline/keys.js';
import { decodeLedgerEntry, encodeLedgerEntry } from '../../src/pipeline/ledger.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { startServer, type ServerHandle } from '../../src/serve/server.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv } from '../processes/support.js';
import { Client, launchChromium, TOKEN } from './support.js';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'screenshots');
const SECRET = 'whsec-0123456789-abcdefghijklmnopqrstuv';

let prefix: string;
let sim: SimulatorHandle;
let server: ServerHandle;
let api: Client;
let browser: Browser;
let page: Page;

const JUNE = [
  'invoice_number,amount,description',
  'JUN-001,100.00,June rent',
  'JUN-002,250.50,Consulting',
  'JUN-003,80.00,Supplies',
  'JUN-004,45.25,Hosting',
  'JUN-005,120.00,Training',
  'JUN-006,60.00,Support',
  ',10.00,A row without its invoice number',
].join('\n');

interface Invoice {
  payment_id: string;
  payment_link: string;
  payment_status: string;
  exceptions: unknown[];
}

async function uploaded(name: string, csv: string): Promise<string> {
  const a = await api.upload(name, csv);
  expect(a.status).toBe(201);
  const id = (a.json as { batch_id: string }).batch_id;
  await api.waitFinished(id);
  return id;
}

const invoice = async (n: string) => (await api.request(`/api/invoices/${n}`)).json as Invoice;

/** Waits (outside a test too) until `read` gives `want`. */
async function until<T>(read: () => Promise<T>, want: T, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await read();
    if (v === want) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${String(v)}, not ${String(want)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pays (or fails, expires) an invoice's link at the simulator, and waits until paylinks has recorded it through its webhook. */
async function move(n: string, to: 'paid' | 'failed' | 'expired', state: string, amountCents?: number): Promise<void> {
  const { payment_id } = await invoice(n);
  sim.movePayment(payment_id, to === 'paid' ? { to, ...(amountCents ? { amountCents } : {}) } : to === 'failed' ? { to, reason: 'card declined' } : { to });
  await until(async () => (await invoice(n)).payment_status, state, `${n}'s status`);
}

function shot(name: string, p: Page = page): Promise<Buffer> {
  return p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** WCAG's contrast ratio of a CSS `rgb(...)` colour against white. */
function contrastOnWhite(rgb: string): number {
  const [r, g, b] = (/rgba?\((\d+), (\d+), (\d+)/.exec(rgb) ?? []).slice(1).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 1.05 / (0.2126 * r! + 0.7152 * g! + 0.0722 * b! + 0.05);
}

beforeAll(async () => {
  prefix = uniquePrefix('pagecoll');
  await mkdir(SHOTS, { recursive: true });
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_WEBHOOK_SECRET: SECRET, PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_HTTP_PORT: '0', PAYLINKS_LOG_LEVEL: 'silent' } });
  server = await startServer({ config: loadConfig({ dotenvPath: false, env }), logger: silentLogger(), eventsIntervalMs: 300 });
  sim.setWebhooks({ url: `${server.url}/webhooks/paywint/${SECRET}` });
  api = new Client(server.url);
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true })).newPage();

  // An older file, its links made 40 days ago (the ledger's dates moved back, as time would).
  const may = await uploaded('may.csv', 'invoice_number,amount,description\nMAY-001,10.00,May a\nMAY-002,20.00,May b\nMAY-003,30.00,May c\n');
  const redis = connect(testRedisUrl());
  const ledgerKey = new Keys(prefix).ledger(API_KEY);
  for (const n of ['MAY-001', 'MAY-002', 'MAY-003']) {
    const entry = decodeLedgerEntry((await redis.hget(ledgerKey, n))!);
    expect(entry.batchId).toBe(may);
    await redis.hset(ledgerKey, n, encodeLedgerEntry({ ...entry, createdAt: new Date(Date.now() - 40 * 86_400_000).toISOString() }));
  }
  await redis.quit();
  await uploaded('june.csv', JUNE);
  await move('JUN-001', 'paid', 'paid');
  await move('JUN-002', 'paid', 'paid', 25_000); // 50 cents short
  await move('JUN-003', 'failed', 'failed');
  await move('JUN-004', 'expired', 'expired');
  await until(async () => (await invoice('JUN-002')).exceptions.length, 1, "JUN-002's exceptions");
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await sim?.close();
  await deletePrefix(testRedisUrl(), prefix);
});

const figures = () => page.locator('#collection-figures > div').allInnerTexts();

describe('the collection view and the invoice search, in Chromium', () => {
  it('shows who paid: counts, amounts, collected %, aging, the exception in words, every row with its link; live as a payment arrives', async () => {
    await page.goto(`${server.url}/#token=${TOKEN}`);
    const june = page.locator('#recent-body tr', { hasText: 'june.csv' });
    await june.getByRole('button', { name: 'Who paid: june.csv' }).click({ timeout: 15_000 });
    await expect.poll(() => page.locator('#collection-headline').textContent(), { timeout: 15_000 }).toBe('Collected 350.00 of 655.75 (53.4%)');
    expect((await figures()).map((f) => f.replace(/\s+/g, ' '))).toEqual(['Paid 2 worth 350.50', 'Not paid 2 worth 180.00', 'Payment failed 1 worth 80.00', 'Expired 1 worth 45.25']);
    expect(await page.locator('#collection-links').textContent()).toBe('6 invoices have a payment link; 1 row has none (invalid, duplicate or failed) and cannot be paid.');
    expect(await page.locator('#aging-body tr').allInnerTexts()).toEqual([
      '0 to 7 days ago\t4\t305.25',
      '8 to 30 days ago\t0\t0.00',
      '31 to 60 days ago\t0\t0.00',
      '61 to 90 days ago\t0\t0.00',
      'Over 90 days ago\t0\t0.00',
    ]);
    const exception = page.locator('#collection-exceptions li');
    expect(await exception.count()).toBe(1);
    expect(await exception.locator('strong').textContent()).toBe('Invoice JUN-002 was paid a different amount');
    expect(await exception.locator('p').first().textContent()).toBe('Paywint received 250.00 for an invoice of 250.50: 0.50 short. Ask the customer for the difference.');

    const rows = page.locator('#collection-rows tbody tr');
    expect(await rows.count()).toBe(7);
    const first = await invoice('JUN-001');
    expect(await rows.nth(0).innerText()).toContain('JUN-001');
    expect(await rows.nth(0).locator('.badge').textContent()).toBe('Paid');
    expect(await rows.nth(0).locator('a').getAttribute('href')).toBe(first.payment_link);
    expect(await rows.nth(1).locator('.tag-problem').textContent()).toBe('Paid another amount');
    expect(await rows.nth(2).innerText()).toContain('card declined');
    expect(await rows.nth(6).locator('.badge').textContent()).toBe('No link: the row is invalid');
    await expect.poll(() => page.locator('#collection-live').textContent()).toMatch(/^Live: this page updates by itself as payments arrive\./);
    await shot('30-collection');

    // A payment arrives while the view is open: it shows without a reload.
    await page.evaluate('window.__notReloaded = true');
    const { payment_id } = await invoice('JUN-005');
    sim.movePayment(payment_id, { to: 'paid' });
    await expect.poll(() => page.locator('#collection-headline').textContent(), { timeout: 20_000 }).toBe('Collected 470.00 of 655.75 (71.7%)');
    expect((await figures())[0]!.replace(/\s+/g, ' ')).toBe('Paid 3 worth 470.50');
    expect(await rows.nth(4).locator('.badge').textContent()).toBe('Paid');
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    await shot('31-collection-live');

    // The report, downloaded from the view: every row with its payment status.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the payment report (CSV)' }).click()]);
    expect(download.suggestedFilename()).toBe('june.report.csv');
    const report = parse(await readFile((await download.path())!, 'utf8'), { columns: true, bom: true }) as Record<string, string>[];
    expect(report.map((r) => [r.invoice_number, r.payment_status, r.amount_paid])).toEqual([
      ['JUN-001', 'paid', '100.00'],
      ['JUN-002', 'paid', '250.00'],
      ['JUN-003', 'failed', ''],
      ['JUN-004', 'expired', ''],
      ['JUN-005', 'paid', '120.00'],
      ['JUN-006', 'unpaid', ''],
      ['', '', ''],
    ]);
  }, 90_000);

  it('finds an invoice of an older file by its number (any case): its link and status; an unknown number is said plainly', async () => {
    const may = await invoice('MAY-002');
    await page.getByRole('searchbox', { name: 'Find an invoice' }).fill('may-002');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await expect.poll(() => page.locator('#found-title').textContent(), { timeout: 15_000 }).toBe('Invoice MAY-002');
    expect(await page.locator('#found .found-status').textContent()).toBe('Not paid Nobody has paid it yet.');
    const facts = await page.locator('#found .found-facts').innerText();
    expect(facts).toContain('20.00');
    expect(facts).toMatch(/may\.csv, line 3 · link made .+ \(40 days ago\)/);
    expect(await page.locator('#found .found-facts a').getAttribute('href')).toBe(may.payment_link);
    await shot('32-search-found');

    // Paid while the card is open: it says so without a new search.
    sim.movePayment(may.payment_id, { to: 'paid' });
    await expect.poll(() => page.locator('#found .found-status').textContent(), { timeout: 20_000 }).toMatch(/^Paid 20\.00 received on /);

    // Its file's payments, from the card: the aging puts its links 31 to 60 days back.
    await page.getByRole('button', { name: 'See who paid in this file' }).click();
    await expect.poll(() => page.locator('#collection-file').textContent()).toBe('may.csv');
    await expect.poll(() => page.locator('#aging-body tr').nth(2).innerText()).toBe('31 to 60 days ago\t2\t40.00');

    await page.getByRole('searchbox', { name: 'Find an invoice' }).fill('NOPE-404');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#found-title').textContent()).toBe('No invoice NOPE-404');
    expect(await page.locator('#found-body').textContent()).toMatch(/^No batch made a payment link for an invoice numbered NOPE-404\. Check the number/);
    await shot('33-search-not-found');

    // The focus ring of the search box and of the rows' pager buttons: at least 3:1 on white.
    await page.getByRole('searchbox', { name: 'Find an invoice' }).focus();
    const ring = String(await page.evaluate(`getComputedStyle(document.activeElement).outlineColor`));
    expect(contrastOnWhite(ring)).toBeGreaterThanOrEqual(3);
    expect(await page.evaluate(`getComputedStyle(document.activeElement).outlineStyle`)).toBe('solid');
  }, 90_000);

  it('says what a held batch has in the recent batches, not "0 new links"', async () => {
    const held = await api.upload('july.csv', 'invoice_number,amount\nJUL-001,10.00\nJUL-002,5.50\n', '?hold=true');
    expect(held.status).toBe(201);
    await page.goto(`${server.url}/#token=${TOKEN}`);
    const row = page.locator('#recent-body tr', { hasText: 'july.csv' });
    await expect.poll(() => row.innerText()).toContain('Nothing sent yet: 2 invoices for 15.50 wait for your confirmation.');
    expect(await row.locator('td[data-label="New links"], td[data-label="Had a link"]').count()).toBe(0);
  });

  it('works at 390 px wide: nothing wider than the screen, every figure and row readable', async () => {
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    try {
      await phone.goto(`${server.url}/#token=${TOKEN}`);
      await phone.locator('#recent-body tr', { hasText: 'june.csv' }).getByRole('button', { name: 'Who paid: june.csv' }).click({ timeout: 15_000 });
      await expect.poll(() => phone.locator('#collection-headline').textContent(), { timeout: 15_000 }).toMatch(/^Collected /);
      expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      expect(await phone.getByRole('searchbox', { name: 'Find an invoice' }).isVisible()).toBe(true);
      await shot('34-collection-phone', phone);
      await phone.screenshot({ path: path.join(SHOTS, '34a-collection-phone-top.png') });
      await phone.locator('#collection-rows').screenshot({ path: path.join(SHOTS, '34b-collection-phone-rows.png') });
      await phone.locator('#recent').screenshot({ path: path.join(SHOTS, '34c-recent-phone.png') });
      await phone.getByRole('searchbox', { name: 'Find an invoice' }).fill('jun-002');
      await phone.keyboard.press('Enter');
      await expect.poll(() => phone.locator('#found-title').textContent(), { timeout: 15_000 }).toBe('Invoice JUN-002');
      expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await shot('35-search-phone', phone);
      await phone.locator('#found').screenshot({ path: path.join(SHOTS, '35a-found-phone.png') });
    } finally {
      await phone.close();
    }
  }, 60_000);
});
