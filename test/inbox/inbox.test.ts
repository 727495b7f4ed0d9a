/**
 * The drop folder in-process on real Redis, with no file watcher: the poll
 * alone finds files (as on a network share, where no change events arrive),
 * and a file still growing is taken only once whole. No workers: pickup and
 * submission only.
 */
import { appendFile, chmod, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startInbox, type InboxHandle, type InboxSubmitted } from '../../src/inbox/inbox.js';
import { openBackend, type Backend } from '../../src/pipeline/backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const ACCOUNT = '3c2b1a0f-9e8d-4c7b-8a69-5f4e3d2c1b0a';

let dir = '';
let prefix = '';
let backend: Backend;
let inbox: InboxHandle | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-inbox-'));
  prefix = uniquePrefix('inbox');
  backend = await openBackend({ config: { redisUrl: testRedisUrl(), prefix }, logger: silentLogger() });
});

afterEach(async (context) => {
  await inbox?.close();
  inbox = undefined;
  await backend.close();
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

function invoices(from: number, n: number): string {
  return Array.from({ length: n }, (_, i) => `P-${from + i},${10 + i}.50,Invoice ${from + i}\n`).join('');
}

describe('drop folder without change events', () => {
  it('the poll alone takes a growing file only once it is whole, and submits it once, as an inbox batch', async () => {
    const submitted: InboxSubmitted[] = [];
    inbox = await startInbox({ dir, backend, account: ACCOUNT, logger: silentLogger(), watch: false, pollMs: 100, settleMs: 1000, onSubmitted: (s) => submitted.push(s) });
    const file = path.join(dir, 'inbox', 'grow.csv');
    await writeFile(file, `invoice_number,amount,description\n${invoices(1, 20)}`);
    for (let k = 0; k < 3; k += 1) {
      await sleep(600); // several polls, less than the settle time
      expect(await readdir(path.join(dir, 'processing'))).toEqual([]);
      await appendFile(file, invoices(21 + k * 20, 20));
    }
    const deadline = Date.now() + 10_000;
    while (submitted.length === 0 && Date.now() < deadline) await sleep(50);
    await sleep(500);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ file: 'grow.csv', resumed: false });
    const batch = await backend.store.get(submitted[0]!.batchId);
    expect(batch).toMatchObject({ file: 'grow.csv', source: 'inbox', sourceRef: submitted[0]!.pickupId, rows: 80, valid: 80, state: 'queued' });
    expect(await backend.store.recent(10)).toEqual([submitted[0]!.batchId]);
  });

  it('the errors text of a file readable only by its owner is readable only by its owner (0600), whatever the umask', async () => {
    inbox = await startInbox({ dir, backend, account: ACCOUNT, logger: silentLogger(), watch: false, pollMs: 100, settleMs: 200 });
    const staged = path.join(dir, 'staged.csv');
    await writeFile(staged, 'invoice_number,amount,description\nP-1,10.00,"never closed\n', { mode: 0o600 });
    await chmod(staged, 0o600);
    const owner = path.join(dir, 'inbox', 'owner.csv');
    await rename(staged, owner);
    const report = path.join(dir, 'failed', 'owner.csv.errors.txt');
    const deadline = Date.now() + 10_000;
    while (!(await stat(report).catch(() => undefined)) && Date.now() < deadline) await sleep(50);
    expect((await stat(path.join(dir, 'failed', 'owner.csv'))).mode & 0o777).toBe(0o600);
    expect((await stat(report)).mode & 0o777).toBe(0o600);
    expect(await backend.store.recent(10)).toEqual([]);
  });
});
