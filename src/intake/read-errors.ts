/**
 * Turning what goes wrong while a file is read (a CSV syntax error, the file
 * removed or unreadable) into an {@link InputFileError} with a line a person
 * can go to.
 */
import { CsvError } from 'csv-parse';
import { InputFileError } from '../core/errors.js';
import { CsvScanner, MAX_RECORD_BYTES, type CsvProblem } from './csv-syntax.js';
import { decodeStream, InvoiceDecoder } from './decode.js';
import { readBytes } from './file-bytes.js';

/**
 * The error to throw for what the read pipeline threw. `line` is where the
 * reader had got to: the fallback when a CSV error cannot be placed better.
 */
export async function explainReadError(error: unknown, file: string, delimiter: string, line: number): Promise<unknown> {
  if (error instanceof InputFileError) return error;
  if (error instanceof CsvError) {
    const problem = await findCsvProblem(file, delimiter).catch(() => undefined);
    if (problem !== undefined) return problemToError(problem, file);
    const at = typeof error.lines === 'number' ? error.lines : line;
    return new InputFileError('FILE_MALFORMED', file, `this line cannot be read as CSV (${error.message})`, at, error);
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ENOENT') return new InputFileError('FILE_NOT_FOUND', file, 'the file was removed while it was being read', undefined, error);
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new InputFileError('FILE_UNREADABLE', file, `the file cannot be read (${code})`, undefined, error);
  }
  return error;
}

function problemToError(problem: CsvProblem, file: string): InputFileError {
  switch (problem.kind) {
    case 'unclosed':
      return new InputFileError(
        'FILE_UNTERMINATED_QUOTE',
        file,
        'a quoted field starts here and is never closed: add the closing quote (") or remove the opening one',
        problem.line,
      );
    case 'quote-too-long':
      return new InputFileError(
        'FILE_UNTERMINATED_QUOTE',
        file,
        `a quoted field starts here and is not closed within ${MAX_RECORD_BYTES.toLocaleString('en-US')} characters: add the closing quote (") or remove the opening one`,
        problem.line,
      );
    case 'closing-quote': {
      const where = problem.closeLine === problem.line ? '' : ` on line ${problem.closeLine}`;
      return new InputFileError(
        'FILE_MALFORMED',
        file,
        `a quoted field starts here, and the quote that ends it${where} is followed by ${JSON.stringify(problem.next)} instead of a delimiter or the end of the line. ` +
          'A quote inside a quoted field must be doubled ("")',
        problem.line,
      );
    }
    case 'opening-quote':
      return new InputFileError(
        'FILE_MALFORMED',
        file,
        'a quote (") appears in the middle of a field. Put the whole field in quotes and double the quote inside it, e.g. "27"" monitor"',
        problem.line,
      );
    case 'record-too-long':
      return new InputFileError('FILE_MALFORMED', file, `a record starts here that is longer than ${MAX_RECORD_BYTES.toLocaleString('en-US')} characters`, problem.line);
  }
}

/**
 * Reads the file again, with the strict RFC 4180 rules csv-parse applies, to
 * find where a CSV syntax error really is: the line where the offending quoted
 * field opens, which csv-parse does not tell. Only runs after an error.
 */
async function findCsvProblem(file: string, delimiter: string): Promise<CsvProblem | undefined> {
  const scanner = new CsvScanner(delimiter.charCodeAt(0));
  const decoder = new InvoiceDecoder(file);
  const source = readBytes(file);
  try {
    for await (const chunk of decodeStream(source, decoder)) {
      const problem = scanner.feed(chunk);
      if (problem !== undefined) return problem;
    }
    return scanner.finish();
  } finally {
    source.destroy();
  }
}
