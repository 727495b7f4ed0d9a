/**
 * `npm run bench`: every benchmark, one after the other, each measuring its
 * figures side by side in one run. Prints the tables for the README.
 *
 * Usage: `npm run bench [-- --quick]` (`--quick`: 100,000-row validate file, upload and report, 5,000-row overhead run,
 * 2,000-row realistic run, 5,000 webhook events, 100,000 statuses, a sweep of 100,000 links); `npm run bench -- scale [--quick]`: the million-row batch, the 200,000-row cancel and
 * the 401 stop (see scale-bench.ts; `--quick`: 100,000 and 20,000 rows); `npm run bench -- rekey [--quick]`: moving
 * a million-entry ledger to invoice keys (ledger-rekey-bench.ts; `--quick`: 100,000); `npm run bench -- mail [--quick]`:
 * the mail benchmark alone (see mail-bench.ts; `--quick`: 10,000 messages), which the full run ends with too.
 */
import { formatInboxLatency, runInboxLatencyBench } from './inbox-latency.js';
import { formatStatusBytes, runStatusBytesBench } from './payment-status-bench.js';
import { formatSweepBench, runSweepBench } from './payment-sweep-bench.js';
import { formatIntakeBench, runIntakeBench } from './webhook-intake-bench.js';
import { formatInvoiceLookup, runInvoiceLookupBench } from './invoice-lookup-bench.js';
import { formatRekeyBench, runRekeyBench } from './ledger-rekey-bench.js';
import { formatMailBench, runMailBench } from './mail-bench.js';
import { formatPipelineBench, runPipelineBench } from './pipeline-bench.js';
import { formatRealisticBench, runRealisticBenchInChild } from './realistic-bench.js';
import { formatReportBench, runReportBench } from './report-bench.js';
import { formatScaleBench, runScaleBench } from './scale-bench.js';
import { formatServeBench, runServeBench } from './serve-bench.js';
import { formatTable, runValidateBench } from './validate-bench.js';
import { formatWorkbookCellsBench, runWorkbookCellsBench } from './workbook-cells.js';

const quick = process.argv.includes('--quick');
const mailTitle = '\nmail to customers (paylinks run, then paylinks worker + send to a local SMTP server in its own process; simulator in its own process, private Redis with AOF on):';
if (process.argv.includes('mail')) {
  console.log(`paylinks mail benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}`);
  console.log(mailTitle);
  console.log(formatMailBench(await runMailBench({ messages: quick ? 10_000 : 100_000, rate: 1000 })));
} else if (process.argv.includes('rekey')) {
  console.log(`paylinks ledger rekey benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}\n`);
  console.log(formatRekeyBench(await runRekeyBench({ entries: quick ? 100_000 : 1_000_000 })));
} else if (process.argv.includes('scale')) {
  console.log(`paylinks scale benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}\n`);
  console.log(formatScaleBench(await runScaleBench(quick ? { rows: 100_000, cancelRows: 20_000, overheadRows: 5_000 } : {})));
} else {
  console.log(`paylinks benchmarks (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}\n`);
  console.log('validate:');
  console.log(formatTable(await runValidateBench({ rows: quick ? 100_000 : 1_000_000 })));
  console.log('\nworkbook with one long text cell (stops at the 32,767-character cell limit):');
  console.log(formatWorkbookCellsBench(await runWorkbookCellsBench()));
  console.log('\npipeline (Paywint simulator in its own process, private Redis with AOF on):');
  console.log(formatPipelineBench(await runPipelineBench({ rows: quick ? 5_000 : 20_000 })));
  console.log('\nrealistic conditions (Paywint simulator in its own process, private Redis with AOF on):');
  console.log(formatRealisticBench(await runRealisticBenchInChild({ rows: quick ? 2_000 : 20_000 })));
  console.log('\nserve (upload of a large file over HTTP, private Redis with AOF on):');
  console.log(formatServeBench(await runServeBench({ rows: quick ? 100_000 : 1_100_000 })));
  console.log('\nreconciliation report (private Redis, each report in a child process):');
  console.log(formatReportBench(await runReportBench({ rows: quick ? 100_000 : 1_000_000 })));
  console.log('\ndrop folder pickup latency (private Redis, no workers):');
  console.log(formatInboxLatency(await runInboxLatencyBench({ drops: quick ? 4 : 8, rows: 1000 }), 1000));
  console.log('\nwebhook intake (serve --no-worker, private Redis with AOF on), then confirmation by a worker:');
  console.log(formatIntakeBench(await runIntakeBench({ events: quick ? 5_000 : 20_000, rate: 1000 })));
  console.log('\npayment status storage (private Redis, no persistence):');
  console.log(formatStatusBytes(await runStatusBytesBench({ invoices: quick ? 100_000 : 1_000_000 })));
  console.log('\npayment sweep (`payments sync` in its own process, simulator in this one, private Redis):');
  console.log(formatSweepBench(await runSweepBench(quick ? { links: 100_000, open: 10_000, rate: 500 } : { links: 1_000_000, open: 100_000, rate: 1000 })));
  console.log('\nfind an invoice (GET /api/invoices/{invoiceNumber}; private Redis, no persistence):');
  console.log(formatInvoiceLookup(await runInvoiceLookupBench({ invoices: quick ? 100_000 : 1_000_000 })));
  console.log(mailTitle);
  console.log(formatMailBench(await runMailBench({ messages: quick ? 10_000 : 100_000, rate: 1000 })));
}
