/**
 * What the process tests share: the account, the environment a worker gets,
 * invoice files, submit and collect as a user runs them, and the checks a
 * user would make on the output CSV against the simulator's ledger.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect } from 'vitest';
import { BatchStore, type Batch } from '../../src/pipeline/batch-store.js';
import { Keys, QUEUE_NAME } from '../../src/pipeline/keys.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/paywint/simulator/index.js';
import { readOutputCsv, type CsvRow } from '../helpers/csv.js';
import { killSpawned, runCliToEnd } from '../helpers/processes.js';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

export const API_KEY = '5c2f7a1e-9d3b-4e6a-8f0c-1b2d3e4f5a6b';
/** Distinctive, so a leak anywhere is found by a plain substring search. */
export const API_SECRET = 'sk_live_PROC-TEST-secret-7Qz9Xw2Lp4';

export interface EnvOptions {
  redisUrl: string;
  prefix: string;
  sim?: Pick<SimulatorHandle, 'url'>;
  /** Extra variables (PAYLINKS_*), override the defaults here. */
  extra?: Record<string, string>;
}

/** The environment of every paylinks process of a test: same Redis, prefix, account, Paywint. */
export function paylinksEnv(options: EnvOptions): Record<string, string> {
  return {
    REDIS_URL: options.redisUrl,
    PAYLINKS_PREFIX: options.prefix,
    PAYWINT_API_KEY: API_KEY,
    PAYWINT_API_SECRET: API_SECRET,
    ...(options.sim ? { PAYWINT_BASE_URL: options.sim.url } : {}),
    PAYLINKS_METRICS_PORT: '0',
    PAYLINKS_LOG_LEVEL: 'info',
    PAYLINKS_CONCURRENCY: '8',
    PAYLINKS_RATE_LIMIT: '100',
    PAYLINKS_TIMEOUT_MS: '5000',
    // A killed worker's rows come back within about this long (lock expiry + stalled check), not 30 s.
    PAYLINKS_LOCK_DURATION_MS: '5000',
    ...options.extra,
  };
}

export function tempDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `paylinks-${label}-`));
}

export function invoiceNumber(i: number): string {
  return `INV-${String(i).padStart(6, '0')}`;
}

/** Writes `n` valid invoices (distinct numbers from `from`) and returns the path. */
export async function writeInvoiceFile(dir: string, name: string, n: number, from = 1): Promise<string> {
  const lines = ['invoice_number,amount,description'];
  for (let k = 0; k < n; k += 1) {
    const i = from + k;
    lines.push(`${invoiceNumber(i)},${(i % 900) + 10}.${String(i % 100).padStart(2, '0')},Invoice ${i}`);
  }
  const file = path.join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** `paylinks submit FILE --json`: expects exit 0 and returns the batch id. */
export async function submit(file: string, env: Record<string, string>): Promise<string> {
  const result = await runCliToEnd(['submit', file, '--json'], { env, timeoutMs: 60_000 });
  expect(result.code, `paylinks submit failed:\n${result.stderr}`).toBe(0);
  const parsed = JSON.parse(result.stdout) as { batch_id: string };
  return parsed.batch_id;
}

/** `paylinks collect BATCH --wait -o OUT`: its exit and the output rows. */
export async function collect(batchId: string, output: string, env: Record<string, string>, timeoutMs = 120_000) {
  const result = await runCliToEnd(['collect', batchId, '--wait', '-o', output], { env, timeoutMs });
  const rows = result.code === 0 || result.code === 1 || result.code === 2 ? await readOutputCsv(output).then((o) => o.rows).catch(() => [] as CsvRow[]) : [];
  return { ...result, rows };
}

/** Links the simulator created, per invoice number. */
export function linksByInvoice(sim: Pick<SimulatorHandle, 'ledger'>): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const e of sim.ledger()) {
    const key = e.invoiceNumber ?? '';
    by.set(key, [...(by.get(key) ?? []), e.paymentId]);
  }
  return by;
}

/** A row that tells the user Paywint may hold a (second) link for its invoice. */
export function isFlagged(row: CsvRow): boolean {
  return (
    row.error_code === 'POSSIBLE_DUPLICATE_LINK' ||
    row.error_code === 'UNKNOWN_OUTCOME' ||
    (row.status === 'failed' && /may (hold (another|a) link|have been created)/.test(row.error_message ?? ''))
  );
}

/**
 * How many requests with an unknown outcome the row's message reports (0
 * when none): the earlier ones of its note, plus its own last one when its
 * message says the link may have been created; all of them on an
 * UNKNOWN_OUTCOME row.
 */
export function unknownRequests(row: CsvRow): number {
  const message = row.error_message ?? '';
  const all = /^(\d+) requests? for this invoice got no clear answer/.exec(message);
  if (row.error_code === 'UNKNOWN_OUTCOME' && all) return Number(all[1]);
  const earlier = /(\d+) earlier requests? for this invoice got no clear answer/.exec(message);
  return (earlier ? Number(earlier[1]) : 0) + (row.status === 'failed' && /the link may have been created/.test(message) ? 1 : 0);
}

export interface LedgerCheck {
  /** Invoices with more than one link at the simulator. */
  duplicated: string[];
  flagged: number;
}

