/**
 * The pipeline on Redis Cluster: three masters started here on loopback
 * (`redis-server` in cluster mode), every key under one hash tag.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { freePort, startRedisServer, type RedisServer } from '../../src/core/redis.js';
import { runFile } from '../../src/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/paywint/simulator/index.js';
import { readOutputCsv, writeInvoices } from '../helpers/csv.js';
import { uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const API_KEY = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const API_SECRET = 'cluster-test-secret';

let dir: string;
let servers: RedisServer[] = [];
let clusterUrl: string;
let sim: SimulatorHandle;

async function waitForClusterOk(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
    if (stdout.includes('cluster_state:ok')) return;
    if (Date.now() > deadline) throw new Error(`cluster not ok: ${stdout}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'paylinks-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  servers = await Promise.all(
    ports.map((port) =>
      startRedisServer({
        dataDir: path.join(dir, String(port)),
        port,
        appendOnly: false,
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000'],
      }),
    ),
  );
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  for (const p of ports) await waitForClusterOk(p);
  clusterUrl = ports.map((p) => `redis://127.0.0.1:${p}`).join(',');
  sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, errorRate: 0.1, rateLimitedRate: 0.03, seed: 11 });
}, 90_000);

afterAll(async () => {
  await sim?.close();
  await Promise.all(servers.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe('Redis Cluster', () => {
  it('runs batches on a three-master cluster: every link once, a rerun finds them all', async () => {
    const prefix = uniquePrefix('cluster');
    const config = loadConfig({
      dotenvPath: false,
      env: {
        PAYWINT_API_KEY: API_KEY,
        PAYWINT_API_SECRET: API_SECRET,
        PAYWINT_BASE_URL: sim.url,
        REDIS_URL: clusterUrl,
        PAYLINKS_PREFIX: prefix,
        PAYLINKS_RATE_LIMIT: '300',
        PAYLINKS_CONCURRENCY: '8',
      },
    });
    const file = path.join(dir, 'cluster.csv');
    const rows = Array.from({ length: 40 }, (_, i) => [`CL-${i}`, `${i + 1}.25`, `Cluster invoice ${i}`] as const);
    await writeInvoices(file, rows);

    const [first, concurrent] = await Promise.all([
      runFile({ file, config, logger: silentLogger() }),
      runFile({ file, output: path.join(dir, 'concurrent.csv'), config: { ...config }, logger: silentLogger() }).catch((e: unknown) => e),
    ]);
    // The second run of the same file may resume the first's batch or make its own: either way no invoice twice.
    expect(first.batch.state).toBe('completed');
    expect(concurrent).not.toBeInstanceOf(Error);
    const second = concurrent as Awaited<ReturnType<typeof runFile>>;
    expect(second.batch.state).toBe('completed');
    const ledger = sim.ledger().filter((e) => e.invoiceNumber?.startsWith('CL-'));
    expect(ledger).toHaveLength(40);
    expect(new Set(ledger.map((e) => e.invoiceNumber)).size).toBe(40);
    const ids = new Map(ledger.map((e) => [e.invoiceNumber, e.paymentId]));
    // Both outputs, read as a user would: every invoice in input order, with the one link the simulator holds for it.
    let created = 0;
    for (const output of [first.outputFile!, second.outputFile!]) {
      const out = await readOutputCsv(output);
      expect(out.rows.map((r) => r.invoice_number)).toEqual(rows.map((r) => r[0]));
      expect(out.rows.every((r) => r.status === 'created' || r.status === 'exists')).toBe(true);
      for (const r of out.rows) expect(r.payment_id).toBe(ids.get(r.invoice_number!));
      created += out.rows.filter((r) => r.status === 'created').length;
    }
    // One batch resumed by both runs counts its links once; two batches share them: 40 links created either way.
    if (first.batchId !== second.batchId) expect(created).toBe(40);

    const again = await runFile({ file, output: path.join(dir, 'again.csv'), config, logger: silentLogger() });
    const againRows = (await readOutputCsv(again.outputFile!)).rows;
    expect(againRows.map((r) => r.status)).toEqual(Array(40).fill('exists'));
    expect(sim.ledger().filter((e) => e.invoiceNumber?.startsWith('CL-'))).toHaveLength(40);

    // Every key paylinks wrote sits in one slot (the hash tag), on one master.
    const cluster = new Cluster(servers.map((s) => ({ host: '127.0.0.1', port: s.port })));
    await new Promise((resolve) => cluster.once('ready', resolve));
    try {
      let keys: string[] = [];
      for (const node of cluster.nodes('master')) {
        keys = keys.concat(await node.keys(`*${prefix}*`));
      }
      expect(keys.length).toBeGreaterThan(3);
      expect(keys.every((k) => k.startsWith(`{${prefix}}:`))).toBe(true);
      const slots = new Set(await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k))));
      expect(slots.size).toBe(1);
    } finally {
      cluster.disconnect();
    }
  });
});
