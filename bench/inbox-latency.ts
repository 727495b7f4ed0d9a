/**
 * Drop-folder pickup latency: from a file appearing complete in `inbox/` to
 * its batch being submitted (stored and queued), measured side by side for
 * the default settings with a file watcher (a local disk), without one (a
 * network share, where no change events arrive: the poll alone), and with
 * shorter settle and poll times. A private Redis; no workers (sending is not
 * part of pickup).
 *
 * Usage: `node dist/bench/inbox-latency.js [--drops 8] [--rows 1000]`
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { openBackend } from '../src/pipeline/backend.js';
import { silentLogger } from '../src/core/logger.js';
import { startRedisServer } from '../src/core/redis.js';
import { startInbox, type InboxSubmitted } from '../src/inbox/inbox.js';

const API_KEY = '5b0d7c1e-8a2f-4e3b-9d6c-1f2e3a4b5c6d';

interface Setting {
  label: string;
  settleMs: number;
  pollMs: number;
  watch: boolean;
}

export interface LatencyRow extends Setting {
  latenciesMs: number[];
}

async function invoiceFile(file: string, rows: number, from: number): Promise<void> {
  const lines = ['invoice_number,amount,description'];
  for (let i = from; i < from + rows; i += 1) lines.push(`B-${i},${(i % 900) + 10}.00,Invoice ${i}`);
  await writeFile(file, `${lines.join('\n')}\n`);
}

export async function runInboxLatencyBench(options: { drops: number; rows: number }): Promise<LatencyRow[]> {
  const work = await mkdtemp(path.join(tmpdir(), 'paylinks-bench-inbox-'));
  const redis = await startRedisServer({ dataDir: path.join(work, 'redis'), appendOnly: true });
  const settings: Setting[] = [
    { label: 'defaults (settle 2 s, poll 2 s), watcher', settleMs: 2000, pollMs: 2000, watch: true },
    { label: 'defaults, no watcher (network share)', settleMs: 2000, pollMs: 2000, watch: false },
    { label: 'settle 500 ms, poll 500 ms, watcher', settleMs: 500, pollMs: 500, watch: true },
  ];
  const results: LatencyRow[] = [];
  let next = 1;
  try {
    for (const [k, setting] of settings.entries()) {
      const backend = await openBackend({ config: { redisUrl: redis.url, prefix: `bench-inbox-${k}` }, logger: silentLogger() });
      const dir = path.join(work, `drop-${k}`);
      const submitted = new Map<string, InboxSubmitted & { at: number }>();
      const inbox = await startInbox({ dir, backend, account: API_KEY, logger: silentLogger(), ...setting, onSubmitted: (s) => submitted.set(s.file, { ...s, at: Date.now() }) });
      const latenciesMs: number[] = [];
      try {
        for (let d = 0; d < options.drops; d += 1) {
          const name = `drop-${d}.csv`;
          const staged = path.join(work, name);
          await invoiceFile(staged, options.rows, next);
          next += options.rows;
          // A random moment in the poll cycle, as a person drops a file whenever.
          await sleep(Math.random() * setting.pollMs);
          const dropped = Date.now();
          await rename(staged, path.join(dir, 'inbox', name));
          while (!submitted.has(name)) await sleep(5);
          latenciesMs.push(submitted.get(name)!.at - dropped);
        }
      } finally {
        await inbox.close();
        await backend.close();
      }
      results.push({ ...setting, latenciesMs });
    }
  } finally {
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
  return results;
}

export function formatInboxLatency(rows: readonly LatencyRow[], fileRows: number): string {
  const lines = [`| setting | drop to batch submitted (${fileRows}-row file): min / median / max |`, '| --- | --- |'];
  for (const r of rows) {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    lines.push(`| ${r.label} | ${(sorted[0]! / 1000).toFixed(2)} s / ${(median / 1000).toFixed(2)} s / ${(sorted[sorted.length - 1]! / 1000).toFixed(2)} s (${sorted.length} drops) |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const rows = arg('--rows', 1000);
  console.log(formatInboxLatency(await runInboxLatencyBench({ drops: arg('--drops', 8), rows }), rows));
}