/**
 * The promise the README makes, checked row by row against the simulator:
 * a `created` row's link is one the simulator made for that invoice; an
 * invoice has exactly one link, or more only when its row says so (flagged,
 * with at least as many unanswered requests as extra links); a row without a
 * link and without a flag has no link at the simulator.
 */
export function checkAgainstLedger(rows: readonly CsvRow[], sim: Pick<SimulatorHandle, 'ledger'>): LedgerCheck {
  const links = linksByInvoice(sim);
  const duplicated: string[] = [];
  let flagged = 0;
  for (const row of rows) {
    const invoice = row.invoice_number ?? '';
    const made = links.get(invoice) ?? [];
    if (isFlagged(row)) flagged += 1;
    if (row.status === 'created') {
      expect(made, `invoice ${invoice}: created in the output, link ${row.payment_id}`).toContain(row.payment_id);
    }
    if (made.length > 1) {
      duplicated.push(invoice);
      expect(isFlagged(row), `invoice ${invoice} has ${made.length} links at the simulator but its row is not flagged: ${JSON.stringify(row)}`).toBe(true);
      expect(unknownRequests(row), `invoice ${invoice}: ${made.length} links, unanswered requests reported`).toBeGreaterThanOrEqual(made.length - 1);
    }
    if (made.length === 1 && row.status !== 'created' && row.status !== 'exists') {
      expect(isFlagged(row), `invoice ${invoice} has a link at the simulator but its row says ${row.status} without a flag`).toBe(true);
    }
  }
  // Every link the simulator made belongs to an invoice of the file.
  const invoices = new Set(rows.map((r) => r.invoice_number));
  for (const invoice of links.keys()) expect(invoices.has(invoice), `link for unknown invoice ${invoice}`).toBe(true);
  return { duplicated, flagged };
}

/**
 * A clean batch, checked as a person would: `collect` exited 0, one output row
 * per input row, all `created`, each with the one link the simulator made
 * for its invoice, and nothing flagged (nothing was even in doubt).
 */
export function expectEveryRowCreatedOnce(collected: { code: number | null; stderr: string; rows: CsvRow[] }, sim: Pick<SimulatorHandle, 'ledger'>, rows: number): void {
  expect(collected.code, collected.stderr).toBe(0);
  expect(collected.rows).toHaveLength(rows);
  expect(collected.rows.every((r) => r.status === 'created')).toBe(true);
  checkAgainstLedger(collected.rows, sim);
  expect(collected.rows.filter(isFlagged)).toEqual([]);
  expect(sim.ledger()).toHaveLength(rows);
}

/** BullMQ's job counts of the prefix's queue. */
export async function queueCounts(redisUrl: string, prefix: string): Promise<Record<string, number>> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection, prefix: new Keys(prefix).bullPrefix });
  try {
    return await queue.getJobCounts('active', 'wait', 'delayed', 'prioritized', 'waiting-children', 'failed');
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** Reads batch state straight from Redis (a poll that spawning `status` would make slow). */
export class BatchProbe {
  private readonly redis: Redis;
  private readonly store: BatchStore;
  private readonly keys: Keys;

  constructor(redisUrl: string, prefix: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    this.redis.on('error', () => {});
    this.keys = new Keys(prefix);
    this.store = new BatchStore(this.redis, this.keys);
  }

  batch(id: string): Promise<Batch | undefined> {
    return this.store.get(id);
  }

  /** Rows with a `created` result. */
  async createdRows(id: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.batch(id), 'n_created')) ?? 0);
  }

  /** Rows recorded `created` so far: row index → payment id. */
  async createdLinks(id: string, rows: number): Promise<Map<number, string>> {
    const results = await this.store.readResults(id, 0, rows);
    const created = new Map<number, string>();
    results.forEach((r, i) => {
      if (r?.status === 'created' && r.paymentId) created.set(i, r.paymentId);
    });
    return created;
  }

  /** Claims whose request was sent and never settled. */
  async claimsInFlight(): Promise<number> {
    const claims = await this.redis.hgetall(this.keys.claims(API_KEY));
    return Object.values(claims).filter((raw) => (JSON.parse(raw) as { inFlight: number }).inFlight === 1).length;
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** A test's own temp dir, key prefix and simulator. */
export interface Workspace {
  readonly dir: string;
  readonly prefix: string;
  /** Starts the simulator for this test; it is closed after the test. */
  startSimulator(options: SimulatorOptions): Promise<SimulatorHandle>;
}

/**
 * Gives each test of the file a fresh {@link Workspace}, and after each test
 * kills what it spawned, closes its simulator and deletes its keys and files
 * (a failed test keeps its keys and files for inspection).
 */
export function useWorkspace(dirLabel: string, prefixLabel: string): Workspace {
  let dir = '';
  let prefix = '';
  let sim: SimulatorHandle | undefined;
  beforeEach(async () => {
    dir = await tempDir(dirLabel);
    prefix = uniquePrefix(prefixLabel);
  });
  afterEach(async (context) => {
    await killSpawned();
    await sim?.close();
    sim = undefined;
    if (context.task.result?.state !== 'fail') {
      await deletePrefix(testRedisUrl(), prefix);
      await rm(dir, { recursive: true, force: true });
    }
  });
  return {
    get dir() {
      return dir;
    },
    get prefix() {
      return prefix;
    },
    startSimulator: async (options) => (sim = await startSimulator(options)),
  };
}
