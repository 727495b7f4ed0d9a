/**
 * The report as a file: CSV (the output file's conventions: BOM, CRLF,
 * RFC 4180, formula neutralisation; to a file or a stream) or an Excel
 * workbook (rows on the first sheet, header frozen, amounts as numbers, links
 * clickable; the summary on a second sheet). Both streamed, written beside as
 * `*.partial` and renamed into place when complete.
 */
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { PaylinksError } from '../../core/errors.js';
import { CsvFileWriter } from '../output.js';
import { MAX_WORKBOOK_ROWS } from '../workbook-output.js';
import { passReport, type OpenReport, type ReportTotals } from './report.js';
import type { ReportRow, RowFacts } from './rows.js';

/** The report's columns: the nine issue 17 names first, then the report's own. */
export const REPORT_COLUMNS = [
  'invoice_number',
  'amount',
  'payment_id',
  'payment_link',
  'payment_status',
  'amount_paid',
  'paid_at',
  'failure_reason',
  'exception',
  'line',
  'output_status',
  'link_created_at',
  'confirmed_at',
  'confirmed_by',
  // Messages to customers (issue 19): empty for a file without an e-mail address column.
  'emailed_at',
  'email_status',
  'reminders_sent',
  'last_reminder_at',
] as const satisfies readonly (keyof ReportRow)[];

export type ReportFormat = 'csv' | 'xlsx';

/** The format a file name asks for: `.xlsx` is a workbook, anything else CSV. */
export function formatOfFile(file: string): ReportFormat {
  return /\.xlsx$/i.test(file) ? 'xlsx' : 'csv';
}

function cells(row: ReportRow): string[] {
  return REPORT_COLUMNS.map((c) => (c === 'line' ? (row.line === null ? '' : String(row.line)) : row[c]));
}

/** Writes the report as CSV to a file or a stream (left open). */
export async function writeReportCsv(report: OpenReport, target: string | Writable): Promise<ReportTotals> {
  const writer = new CsvFileWriter(target, REPORT_COLUMNS);
  try {
    const totals = await passReport(report, async (chunk) => {
      for (const facts of chunk) await writer.write(cells(facts.row));
    });
    await writer.close();
    return totals;
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

const AMOUNT_COLUMNS = new Set<string>(['amount', 'amount_paid']);

/** Hyperlinks a worksheet holds (Excel's limit). */
const MAX_HYPERLINKS = 65_530;

/** A decimal string as a number literal (`1234.50` → 1234.5): exactly what the sheet shows with two decimals. */
function amountCell(text: string): number | string {
  return /^-?\d{1,13}\.\d{2}$/.test(text) ? Number(text) : text;
}

/** Writes the report as an Excel workbook to `file`. */
export async function writeReportWorkbook(report: OpenReport, file: string): Promise<ReportTotals> {
  if (report.batch.rows + 1 > MAX_WORKBOOK_ROWS) {
    throw new PaylinksError('BAD_REQUEST', `a workbook holds at most ${MAX_WORKBOOK_ROWS.toLocaleString('en-US')} rows: write this report as CSV`);
  }
  const tmp = `${file}.partial`;
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: tmp, useStyles: true, useSharedStrings: false });
  try {
    const sheet = workbook.addWorksheet('Report', { views: [{ state: 'frozen', ySplit: 1 }] });
    const header = sheet.addRow([...REPORT_COLUMNS]);
    header.font = { bold: true };
    header.commit();
    const linkColumn = REPORT_COLUMNS.indexOf('payment_link') + 1;
    let written = 0;
    const totals = await passReport(report, async (chunk: RowFacts[]) => {
      for (const { row } of chunk) {
        const values = REPORT_COLUMNS.map((c): string | number | null => {
          if (c === 'line') return row.line;
          const text = row[c];
          if (text === '') return null;
          return AMOUNT_COLUMNS.has(c) ? amountCell(text) : text;
        });
        const added = sheet.addRow(values);
        for (const c of AMOUNT_COLUMNS) {
          const cell = added.getCell(REPORT_COLUMNS.indexOf(c as (typeof REPORT_COLUMNS)[number]) + 1);
          if (typeof cell.value === 'number') cell.numFmt = '#,##0.00';
        }
        // Excel keeps at most 65,530 hyperlinks a sheet (and exceljs holds each in memory until the end): the rest stay text.
        if (row.payment_link && written < MAX_HYPERLINKS) {
          const link = added.getCell(linkColumn);
          link.value = { text: row.payment_link, hyperlink: row.payment_link };
          link.font = { color: { argb: 'FF0563C1' }, underline: true };
        }
        added.commit();
        written += 1;
        if (written % 1000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    });
    sheet.commit();
    const summarySheet = workbook.addWorksheet('Summary');
    for (const line of summaryLines(report, totals)) summarySheet.addRow(line.map((v) => (typeof v === 'number' ? v : amountCell(v)))).commit();
    summarySheet.commit();
    await workbook.commit();
    await rename(tmp, file);
    return totals;
  } catch (error) {
    await workbook.commit().catch(() => undefined);
    await rm(tmp, { force: true });
    throw error;
  }
}

/** The summary as rows of a sheet (or lines of text): label, count, amount. */
export function summaryLines(report: OpenReport, totals: ReportTotals): (string | number)[][] {
  const s = totals.summary;
  const lines: (string | number)[][] = [
    ['batch', report.batch.id],
    ['file', report.batch.file],
    ['report from', report.source === 'batch' ? 'the batch rows' : 'the ledger (the batch rows expired)'],
    ['rows', s.rows],
    ['rows without a link', s.withoutLink],
    ['links', s.links, s.linkedAmount],
  ];
  for (const [status, t] of Object.entries(s.byStatus)) lines.push([`  ${status}`, t.count, t.amount]);
  lines.push(['paid (amount paid)', s.byStatus.paid.count, s.paidAmount], ['collected %', s.collectedPercent]);
  for (const [bucket, t] of Object.entries(s.aging)) lines.push([`not paid, ${bucket} days`, t.count, t.amount]);
  lines.push(['exceptions', s.exceptions]);
  for (const e of totals.exceptions) lines.push([`  ${e.kind}`, e.invoiceNumber ?? '', e.detail]);
  return lines;
}

/** Writes the report to `file` (CSV or workbook by its extension). */
export function writeReportFile(report: OpenReport, file: string): Promise<ReportTotals> {
  return formatOfFile(file) === 'xlsx' ? writeReportWorkbook(report, file) : writeReportCsv(report, file);
}
