/**
 * The API secret never leaves the process that holds it: not into Redis,
 * not into any log line (workers at debug level, through retries, a 401 and
 * timeouts), not into the output CSV.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/paywint/simulator/index.js';
import { deletePrefix, dumpPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { killSpawned, logLines, runCliToEnd, startWorkerProcess, type SpawnedProcess } from '../helpers/processes.js';
import { API_KEY, API_SECRET, collect, paylinksEnv, tempDir, writeInvoiceFile } from './support.js';

let dir: string;
let prefix: string;
const sims: SimulatorHandle[] = [];

beforeEach(async () => {
  dir = await tempDir('secret');
  prefix = uniquePrefix('sec');
});

afterEach(async (context) => {
  await killSpawned();
  await Promise.all(sims.splice(0).map((s) => s.close()));
  if (context.task.result?.state !== 'fail') {
    await deletePrefix(testRedisUrl(), prefix);
    await rm(dir, { recursive: true, force: true });
  }
});

interface Scenario {
  name: string;
  sim: SimulatorOptions;
  extra: Record<string, string>;
  rows: number;
  /** What must show up in the logs, so the scenario really ran its course. */
  expectInLogs: RegExp;
  expectExit: number;
}

describe('the API secret', () => {
  it('is in no Redis key, no log line (debug; retries, a 401, timeouts) and no output CSV', async () => {
    const redisUrl = testRedisUrl();
    const scenarios: Scenario[] = [
      { name: 'retries', sim: { errorRate: 0.3, seed: 1 }, extra: {}, rows: 20, expectInLogs: /row will be retried/, expectExit: 0 },
      // Paywint refuses this secret: the 401 path, the batch stops.
      { name: '401', sim: { apiSecret: 'the-secret-paywint-expects' }, extra: {}, rows: 20, expectInLogs: /PAYWINT_AUTH/, expectExit: 2 },
      // Often enough that some rows spend their in-job retries and go back to the queue (logged at debug); unknown
      // outcomes may be sent again up to 10 times here, so every row ends created (the default 1 would end some UNKNOWN_OUTCOME).
      { name: 'timeouts', sim: { hangRate: 0.6, seed: 2 }, extra: { PAYLINKS_TIMEOUT_MS: '300', PAYLINKS_UNKNOWN_OUTCOME_RETRIES: '10' }, rows: 20, expectInLogs: /PAYWINT_TIMEOUT/, expectExit: 0 },
    ];
    const texts: { what: string; text: string }[] = [];
    const procs: SpawnedProcess[] = [];

    for (const [i, s] of scenarios.entries()) {
      const sim = await startSimulator({ apiKey: API_KEY, apiSecret: API_SECRET, ...s.sim });
      sims.push(sim);
      const env = paylinksEnv({ redisUrl, prefix, sim, extra: { PAYLINKS_LOG_LEVEL: 'debug', PAYLINKS_RATE_LIMIT: '200', ...s.extra } });
      const worker = await startWorkerProcess(env, `worker-${s.name}`);
      procs.push(worker);
      const file = await writeInvoiceFile(dir, `${s.name}.csv`, s.rows, 1 + i * 1000);
      const submitted = await runCliToEnd(['submit', file, '--json'], { env });
      expect(submitted.code, submitted.stderr).toBe(0);
      const batchId = (JSON.parse(submitted.stdout) as { batch_id: string }).batch_id;
      texts.push({ what: `${s.name}: submit`, text: submitted.stdout + submitted.stderr });
      const output = path.join(dir, `${s.name}.out.csv`);
      const collected = await collect(batchId, output, env);
      expect(collected.code, `${s.name}: ${collected.stderr}`).toBe(s.expectExit);
      worker.signal('SIGTERM');
      expect((await worker.exited).code).toBe(143);

      const logs = worker.stderr();
      expect(logs, `${s.name}: the logs show what happened`).toMatch(s.expectInLogs);
      texts.push({ what: `${s.name}: worker log`, text: logs }, { what: `${s.name}: collect`, text: collected.stdout + collected.stderr });
      texts.push({ what: `${s.name}: output CSV`, text: await readFile(output, 'utf8') });
    }

    // The logs are real debug logs, the dump is the whole prefix: the checks below can find something.
    const allLogs = procs.map((p) => p.stderr()).join('\n');
    expect(logLines(allLogs).some((l) => l.level === 20)).toBe(true);
    expect(logLines(allLogs).length).toBeGreaterThan(10);
    const dump = await dumpPrefix(redisUrl, prefix);
    expect(dump).toContain(API_KEY);
    expect(dump.length).toBeGreaterThan(1000);
    texts.push({ what: 'Redis', text: dump });

    for (const { what, text } of texts) {
      expect(text.includes(API_SECRET), `the secret is in ${what}`).toBe(false);
      // Nor a recognisable part of it.
      expect(text.includes(API_SECRET.slice(-12)), `part of the secret is in ${what}`).toBe(false);
    }
  }, 180_000);
});
