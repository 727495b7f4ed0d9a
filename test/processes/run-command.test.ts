/**
 * `paylinks run FILE --simulate`, spawned as a user types it: the sample file
 * end to end, again (nothing new, same links), and SIGINT in the middle of a
 * slow run, resumed by running the same command again.
 */
import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readOutputCsv } from '../helpers/csv.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { killSpawned, logLines, runCliToEnd, spawnCli, waitFor } from '../helpers/processes.js';
import { BatchProbe, isFlagged, tempDir, writeInvoiceFile } from './support.js';

let dir: string;
let prefix: string;

beforeEach(async () => {
  dir = await tempDir('run');
  prefix = uniquePrefix('run');
});

afterEach(async (context) => {
  await killSpawned();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

/** `run --simulate` needs no credentials: only where Redis is and the prefix. */
function runEnv(): Record<string, string> {
  return { REDIS_URL: testRedisUrl(), PAYLINKS_PREFIX: prefix };
}

describe('paylinks run --simulate (spawned)', () => {
  it('creates the 25 sample links; run again, every row exists with the same ids', async () => {
    const file = path.join(dir, 'invoices.csv');
    await copyFile(path.join(REPO_ROOT, 'fixtures', 'invoices.csv'), file);

    const first = await runCliToEnd(['run', file, '--simulate'], { env: runEnv(), cwd: dir, timeoutMs: 90_000 });

    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Batch \S+ completed: 25 rows \(created 25\)$/m);
    const output = path.join(dir, 'invoices.out.csv');
    expect(first.stdout).toContain(`Output: ${output}`);
    const firstRows = (await readOutputCsv(output)).rows;
    expect(firstRows).toHaveLength(25);
    expect(firstRows.map((r) => r.status)).toEqual(Array(25).fill('created'));
    expect(firstRows.every((r) => /^https:\/\/\S+\/[0-9a-f-]{36}$/.test(r.payment_link!) && r.payment_link!.endsWith(r.payment_id!))).toBe(true);
    expect(new Set(firstRows.map((r) => r.payment_id)).size).toBe(25);
    expect(firstRows[0]!.invoice_number).toBe('INV-2025-0001');

    const second = await runCliToEnd(['run', file, '--simulate'], { env: runEnv(), cwd: dir, timeoutMs: 90_000 });

    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^Batch \S+ completed: 25 rows \(exists 25\)$/m);
    const secondRows = (await readOutputCsv(output)).rows;
    expect(secondRows.map((r) => r.status)).toEqual(Array(25).fill('exists'));
    expect(secondRows.map((r) => r.payment_id)).toEqual(firstRows.map((r) => r.payment_id));
    expect(secondRows.map((r) => r.payment_link)).toEqual(firstRows.map((r) => r.payment_link));
    expect(secondRows.every((r) => r.attempts === '0')).toBe(true);
  }, 180_000);

  it('SIGINT during a slow run exits 130; the same command again resumes that batch and completes it', async () => {
    const rows = 60;
    const file = await writeInvoiceFile(dir, 'slow.csv', rows);
    const args = ['run', file, '--simulate', '--rate-limit', '5'];
    const probe = new BatchProbe(testRedisUrl(), prefix);
    try {
      const first = await spawnCli(args, { env: runEnv(), cwd: dir, name: 'run#1' });
      const submittedLine = await first.waitForLine(/"msg":"batch submitted"/, 60_000);
      const batchId = String(logLines(submittedLine)[0]?.batchId);
      expect(batchId).toMatch(/^\d{8}T\d{6}-[0-9a-f]{6}$/);
      await waitFor(async () => ((await probe.batch(batchId))?.done ?? 0) >= 5, '5 rows done', 60_000, 50);

      const signalled = Date.now();
      first.signal('SIGINT');
      const exit = await first.exited;
      const doneAtStop = (await probe.batch(batchId))?.done ?? 0;

      expect(exit.code).toBe(130);
      expect(Date.now() - signalled).toBeLessThan(25_000);
      expect(first.stderr()).toContain('interrupted: finishing the rows in flight');
      expect(doneAtStop).toBeLessThan(rows);
      expect((await probe.batch(batchId))?.state).toBe('running');

      const second = await runCliToEnd(args, { env: runEnv(), cwd: dir, timeoutMs: 90_000 });

      expect(second.code, second.stderr).toBe(0);
      const resumed = logLines(second.stderr).find((l) => l.msg === 'resuming the unfinished batch of this file');
      expect(resumed?.batchId).toBe(batchId);
      expect(second.stdout).toContain(`Batch ${batchId} completed: ${rows} rows (created ${rows})`);
      const out = (await readOutputCsv(path.join(dir, 'slow.out.csv'))).rows;
      expect(out).toHaveLength(rows);
      expect(out.map((r) => r.status)).toEqual(Array(rows).fill('created'));
      expect(new Set(out.map((r) => r.payment_id)).size).toBe(rows);
      // Rows in flight at the signal were finished by the first run, not sent again by the second.
      expect(out.filter(isFlagged)).toEqual([]);
      expect(out.every((r) => r.attempts === '1')).toBe(true);
    } finally {
      probe.close();
    }
  }, 180_000);
});
