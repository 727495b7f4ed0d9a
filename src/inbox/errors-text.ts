/**
 * The `<name>.errors.txt` left beside a file the drop folder could not use:
 * what is wrong, where, and how to fix it, in words for the person who
 * dropped it.
 */
import type { FileErrorCode, InputFileError } from '../core/errors.js';

const HOW_TO_FIX: Record<FileErrorCode, string> = {
  FILE_NOT_FOUND: 'The file disappeared while it was being read. Drop it into inbox/ again.',
  FILE_UNREADABLE: 'paylinks could not read the file. Check that it is a plain file that the paylinks service may read, then drop it again.',
  FILE_EMPTY: 'The file is empty. Export it again from your accounting program and drop the new file.',
  FILE_NO_ROWS: 'The file has a header line but no invoices below it. Check that the export contains the invoices, then drop it again.',
  FILE_MISSING_COLUMN:
    'A required column is missing. The header line (line 1) needs an invoice number column (such as "Invoice Number") and an amount column (such as "Amount"). Rename the column in the first line, or export again with it, then drop the file again.',
  FILE_UNTERMINATED_QUOTE: 'A quoted field is never closed. Open the file, add the missing closing quote (") on that line or remove the opening one, save it as CSV and drop it again.',
  FILE_UNDECODABLE: 'The file is not text paylinks can read. Save it as "CSV UTF-8" (or CSV) from your spreadsheet program and drop the new file.',
  FILE_MISSING_SHEET: 'The workbook does not have the sheet paylinks was told to read. Put the invoices on the first sheet of the workbook, save it, and drop it again.',
  FILE_TOO_LARGE: 'The file holds more than paylinks reads (a cell longer than Excel allows, or a workbook far larger than any list of invoices). Export the invoices again, or save them as CSV, and drop the new file.',
  FILE_MALFORMED: 'A line cannot be read as CSV. Fix that line (a quote inside a quoted field must be doubled: "") or export the file again, then drop it.',
};

/** The text of `<name>.errors.txt` for a file error. */
export function fileErrorText(name: string, error: InputFileError): string {
  const code = error.code as FileErrorCode;
  // The message starts with the path the file was read from (processing/...): the person knows it by its name.
  const what = error.message.replace(`${error.file}${error.line === undefined ? '' : `:${error.line}`}: `, '');
  return [
    `paylinks could not use ${name}: nothing was sent to Paywint.`,
    '',
    `What is wrong: ${what} [${code}]`,
    `Where: ${error.line === undefined ? 'the file as a whole' : `line ${error.line}${error.line === 1 ? ' (the header line)' : ''}`}`,
    `How to fix it: ${HOW_TO_FIX[code] ?? 'Correct the file and drop it into inbox/ again.'}`,
    '',
    'Once fixed, drop the file into inbox/ again. You may delete this file and the failed copy.',
    '',
  ].join('\r\n');
}

/** The text of `<name>.errors.txt` for an entry of `inbox/` that is not a regular file (see entry-check.ts). */
export function notRegularText(name: string, kind: string): string {
  return [
    `paylinks did not use ${name}: nothing was read from it and nothing was sent to Paywint.`,
    '',
    `What is wrong: ${name} is a ${kind}, not a file: paylinks reads only regular files. [FILE_UNREADABLE]`,
    kind === 'symbolic link'
      ? 'How to fix it: copy the file itself into inbox/ (not a link or shortcut to it). The link was removed from inbox/; what it pointed at was not touched.'
      : `How to fix it: copy a plain invoice file (CSV or workbook) into inbox/. The ${kind} was moved to failed/.`,
    '',
  ].join('\r\n');
}
