/**
 * Columns of an invoice file: which header is the invoice number, the amount
 * and the description; which delimiter separates the fields; and the parsers
 * of the `--columns` and `--delimiter` flags.
 *
 * Headers are compared normalised: case, spaces and punctuation ignored, so
 * `Invoice #`, `INVOICE` and `invoice` are the same name, as are `Amount Due`
 * and `amount_due`.
 */
import { InvalidArgumentError } from 'commander';
import type { DecimalMark } from '../core/money.js';
import type { FileEncoding } from './decode.js';

/** Columns named explicitly (`--columns invoice=...,amount=...,description=...`), by header name. */
export interface ColumnOverrides {
  invoice?: string;
  amount?: string;
  description?: string;
  /** The currency column: a row in any currency but USD is not sent (CURRENCY_NOT_USD). */
  currency?: string;
  /** The customer's e-mail address (issue 19): optional; without it, sending is off. */
  email?: string;
  /** The customer's name, for the greeting and the To header. */
  name?: string;
  /** The invoice's due date (reminders may be relative to it). */
  due?: string;
}

export type ColumnRole = keyof ColumnOverrides;

const ROLES: readonly ColumnRole[] = ['invoice', 'amount', 'description', 'currency', 'email', 'name', 'due'];
/** Optional roles: the first alias present wins. */
const OPTIONAL: ReadonlySet<ColumnRole> = new Set(['description', 'currency', 'email', 'name', 'due']);

/** What each role is called in messages. */
export const ROLE_LABELS: Record<ColumnRole, string> = {
  invoice: 'invoice number',
  amount: 'amount',
  description: 'description',
  currency: 'currency',
  email: 'e-mail address',
  name: 'customer name',
  due: 'due date',
};

/**
 * Header names recognised for each role, in order of preference. The invoice
 * number and the amount must be unambiguous (two matching columns are an
 * error); for the description the first alias present wins.
 */
export const COLUMN_ALIASES: Record<ColumnRole, readonly string[]> = {
  invoice: ['invoice_number', 'invoice number', 'invoice no', 'invoice #', 'invoice', 'invoice num', 'inv no', 'inv #', 'inv number'],
  amount: ['amount', 'amount due', 'total', 'total due', 'balance due', 'amount (USD)'],
  description: ['description', 'memo', 'notes', 'note', 'desc'],
  currency: ['currency', 'ccy', 'currency code', 'currency_code', 'curr', 'cur', 'currency iso', 'iso currency', 'currency id'],
  email: ['email', 'e-mail', 'email address', 'e-mail address', 'customer_email', 'customer e-mail', 'customer email address', 'client email', 'contact email', 'billing email', 'mail'],
  name: ['customer_name', 'customer name', 'name', 'customer', 'client name', 'client', 'contact name', 'contact', 'bill to', 'billed to'],
  due: ['due_date', 'due date', 'due', 'date due', 'due on', 'due by', 'payment due', 'payment due date'],
};

/** Delimiters recognised in a header line, in order of preference on a tie. */
export const DELIMITERS = [',', ';', '\t', '|'] as const;

