/**
 * How fast `validateFile` reads a large file, and how much memory it needs,
 * beside a plain csv-parse loop over the same file; and the same rows as an
 * Excel workbook (generated here with exceljs, shared strings and number
 * formats as Excel writes them), beside exceljs's own streaming reader.
 *
 * Each measurement runs in its own child process (this file, compiled, with
 * `--child <mode> <file>`), so each peak RSS is clean.
 *
 *     npm run build && node dist/bench/validate-bench.js [rows]
 *
 * Goals: validate a CSV at 100,000 rows/s or more, a workbook at 50,000
 * rows/s or more, each within 250 MB of peak RSS.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import { validateFile } from '../src/intake/validate.js';

export const GOAL_ROWS_PER_SECOND = 100_000;
export const GOAL_WORKBOOK_ROWS_PER_SECOND = 50_000;
export const GOAL_PEAK_RSS_BYTES = 250 * 1024 * 1024;

export interface ValidateBenchOptions {
  /** Data rows in the generated file. Default 1,000,000. */
  rows?: number;
  /** Where the generated file goes. Default `bench/out` (gitignored). */
  dir?: string;
  /** Also the same rows as an .xlsx. Default true. */
  workbook?: boolean;
}

export interface ModeResult {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** Peak resident set size of the child process, in bytes. */
  peakRssBytes: number;
}

export interface ValidateBenchResult {
  file: string;
  fileBytes: number;
  rows: number;
  validate: ModeResult;
  csvParse: ModeResult;
  /** validate rows/s divided by csv-parse rows/s. */
  speedRatio: number;
  /** validate peak RSS divided by csv-parse peak RSS. */
  memoryRatio: number;
  goalMet: boolean;
  /** The same rows as a workbook; absent when `workbook` is false. */
  workbook?: {
    file: string;
    fileBytes: number;
    validate: ModeResult;
    /** exceljs's streaming WorkbookReader, cell values only, over the same workbook. */
    exceljs: ModeResult;
    goalMet: boolean;
  };
}

type Mode = 'validate' | 'csv-parse' | 'exceljs';

const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), here.endsWith('.ts') ? '..' : '../..');

export async function runValidateBench(options: ValidateBenchOptions = {}): Promise<ValidateBenchResult> {
  const rows = options.rows ?? 1_000_000;
  const dir = options.dir ?? path.join(repoRoot, 'bench', 'out');
  const file = path.join(dir, `invoices-${rows}.csv`);
  if (!existsSync(file)) await generateInvoiceFile(file, rows);
  const validate = await measureInChild('validate', file);
  const csvParse = await measureInChild('csv-parse', file);
  let workbook: ValidateBenchResult['workbook'];
  if (options.workbook !== false) {
    const xlsx = path.join(dir, `invoices-${rows}.xlsx`);
    if (!existsSync(xlsx)) await generateInvoiceWorkbook(xlsx, rows);
    const validateXlsx = await measureInChild('validate', xlsx);
    const exceljs = await measureInChild('exceljs', xlsx);
    workbook = {
      file: xlsx,
      fileBytes: statSync(xlsx).size,
      validate: validateXlsx,
      exceljs,
      goalMet: validateXlsx.rowsPerSecond >= GOAL_WORKBOOK_ROWS_PER_SECOND && validateXlsx.peakRssBytes <= GOAL_PEAK_RSS_BYTES,
    };
  }
  return {
    workbook,
    file,
    fileBytes: statSync(file).size,
    rows,
    validate,
    csvParse,
    speedRatio: validate.rowsPerSecond / csvParse.rowsPerSecond,
    memoryRatio: validate.peakRssBytes / csvParse.peakRssBytes,
    goalMet: validate.rowsPerSecond >= GOAL_ROWS_PER_SECOND && validate.peakRssBytes <= GOAL_PEAK_RSS_BYTES,
  };
}

const HEADER = ['invoice_number', 'customer', 'email', 'amount', 'description', 'due_date'];
const CUSTOMERS = ['Acme Corporation', 'Globex Ltd', 'Initech', 'Umbrella Health', 'Stark Logistics', 'Wayne Foods', 'Hooli', 'Pied Piper'];
const DESCRIPTIONS = ['Consulting, March 2025', 'Monthly hosting plan', 'Website redesign, phase 1', 'Late fee', 'Fleet tracking, 12 vehicles'];

/** Row `i` of the generated files: about 1% of rows invalid (`n/a`) and 0.1% duplicates. */
function invoiceRow(i: number): { invoice: string; customer: string; email: string; amount: string; description: string; day: number } {
  const cents = (i * 7919) % 1_000_000;
  return {
    invoice: i % 1000 === 0 ? `INV-${String(i - 1).padStart(8, '0')}` : `INV-${String(i).padStart(8, '0')}`,
    customer: CUSTOMERS[i % CUSTOMERS.length]!,
    email: `billing${i % 5000}@example.com`,
    amount: i % 100 === 0 ? 'n/a' : `${Math.floor(cents / 100) + 1}.${String(cents % 100).padStart(2, '0')}`,
    description: DESCRIPTIONS[i % DESCRIPTIONS.length]!,
    day: (i % 28) + 1,
  };
}

/**
 * Writes a realistic invoice file: six columns, quoted descriptions with
 * commas, amounts with cents; about 1% of rows invalid and 0.1% duplicates.
 */
