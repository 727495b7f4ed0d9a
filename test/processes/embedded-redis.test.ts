/**
 * Without `REDIS_URL`, every command uses the user's embedded Redis (in
 * `PAYLINKS_HOME`), whatever the working directory: the README's quick start
 * run twice, from two directories, creates the links once.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stopEmbeddedRedis } from '../../src/core/embedded-redis.js';
import { readOutputCsv } from '../helpers/csv.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { killSpawned, logLines, runCliToEnd } from '../helpers/processes.js';
import { uniquePrefix } from '../helpers/redis.js';
import { tempDir } from './support.js';

let dir: string;
let home: string;

beforeEach(async () => {
  dir = await tempDir('embedded');
  // Short, so that the socket path stays under the unix limit.
  home = path.join(dir, 'h');
});

afterEach(async () => {
  await killSpawned();
  await stopEmbeddedRedis(home);
  await rm(dir, { recursive: true, force: true });
});

/** No REDIS_URL: only the data directory and a prefix of this test's. */
function env(prefix: string): Record<string, string> {
  return { PAYLINKS_HOME: home, PAYLINKS_PREFIX: prefix };
}

function redisLine(stderr: string): string | undefined {
  return logLines(stderr).map((l) => String(l.msg)).find((m) => m.startsWith('using the embedded Redis') || m.startsWith('using REDIS_URL'));
}

describe('the embedded Redis (no REDIS_URL)', () => {
  it('run --simulate from two directories: the second says exists for every row, and each says which Redis and how many invoices', async () => {
    const prefix = uniquePrefix('emb');
    const outputs: string[] = [];
    const runs = [];
    for (const name of ['first', 'second']) {
      const cwd = path.join(dir, name);
      await mkdir(cwd);
      await copyFile(path.join(REPO_ROOT, 'fixtures', 'invoices.csv'), path.join(cwd, 'invoices.csv'));
      runs.push(await runCliToEnd(['run', 'invoices.csv', '--simulate'], { env: env(prefix), cwd, timeoutMs: 120_000 }));
      outputs.push(path.join(cwd, 'invoices.out.csv'));
    }
    const [first, second] = runs as [(typeof runs)[0], (typeof runs)[0]];

    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Batch \S+ completed: 25 rows \(created 25\)$/m);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^Batch \S+ completed: 25 rows \(exists 25\)$/m);
    expect(redisLine(first.stderr)).toBe(`using the embedded Redis in ${home}; its ledger holds 0 invoices for this account`);
    expect(redisLine(second.stderr)).toBe(`using the embedded Redis in ${home}; its ledger holds 25 invoices for this account`);
    const [firstRows, secondRows] = [(await readOutputCsv(outputs[0]!)).rows, (await readOutputCsv(outputs[1]!)).rows];
    expect(secondRows.map((r) => r.status)).toEqual(Array(25).fill('exists'));
    expect(secondRows.map((r) => r.payment_id)).toEqual(firstRows.map((r) => r.payment_id));
    // Nothing under either working directory: the data lives in the data directory.
    expect(logLines(first.stderr).some((l) => l.msg === 'started the embedded Redis (it keeps running for the next commands)')).toBe(true);
  }, 240_000);

  it('status from a third directory sees the same batches', async () => {
    const prefix = uniquePrefix('emb');
    const cwd = path.join(dir, 'one');
    await mkdir(cwd);
    await copyFile(path.join(REPO_ROOT, 'fixtures', 'invoices.csv'), path.join(cwd, 'invoices.csv'));
    const run = await runCliToEnd(['run', 'invoices.csv', '--simulate'], { env: env(prefix), cwd, timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    const batchId = /^Batch (\S+) completed/m.exec(run.stdout)?.[1];

    const status = await runCliToEnd(['status', '--json'], { env: env(prefix), timeoutMs: 60_000 });
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { id: string }[]).map((b) => b.id)).toEqual([batchId]);
    expect(redisLine(status.stderr)).toBe(`using the embedded Redis in ${home}`);
  }, 240_000);
});