/** A header as compared: lower case, letters and digits only. */
export function normaliseHeader(header: string): string {
  return header.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** Column indexes (0-based) of the three roles. */
export interface ColumnIndexes {
  invoice: number;
  amount: number;
  description: number | null;
  /** Present only when the file has a currency column. */
  currency?: number;
  /** Present only when the file has an e-mail address column (likewise name and due date). */
  email?: number;
  name?: number;
  due?: number;
}

/** Where the columns are in an invoice file, and how its fields are read. */
export interface ColumnLayout {
  /** The header cells as in the file (trimmed, BOM removed). */
  headers: string[];
  /** Index of the invoice-number column. */
  invoice: number;
  /** Index of the amount column. */
  amount: number;
  /** Index of the description column, if any. */
  description: number | null;
  /** Index of the currency column, if any (absent in layouts stored before it existed). */
  currency?: number | null;
  /** Index of the customer's e-mail address column, if any (issue 19; absent: sending is off). */
  email?: number | null;
  /** Index of the customer's name column, if any. */
  name?: number | null;
  /** Index of the due date column, if any. */
  due?: number | null;
  delimiter: string;
  /**
   * As detected from the start of the file. When the first non-ASCII bytes
   * lie beyond the first 64 KiB and are not UTF-8, this changes from `utf-8`
   * to `windows-1252` while `records` is read (ASCII reads the same in both).
   */
  encoding: FileEncoding;
  /** `workbook` for an Excel workbook (.xlsx, .xlsm); `csv` (the default) for text. */
  format?: 'csv' | 'workbook';
  /** The worksheet read, for a workbook. */
  sheet?: string | null;
  /** The line (a workbook's row number) of the header: 1 unless title lines or blank lines precede it. */
  headerLine?: number;
  /**
   * The file's decimal mark: as stated (`--decimal`), or as its amounts show
   * it, once `records` has been read (null while no amount has told).
   */
  decimal?: DecimalMark | null;
}

export type ColumnResolution =
  | ({ ok: true } & ColumnIndexes)
  | { ok: false; code: 'FILE_MISSING_COLUMN' | 'FILE_MALFORMED'; message: string };

/**
 * Finds the invoice-number, amount and description columns among `headers`,
 * by the names in `overrides` where given, else by {@link COLUMN_ALIASES}.
 * Every other column is left alone (it is carried through to the output).
 */
export function resolveColumns(headers: readonly string[], overrides: ColumnOverrides = {}, workbook = false): ColumnResolution {
  const normalised = headers.map(normaliseHeader);
  const found: Partial<Record<ColumnRole, number | null>> = {};

  for (const role of ROLES) {
    const named = overrides[role];
    let matches: number[];
    if (named !== undefined) {
      const key = normaliseHeader(named);
      matches = indexesOf(normalised, (h) => h === key);
      if (matches.length === 0) {
        return {
          ok: false,
          code: 'FILE_MISSING_COLUMN',
          message: `--columns names the ${ROLE_LABELS[role]} column "${named}", but the header line has no column by that name. ${describeHeaders(headers)}`,
        };
      }
    } else if (OPTIONAL.has(role)) {
      matches = [];
      // A column named for another role is that role's, never this one's by alias.
      const named = new Set(Object.values(overrides).filter((v): v is string => v !== undefined).map(normaliseHeader));
      for (const alias of COLUMN_ALIASES[role]) {
        const key = normaliseHeader(alias);
        matches = indexesOf(normalised, (h) => h === key && !named.has(h));
        if (matches.length > 0) break;
      }
    } else {
      const keys = new Set(COLUMN_ALIASES[role].map(normaliseHeader));
      matches = indexesOf(normalised, (h) => keys.has(h));
      if (matches.length === 0) {
        const hint = headers.length === 1 && !workbook ? ' There is only one column: is the delimiter right? Name it with --delimiter.' : '';
        return {
          ok: false,
          code: 'FILE_MISSING_COLUMN',
          message:
            `no ${ROLE_LABELS[role]} column. Looked for a header named ${COLUMN_ALIASES[role].map(quote).join(', ')} ` +
            `(ignoring case, spaces and punctuation). ${describeHeaders(headers)}${hint} ` +
            `Name the column with --columns ${role}="<header>".`,
        };
      }
    }
    if (matches.length > 1) {
      const which = matches.map((i) => `${quote(headers[i]!)} (column ${i + 1})`).join(' and ');
      return {
        ok: false,
        code: 'FILE_MALFORMED',
        message: `${which} could each be the ${ROLE_LABELS[role]} column. Rename one of them, or name the one to use with --columns ${role}="<header>".`,
      };
    }
    found[role] = matches[0] ?? null;
  }

  const invoice = found.invoice!;
  const amount = found.amount!;
  const description = found.description ?? null;
  const currency = found.currency ?? null;
  const used = new Map<number, ColumnRole>();
  for (const role of ROLES) {
    const index = found[role] ?? null;
    if (index === null) continue;
    const other = used.get(index);
    if (other !== undefined) {
      return {
        ok: false,
        code: 'FILE_MALFORMED',
        message: `column ${quote(headers[index]!)} cannot be both the ${ROLE_LABELS[other]} and the ${ROLE_LABELS[role]}. Name the columns with --columns.`,
      };
    }
    used.set(index, role);
  }
  const contact: Pick<ColumnIndexes, 'email' | 'name' | 'due'> = {};
  for (const role of ['email', 'name', 'due'] as const) {
    const index = found[role];
    if (index !== undefined && index !== null) contact[role] = index;
  }
  return { ok: true, invoice, amount, description, ...(currency === null ? {} : { currency }), ...contact };
}

/**
 * Guesses the delimiter from the header line: the candidate of
 * {@link DELIMITERS} that occurs most often outside quotes; on a tie, the
 * first in that list; comma when there is none.
 */
export function detectDelimiter(headerLine: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best: string = ',';
  let bestCount = 0;
  for (const d of DELIMITERS) {
    const n = counts.get(d)!;
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

/** The delimiter as a person would name it: `comma (,)`, `tab`. */
export function describeDelimiter(delimiter: string): string {
  switch (delimiter) {
    case ',':
      return 'comma (,)';
    case ';':
      return 'semicolon (;)';
    case '\t':
      return 'tab';
    case '|':
      return 'pipe (|)';
    default:
      return JSON.stringify(delimiter);
  }
}

const DELIMITER_NAMES: Record<string, string> = {
  ',': ',',
  comma: ',',
  ';': ';',
  semicolon: ';',
  '|': '|',
  pipe: '|',
  tab: '\t',
  '\\t': '\t',
  '\t': '\t',
};

/** `--delimiter`: `,` `;` `|` `tab` or `\t` (also `comma`, `semicolon`, `pipe`). */
export function parseDelimiterFlag(value: string): string {
  const delimiter = DELIMITER_NAMES[value.toLowerCase()] ?? DELIMITER_NAMES[value.trim().toLowerCase()];
  if (delimiter === undefined) {
    throw new InvalidArgumentError(`expected one of  ,  ;  |  tab  (or \\t), got ${JSON.stringify(value)}`);
  }
  return delimiter;
}

/** `--decimal`: `point` or `comma` (also `.` and `,`). */
export function parseDecimalFlag(value: string): DecimalMark {
  const mark = { point: 'point', '.': 'point', dot: 'point', comma: 'comma', ',': 'comma' }[value.trim().toLowerCase()];
  if (mark === undefined) throw new InvalidArgumentError(`expected point or comma, got ${JSON.stringify(value)}`);
  return mark as DecimalMark;
}

/**
 * `--columns invoice=<header>,amount=<header>,description=<header>`: any of
 * the three, in any order. Header names are matched like the aliases (case,
 * spaces and punctuation ignored); a name cannot contain a comma.
 */
export function parseColumnsFlag(value: string): ColumnOverrides {
  const overrides: ColumnOverrides = {};
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) {
    throw new InvalidArgumentError('expected invoice=<header>,amount=<header>,description=<header> (any of them), got nothing');
  }
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq === -1) {
      throw new InvalidArgumentError(`expected role=<header> such as amount="Amount Due", got ${JSON.stringify(part)}`);
    }
    const role = part.slice(0, eq).trim().toLowerCase();
    const header = unquote(part.slice(eq + 1).trim());
    if (!isRole(role)) {
      throw new InvalidArgumentError(`unknown column ${JSON.stringify(role)}: expected invoice, amount, description, currency, email, name or due`);
    }
    if (overrides[role] !== undefined) {
      throw new InvalidArgumentError(`${role} is named twice`);
    }
    if (normaliseHeader(header) === '') {
      throw new InvalidArgumentError(`${role}= needs a header name with at least one letter or digit, got ${JSON.stringify(header)}`);
    }
    overrides[role] = header;
  }
  return overrides;
}

function isRole(value: string): value is ColumnRole {
  return (ROLES as readonly string[]).includes(value);
}

function unquote(text: string): string {
  return text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.at(-1) === text[0] ? text.slice(1, -1) : text;
}

function indexesOf(values: readonly string[], test: (value: string) => boolean): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (test(v)) out.push(i);
  });
  return out;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function describeHeaders(headers: readonly string[]): string {
  const shown = headers.slice(0, 20).map(quote).join(', ');
  const more = headers.length > 20 ? `, and ${headers.length - 20} more` : '';
  return `The header line has ${headers.length === 1 ? 'one column' : `${headers.length} columns`}: ${shown}${more}.`;
}