export async function generateInvoiceFile(file: string, rows: number): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  let batch = `${HEADER.join(',')}\n`;
  for (let i = 1; i <= rows; i++) {
    const r = invoiceRow(i);
    const description = r.description.includes(',') ? `"${r.description}"` : r.description;
    batch += `${r.invoice},${r.customer},${r.email},${r.amount},${description},2025-05-${String(r.day).padStart(2, '0')}\n`;
    if (batch.length > 1 << 16) {
      if (!out.write(batch)) await once(out, 'drain');
      batch = '';
    }
  }
  out.end(batch);
  await once(out, 'finish');
  const { rename } = await import('node:fs/promises');
  await rename(partial, file);
}

/**
 * The same rows as {@link generateInvoiceFile}, as Excel would save them: text
 * in shared strings, amounts as numbers formatted `#,##0.00` (`n/a` as text),
 * due dates as date cells. Streamed with exceljs's WorkbookWriter.
 */
export async function generateInvoiceWorkbook(file: string, rows: number): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: partial, useSharedStrings: true, useStyles: true });
  const sheet = workbook.addWorksheet('Invoices');
  sheet.addRow(HEADER).commit();
  for (let i = 1; i <= rows; i++) {
    const r = invoiceRow(i);
    const row = sheet.addRow([r.invoice, r.customer, r.email, r.amount === 'n/a' ? r.amount : Number(r.amount), r.description, new Date(Date.UTC(2025, 4, r.day))]);
    row.getCell(4).numFmt = '#,##0.00';
    row.getCell(6).numFmt = 'yyyy-mm-dd';
    row.commit();
  }
  sheet.commit();
  await workbook.commit();
  const { rename } = await import('node:fs/promises');
  await rename(partial, file);
}

async function measureInChild(mode: Mode, file: string): Promise<ModeResult> {
  const script = here.endsWith('.ts') ? path.join(repoRoot, 'dist', 'bench', 'validate-bench.js') : here;
  const child = spawn(process.execPath, [script, '--child', mode, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bench child (${mode}) exited with ${code}`);
  return JSON.parse(stdout) as ModeResult;
}

async function runChild(mode: Mode, file: string): Promise<ModeResult> {
  const started = process.hrtime.bigint();
  let rows: number;
  if (mode === 'validate') {
    rows = (await validateFile(file)).rows;
  } else if (mode === 'exceljs') {
    rows = -1; // the header
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', worksheets: 'emit' });
    for await (const sheet of reader) {
      for await (const _row of sheet) rows++;
      break;
    }
  } else {
    rows = -1; // the header
    for await (const _record of createReadStream(file).pipe(parse())) rows++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rows, seconds, rowsPerSecond: rows / seconds, peakRssBytes: await ownPeakRssBytes() };
}

/**
 * This process's own peak RSS. On Linux, VmHWM of /proc/self/status: getrusage's maxRSS keeps, across exec, the
 * RSS of the process this child was forked from (a bench process that had just written a 1,000,000-row workbook
 * made every child report its 353 MB). Elsewhere, maxRSS.
 */
async function ownPeakRssBytes(): Promise<number> {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile('/proc/self/status', 'utf8'));
    if (kb) return Number(kb[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

export function formatTable(result: ValidateBenchResult): string {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  const n = (value: number) => Math.round(value).toLocaleString('en-US');
  const row = (name: string, r: ModeResult) => `${name.padEnd(16)}${n(r.rowsPerSecond).padStart(12)}${mb(r.peakRssBytes).padStart(12)}${r.seconds.toFixed(2).padStart(10)} s`;
  return [
    `validate-bench: ${n(result.rows)} rows, ${mb(result.fileBytes)} (${path.relative(process.cwd(), result.file)})`,
    `${''.padEnd(16)}${'rows/s'.padStart(12)}${'peak RSS'.padStart(12)}${'time'.padStart(12)}`,
    row('validateFile', result.validate),
    row('csv-parse loop', result.csvParse),
    `validateFile / csv-parse: ${result.speedRatio.toFixed(2)}x the speed, ${result.memoryRatio.toFixed(2)}x the memory`,
    `goal (>= ${n(GOAL_ROWS_PER_SECOND)} rows/s, <= ${mb(GOAL_PEAK_RSS_BYTES)}): ${result.goalMet ? 'met' : 'NOT met'}`,
    ...(result.workbook === undefined
      ? []
      : [
          `the same rows as a workbook, ${mb(result.workbook.fileBytes)} (${path.relative(process.cwd(), result.workbook.file)})`,
          row('validateFile', result.workbook.validate),
          row('exceljs reader', result.workbook.exceljs),
          `goal (>= ${n(GOAL_WORKBOOK_ROWS_PER_SECOND)} rows/s, <= ${mb(GOAL_PEAK_RSS_BYTES)}): ${result.workbook.goalMet ? 'met' : 'NOT met'}`,
        ]),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--child') {
    const mode = argv[1] as Mode;
    const result = await runChild(mode, argv[2]!);
    process.stdout.write(JSON.stringify(result));
    return 0;
  }
  const rows = argv[0] === undefined ? undefined : Number(argv[0]);
  if (rows !== undefined && (!Number.isSafeInteger(rows) || rows < 1)) {
    process.stderr.write(`usage: node dist/bench/validate-bench.js [rows]   (got ${JSON.stringify(argv[0])})\n`);
    return 2;
  }
  const result = await runValidateBench({ rows });
  console.log(formatTable(result));
  return result.goalMet && result.workbook?.goalMet !== false ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === here) {
  process.exitCode = await main(process.argv.slice(2));
}
