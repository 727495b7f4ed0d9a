/**
 * `paylinks validate`: checks an invoice file without sending anything, and
 * says what would be sent and what would not, with lines a person can fix.
 */
import { z } from 'zod';
import { describeDelimiter, ROLE_LABELS } from './columns.js';
import type { FileEncoding } from './decode.js';
import { InputFileError, type RowErrorCode } from '../core/errors.js';
import { openInvoiceFile, type ColumnLayout, type IntakeOptions } from './invoice-file.js';
import type { FirstLines } from './duplicate-invoices.js';
import { formatCents } from '../core/money.js';
import { contactOf, type RowWarningCode } from './contact.js';

/** How to read the file: columns, delimiter, sheet, decimal mark (see {@link IntakeOptions}). */
export type ValidateOptions = IntakeOptions;

/** One row that would not be sent. */
export interface RowProblem {
  /** Line of the file where the row starts (the header is line 1). */
  line: number;
  /** Trimmed; empty when the row has none. */
  invoiceNumber: string;
  code: RowErrorCode;
  message: string;
}

/** A warning on a row that is sent (issue 19). */
export interface RowNote {
  line: number;
  invoiceNumber: string;
  code: RowWarningCode;
  message: string;
}

export interface ValidationReport {
  file: string;
  layout: ColumnLayout;
  /** Data records (blank lines excluded). */
  rows: number;
  valid: number;
  /** Every row that would not be sent, duplicates included. */
  invalid: number;
  /** Sum of the valid rows' amounts, in cents. */
  totalCents: number;
  /** One per invalid row, in file order. */
  errors: RowProblem[];
  /** Valid rows with a warning (a malformed e-mail address, an unreadable due date): linked, but no message, or one without the due date. */
  warned: number;
  /** The warnings of valid rows, in file order (as many as errors are kept). */
  warnings: RowNote[];
  encoding: FileEncoding;
  delimiter: string;
}

/** How many errors {@link formatReport} lists before "… and N more". */
export const MAX_LISTED_ERRORS = 50;

export interface CheckOptions extends ValidateOptions {
  /** Keep at most this many row errors in `errors` (the counts still cover every row). Default: all. */
  maxErrors?: number;
  /** Filled with the invoice numbers' first lines, for a second read of the file (see FirstLines). */
  firstLines?: FirstLines;
}

/** A {@link ValidationReport} and the SHA-256 (hex) of the file's bytes. */
export interface CheckedFile extends ValidationReport {
  sha256: string;
}

/**
 * Reads the whole file once and checks every row: the report and the file's
 * SHA-256. Throws {@link InputFileError} when the file as a whole cannot be
 * used (FILE_NO_ROWS included). The one pass `validate` and `submit` share.
 */
export async function checkInvoiceFile(file: string, options: CheckOptions = {}): Promise<CheckedFile> {
  const invoices = await openInvoiceFile(file, { columns: options.columns, delimiter: options.delimiter, sheet: options.sheet, decimal: options.decimal, firstLines: options.firstLines, signal: options.signal });
  const maxErrors = options.maxErrors ?? Infinity;
  let rows = 0;
  let valid = 0;
  let totalCents = 0;
  const errors: RowProblem[] = [];
  const warnings: RowNote[] = [];
  let warned = 0;
  const layoutNow = invoices.layout;
  const contact = (layoutNow.email ?? layoutNow.name ?? layoutNow.due ?? null) !== null;
  for await (const record of invoices.records) {
    rows++;
    if (record.status === 'valid') {
      valid++;
      totalCents += record.amountCents;
      if (contact) {
        const found = contactOf(record.cells, layoutNow).warnings;
        if (found.length > 0) {
          warned++;
          for (const w of found) if (warnings.length < maxErrors) warnings.push({ line: record.line, invoiceNumber: record.invoiceNumber, ...w });
        }
      }
    } else if (errors.length < maxErrors) {
      errors.push({ line: record.line, invoiceNumber: record.invoiceNumber, code: record.code, message: record.message });
    }
  }
  if (rows === 0) throw new InputFileError('FILE_NO_ROWS', file, 'the file has a header line but no invoice rows below it');
  if (!Number.isSafeInteger(totalCents)) {
    throw new InputFileError('FILE_MALFORMED', file, 'the total of the valid rows is too large to add up exactly');
  }
  const layout = { ...invoices.layout };
  return { file, layout, rows, valid, invalid: rows - valid, totalCents, errors, warned, warnings, encoding: layout.encoding, delimiter: layout.delimiter, sha256: invoices.sha256() };
}

/**
 * Reads the whole file and checks every row. Throws {@link InputFileError}
 * when the file as a whole cannot be used (FILE_NO_ROWS included).
 */
export async function validateFile(file: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const { sha256: _sha256, ...report } = await checkInvoiceFile(file, options);
  return report;
}

/** One row error as `validate --json`, `submit --json` and the API give it. */
export const RowProblemJsonSchema = z.object({ line: z.number().int(), invoice_number: z.string(), code: z.string(), message: z.string() });

