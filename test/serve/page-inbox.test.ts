/**
 * The web page lists batches from the drop folder among the recent ones, by
 * the name they were dropped under, marked as from the drop folder; in a
 * real browser against `paylinks serve --inbox`.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { killSpawned, spawnCli, waitFor, type SpawnedProcess } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv, tempDir, writeInvoiceFile } from '../processes/support.js';
import { TOKEN } from './support.js';

let dir: string;
let prefix: string;
let sim: SimulatorHandle;
let serve: SpawnedProcess;
let url: string;
let browser: Browser;

beforeAll(async () => {
  dir = await tempDir('serve-inbox-page');
  prefix = uniquePrefix('pageinbox');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
  const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
  serve = await spawnCli(['serve', '--port', '0', '--inbox', path.join(dir, 'drop')], { env, name: 'serve --inbox' });
  url = /(http:\/\/[^\s]+)/.exec(await serve.waitForLine(/paylinks serving on http:\/\/\S+/, 30_000))![1]!;
  await serve.waitForLine(/"msg":"drop folder ready"/);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await killSpawned();
  await sim?.close();
  await deletePrefix(testRedisUrl(), prefix);
  await rm(dir, { recursive: true, force: true });
});

describe('the web page with a drop folder', () => {
  it('shows a dropped file among the recent batches, marked as from the drop folder, with its output to download', async () => {
    const source = await writeInvoiceFile(dir, 'source.csv', 4);
    await writeFile(path.join(dir, 'drop', 'inbox', 'november.csv'), await readFile(source));
    await waitFor(async () => (await readFile(path.join(dir, 'drop', 'out', 'november.out.csv')).catch(() => undefined)) !== undefined, 'the output', 60_000);

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${url}/#token=${TOKEN}`);
    const row = page.locator('#recent-body tr').first();
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toMatch(/^november\.csv \(drop folder\)/);
    expect(await row.getByRole('button', { name: 'Download the output of november.csv' }).isVisible()).toBe(true);
  }, 90_000);
});
