/**
 * A row's customer contact (issue 19): the e-mail address, the name and the
 * due date, read from the optional columns of the layout.
 *
 * Never a row error: a malformed address (or an unreadable due date, or a
 * name too long to be one) is a warning. The row still gets its link; no
 * message goes to a malformed address, and the output says why. Read from
 * the stored cells whenever needed (validate, the send plan, the output), so
 * nothing more is stored per row than the cells themselves.
 */
import { z } from 'zod';
import { quoteValue } from '../core/quote.js';
import type { ColumnLayout } from './columns.js';

/** The longest address SMTP carries (RFC 5321: 254 characters in a path). */
export const MAX_EMAIL_LENGTH = 254;
/** The longest name used in a greeting and the To header. */
export const MAX_NAME_LENGTH = 100;

export const ROW_WARNING_CODES = ['INVALID_EMAIL', 'NAME_TOO_LONG', 'INVALID_DUE_DATE'] as const;
export type RowWarningCode = (typeof ROW_WARNING_CODES)[number];

export interface RowWarning {
  code: RowWarningCode;
  message: string;
}

export interface RowContact {
  /** The address, trimmed; null when the row has none, or a malformed one (see `warnings`). */
  email: string | null;
  /** The name, trimmed, without line breaks; null when none. */
  name: string | null;
  /** The due date as an ISO date (`2025-04-15`); null when none or unreadable. */
  dueDate: string | null;
  warnings: RowWarning[];
}

const EMAIL = z.email();
/** An ISO date, with a time after it as a workbook's date cell has (`2025-04-15T00:00:00`). */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+Z?)?$/;

type ContactLayout = Pick<ColumnLayout, 'email' | 'name' | 'due'>;

/** Whether the layout has an address column: without one, sending is off for the batch. */
export function hasEmailColumn(layout: ContactLayout): boolean {
  return layout.email !== undefined && layout.email !== null;
}

/** The contact of a row given its cells, with its warnings. */
export function contactOf(cells: readonly string[], layout: ContactLayout): RowContact {
  const warnings: RowWarning[] = [];
  let email: string | null = null;
  if (layout.email !== undefined && layout.email !== null) {
    const text = (cells[layout.email] ?? '').trim();
    if (text !== '') {
      const problem = emailProblem(text);
      if (problem === undefined) email = text;
      else warnings.push({ code: 'INVALID_EMAIL', message: `no message is sent for this row: the e-mail address ${quoteValue(text)} ${problem}` });
    }
  }
  let name: string | null = null;
  if (layout.name !== undefined && layout.name !== null) {
    const text = (cells[layout.name] ?? '').replace(/[\r\n\u2028\u2029\t]+/g, ' ').trim();
    if ([...text].length > MAX_NAME_LENGTH) warnings.push({ code: 'NAME_TOO_LONG', message: `the name is longer than ${MAX_NAME_LENGTH} characters: messages greet without it` });
    else if (text !== '') name = text;
  }
  let dueDate: string | null = null;
  if (layout.due !== undefined && layout.due !== null) {
    const text = (cells[layout.due] ?? '').trim();
    if (text !== '') {
      dueDate = isoDate(text);
      if (dueDate === null) {
        warnings.push({ code: 'INVALID_DUE_DATE', message: `the due date ${quoteValue(text)} is not a date written as 2025-04-15 (or a workbook date cell): messages leave it out, and reminders set relative to the due date are not sent for this row` });
      }
    }
  }
  return { email, name, dueDate, warnings };
}

/** Why `text` is not one e-mail address, or undefined when it is one. */
function emailProblem(text: string): string | undefined {
  if (text.length > MAX_EMAIL_LENGTH) return `is longer than ${MAX_EMAIL_LENGTH} characters`;
  if (/[,;]/.test(text) && text.split(/[,;]/).filter((p) => p.trim() !== '').length > 1) return 'holds more than one address: give one address per row';
  if (!text.includes('@')) return 'has no @';
  if (!EMAIL.safeParse(text).success) return 'is not a valid address';
  return undefined;
}

function isoDate(text: string): string | null {
  const m = ISO_DATE.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${m[1]}-${m[2]}-${m[3]}`;
}
