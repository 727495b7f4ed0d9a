/**
 * Redis bytes per row of what issue 19 stores (MEMORY USAGE, its own
 * redis-server): a batch's rows without and with the contact columns
 * (address, name, due date are cells of the row, stored as the row is), and
 * the message ledger per message sent (`{prefix}:messages:<account>`).
 *
 * Usage: `node dist/bench/mail-storage.js [--rows 100000]`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer } from '../src/core/redis.js';
import { BatchStore } from '../src/pipeline/batch-store.js';
import { Keys } from '../src/pipeline/keys.js';
import { MailLedger } from '../src/pipeline/mail-ledger.js';

const ACCOUNT = '2c9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b';

async function main(): Promise<void> {
  const rows = Number(parseArgs({ options: { rows: { type: 'string', default: '100000' } } }).values.rows);
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-mail-storage-'));
  const server = await startRedisServer({ dataDir: dir, appendOnly: false });
  const redis = new Redis(server.url);
  try {
    const keys = new Keys('bytes');
    const store = new BatchStore(redis, keys);
    const usage = async (key: string) => Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    const fill = async (id: string, contact: boolean) => {
      for (let from = 0; from < rows; from += 1000) {
        const p = redis.pipeline();
        const chunk = Array.from({ length: Math.min(1000, rows - from) }, (_, k) => {
          const i = from + k;
          const cells = [`INV-${String(i).padStart(7, '0')}`, `${(i % 900) + 10}.50`, `Services ${i}`];
          if (contact) cells.push(`customer${i}@example.com`, `Customer ${i}`, '2030-01-31');
          return { line: i + 2, cells };
        });
        store.appendRows(p, id, from, chunk);
        await p.exec();
      }
      return usage(keys.batchRows(id));
    };
    const without = await fill('plain', false);
    const withContact = await fill('contact', true);
    const ledger = new MailLedger(redis, keys, ACCOUNT);
    await redis.hset(keys.batch('b'), 'id', 'b');
    for (let i = 0; i < rows; i += 1) {
      const n = `INV-${String(i).padStart(7, '0')}`;
      await ledger.claim('b', n, 'first', 'attemptAAAAA', Date.now());
      await ledger.end('b', n, 'first', 'attemptAAAAA', 'sent', null, Date.now());
    }
    const messages = await usage(keys.messages(ACCOUNT));
    const perRow = (bytes: number) => Math.round((bytes / rows) * 10) / 10;
    console.log(
      JSON.stringify({
        rows,
        rows_bytes_per_row_without_contact: perRow(without),
        rows_bytes_per_row_with_contact: perRow(withContact),
        contact_cells_chars_per_row: Math.round(`customer${rows / 2}@example.com`.length + `Customer ${rows / 2}`.length + 10 + 3),
        message_ledger_bytes_per_message: perRow(messages),
      }),
    );
  } finally {
    redis.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