/** The `validate --json` object. */
export const ValidationReportJsonSchema = z.object({
  format: z.enum(['csv', 'workbook']).describe('how the file was read'),
  sheet: z.string().nullable().describe("the workbook's sheet read, null for a CSV"),
  header_line: z.number().int().describe("the header's line (a workbook's row number)"),
  decimal: z.enum(['point', 'comma']).nullable().describe("the file's decimal mark; null when no amount told"),
  rows: z.number().int(),
  valid: z.number().int(),
  invalid: z.number().int(),
  total_amount: z.string().describe('sum of the valid rows, a decimal string'),
  errors: z.array(RowProblemJsonSchema),
  warnings: z.array(RowProblemJsonSchema).describe('rows that are sent, with a warning: a malformed e-mail address (no message), an unreadable due date'),
});
export type ValidationReportJson = z.infer<typeof ValidationReportJsonSchema>;

/** A row error as JSON: `{line, invoice_number, code, message}`. */
export function rowProblemToJson(e: RowProblem): z.infer<typeof RowProblemJsonSchema> {
  return { line: e.line, invoice_number: e.invoiceNumber, code: e.code, message: e.message };
}

/**
 * The `validate --json` object: `{rows, valid, invalid, total_amount,
 * errors: [{line, invoice_number, code, message}], format, sheet,
 * header_line, decimal}`. `line` is the file's line, or the workbook's row
 * number; `decimal` is the file's decimal mark (`point`, `comma`, or null
 * when no amount told).
 */
export function reportToJson(report: ValidationReport): ValidationReportJson {
  const { layout } = report;
  return {
    format: layout.format ?? 'csv',
    sheet: layout.sheet ?? null,
    header_line: layout.headerLine ?? 1,
    decimal: layout.decimal ?? null,
    rows: report.rows,
    valid: report.valid,
    invalid: report.invalid,
    total_amount: formatCents(report.totalCents),
    errors: report.errors.map(rowProblemToJson),
    warnings: report.warnings.map((w) => ({ line: w.line, invoice_number: w.invoiceNumber, code: w.code, message: w.message })),
  };
}

const ENCODING_NAMES: Record<FileEncoding, string> = {
  'utf-8': 'UTF-8',
  'windows-1252': 'Windows-1252 (Excel "CSV")',
  'utf-16le': 'UTF-16 LE (Excel "Unicode Text")',
  'utf-16be': 'UTF-16 BE',
};

/** A summary for a person: the file, how it was read, the counts, the total, then the rows that would not be sent. */
export function formatReport(report: ValidationReport): string {
  const { layout } = report;
  const column = (index: number) => `${JSON.stringify(layout.headers[index])} (column ${index + 1})`;
  const roles = [`${ROLE_LABELS.invoice}: ${column(layout.invoice)}`, `${ROLE_LABELS.amount}: ${column(layout.amount)}`];
  roles.push(layout.description === null ? `${ROLE_LABELS.description}: none` : `${ROLE_LABELS.description}: ${column(layout.description)}`);
  for (const role of ['email', 'name', 'due'] as const) {
    const index = layout[role];
    if (index !== undefined && index !== null) roles.push(`${ROLE_LABELS[role]}: ${column(index)}`);
  }
  const lines = [`File:       ${report.file}`];
  if (layout.format === 'workbook') lines.push(`Workbook:   sheet ${JSON.stringify(layout.sheet)}`);
  else lines.push(`Encoding:   ${ENCODING_NAMES[report.encoding]}`, `Delimiter:  ${describeDelimiter(report.delimiter)}`);
  if ((layout.headerLine ?? 1) !== 1) lines.push(`Header:     line ${layout.headerLine} (the lines above it are not read)`);
  if (layout.decimal === 'comma') lines.push('Decimals:   comma (1.234,56)');
  lines.push(
    `Columns:    ${roles.join(', ')}`,
    `Rows:       ${report.rows} (${report.valid} valid, ${report.invalid} invalid)`,
    `Total:      ${groupThousands(formatCents(report.totalCents))} in ${report.valid} valid ${report.valid === 1 ? 'row' : 'rows'}`,
  );
  if (report.warnings.length > 0) {
    lines.push('', `${report.warned} valid ${report.warned === 1 ? 'row has' : 'rows have'} a warning (linked all the same):`);
    for (const w of report.warnings.slice(0, MAX_LISTED_ERRORS)) lines.push(`  line ${w.line}: ${w.invoiceNumber} — ${w.code}: ${w.message}`);
    if (report.warnings.length > MAX_LISTED_ERRORS) lines.push(`  … and ${report.warnings.length - MAX_LISTED_ERRORS} more (use --json)`);
  }
  if (report.errors.length === 0) {
    lines.push('', `All ${report.rows} ${report.rows === 1 ? 'row is' : 'rows are'} valid.`);
    return lines.join('\n');
  }
  lines.push('', `${report.invalid} ${report.invalid === 1 ? 'row' : 'rows'} would not be sent:`);
  for (const e of report.errors.slice(0, MAX_LISTED_ERRORS)) {
    lines.push(`  line ${e.line}: ${e.invoiceNumber === '' ? '(no invoice number)' : e.invoiceNumber} — ${e.code}: ${e.message}`);
  }
  if (report.errors.length > MAX_LISTED_ERRORS) {
    lines.push(`  … and ${report.errors.length - MAX_LISTED_ERRORS} more (use --json)`);
  }
  return lines.join('\n');
}

/** `"1234567.89"` → `"1,234,567.89"`. */
function groupThousands(decimal: string): string {
  const [whole = '', fraction] = decimal.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
