/**
 * The web page lists batches from the drop folder among the recent ones, by
 * the name they were dropped under, marked as from the drop folder; in a
 * real browser against `paylinks serve --inbox`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startInboxProcess, waitFor } from '../helpers/processes.js';
import { testRedisUrl } from '../helpers/redis.js';
import { API_KEY, API_SECRET, paylinksEnv, useWorkspace, writeInvoiceFile } from '../processes/support.js';
import { launchChromium, TOKEN } from './support.js';

const ws = useWorkspace('serve-inbox-page', 'pageinbox');

describe('the web page with a drop folder', () => {
  it('shows a dropped file among the recent batches, marked as from the drop folder, with its output to download', async () => {
    const sim = await ws.startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET });
    const env = paylinksEnv({ redisUrl: testRedisUrl(), prefix: ws.prefix, sim, extra: { PAYLINKS_API_TOKENS: TOKEN, PAYLINKS_INBOX_POLL_MS: '200', PAYLINKS_INBOX_SETTLE_MS: '300' } });
    const drop = path.join(ws.dir, 'drop');
    const serve = await startInboxProcess(drop, env);
    const url = /(http:\/\/[^\s]+)/.exec(await serve.waitForLine(/paylinks serving on http:\/\/\S+/))![1]!;
    await writeFile(path.join(drop, 'inbox', 'november.csv'), await readFile(await writeInvoiceFile(ws.dir, 'source.csv', 4)));
    await waitFor(async () => (await readFile(path.join(drop, 'out', 'november.out.csv')).catch(() => undefined)) !== undefined, 'the output', 60_000);

    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
      await page.goto(`${url}/#token=${TOKEN}`);
      const row = page.locator('#recent-body tr').first();
      await expect.poll(() => row.textContent(), { timeout: 15_000 }).toMatch(/^november\.csv \(drop folder\)/);
      expect(await row.getByRole('button', { name: 'Download the output of november.csv' }).isVisible()).toBe(true);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
