/**
 * Receiving an invoice file over HTTP: as multipart field `file` (with option
 * fields beside it) or as the raw body (`Content-Type: text/csv`). The bytes
 * go straight to a temporary file, never held whole in memory, and stop at
 * the size limit (413). Options come from the query and the form fields
 * through one schema: add an option there and both ways take it.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputFileError, PaylinksError } from '../core/errors.js';
import { parseColumnsFlag, parseDecimalFlag, parseDelimiterFlag, type ColumnOverrides } from '../intake/columns.js';
import { looksLikeZip } from '../intake/workbook.js';

/** Content types taken as the raw file (anything else that is not multipart is a 415). */
export const RAW_FILE_CONTENT_TYPES = [
  'text/csv',
  'text/plain',
  'text/tab-separated-values',
  'application/csv',
  'application/octet-stream',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.ms-excel.sheet.macroEnabled.12',
];

/** A yes/no query parameter: `true`, `1`, `yes`, `on` for yes; absent or anything else listed for no. */
export const booleanOption = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on')
  .optional();

function flagValue<T>(parse: (v: string) => T) {
  return (value: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  };
}

/** Upload options, as query parameters or form fields. */
export const UploadOptionsSchema = z.object({
  columns: z.string().optional().transform((v, ctx) => (v === undefined || v === '' ? undefined : flagValue<ColumnOverrides>(parseColumnsFlag)(v, ctx))).describe('invoice=<header>,amount=<header>,description=<header>, as --columns'),
  delimiter: z.string().optional().transform((v, ctx) => (v === undefined || v === '' ? undefined : flagValue(parseDelimiterFlag)(v, ctx))).describe(', ; | or tab, as --delimiter'),
  sheet: z.string().max(100).optional().describe("an Excel workbook's worksheet, by name or number from 1, as --sheet (default: the first)"),
  decimal: z.string().optional().transform((v, ctx) => (v === undefined || v === '' ? undefined : flagValue(parseDecimalFlag)(v, ctx))).describe("the file's decimal mark, point or comma, as --decimal (default: decided by the file's amounts)"),
  dry_run: booleanOption.describe('true: only the validation report (validate --json); nothing is stored'),
  hold: booleanOption.describe('true: stored and checked, nothing queued (state held) until released; expires after 24 hours'),
  filename: z.string().max(255).optional().describe('the file name, for a raw body (multipart sends its own)'),
});
export type UploadOptions = z.output<typeof UploadOptionsSchema>;

export interface ReceivedFile {
  /** Where the bytes are (inside a temporary directory of its own). */
  path: string;
  /** The name the sender gave it, made safe; the batch shows it. */
  name: string;
  bytes: number;
  /** Whether it is a ZIP (an Excel workbook, or some other archive). */
  zip: boolean;
  /** Form fields sent beside the file (multipart only). */
  fields: Record<string, string>;
  /** Removes the file and its directory. */
  remove(): Promise<void>;
}

/** A file name safe to create and show: its base name, printable, at most 100 characters. */
export function safeFileName(name: string | undefined): string {
  const base = path.basename((name ?? '').replace(/\\/g, '/')).replace(/[^\p{L}\p{N} ._()+-]/gu, '_').trim();
  const cut = base.length > 100 ? base.slice(base.length - 100) : base;
  return cut === '' || cut.startsWith('.') ? 'upload.csv' : cut;
}

function tooLarge(maxBytes: number): PaylinksError {
  return new PaylinksError('PAYLOAD_TOO_LARGE', `the file is larger than ${maxBytes / 1e6} MB (PAYLINKS_MAX_UPLOAD_MB): split it into smaller files`);
}

/** Counts bytes and fails past `maxBytes`. */
function byteLimit(maxBytes: number, onBytes: (n: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      onBytes(total);
      if (total > maxBytes) done(tooLarge(maxBytes));
      else done(null, chunk);
    },
  });
}

// A ZIP may be an Excel workbook: the intake decides by its content (see `renameFileError`).
const NOT_TEXT: { magic: Buffer; what: string }[] = [
  { magic: Buffer.from([0xd0, 0xcf, 0x11, 0xe0]), what: 'an Excel 97-2003 workbook (.xls)' },
  { magic: Buffer.from('%PDF', 'latin1'), what: 'a PDF document' },
  { magic: Buffer.from([0x89, 0x50, 0x4e, 0x47]), what: 'a PNG image' },
  { magic: Buffer.from([0xff, 0xd8, 0xff]), what: 'a JPEG image' },
  { magic: Buffer.from('GIF8', 'latin1'), what: 'a GIF image' },
  { magic: Buffer.from([0x1f, 0x8b]), what: 'a gzip archive' },
  { magic: Buffer.from('{\\rtf', 'latin1'), what: 'an RTF document' },
];

/** Refuses a file that is plainly not an invoice file (415), by its first bytes; says whether it is a ZIP. */
async function sniff(file: string, name: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    const found = NOT_TEXT.find((t) => bytesRead >= t.magic.length && head.subarray(0, t.magic.length).equals(t.magic));
    if (found) throw new PaylinksError('UNSUPPORTED_FILE', `${name} is ${found.what}, not a file of invoices: save it as CSV or as an Excel workbook (.xlsx) and upload that`);
    return looksLikeZip(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Lets the raw-body content types through as streams (Fastify would refuse them, or buffer them whole). */
export function acceptRawFiles(app: FastifyInstance): void {
  app.addContentTypeParser(RAW_FILE_CONTENT_TYPES, (_request, payload, done) => done(null, payload));
}

/**
 * Receives the request's file into a temporary file. Throws 413
 * (`PAYLOAD_TOO_LARGE`), 415 (`UNSUPPORTED_FILE`) or 400 (`BAD_REQUEST`: no file).
 */
export async function receiveUpload(request: FastifyRequest, options: { maxBytes: number; fallbackName?: string }): Promise<ReceivedFile> {
  const declared = Number(request.headers['content-length'] ?? NaN);
  // A multipart body holds a little more than the file: leave room for its boundaries and fields.
  if (declared > options.maxBytes + (request.isMultipart() ? 64 * 1024 : 0)) throw tooLarge(options.maxBytes);
  const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-upload-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const fields: Record<string, string> = {};
    let received: { path: string; name: string; bytes: number } | undefined;
    const save = async (source: Readable, name: string) => {
      const file = path.join(dir, name);
      let bytes = 0;
      await pipeline(source, byteLimit(options.maxBytes, (n) => (bytes = n)), createWriteStream(file));
      received = { path: file, name, bytes };
    };
    const readParts = async () => {
      for await (const part of request.parts({ limits: { fileSize: options.maxBytes + 1, files: 1, fields: 20, fieldSize: 64 * 1024 } })) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file') {
            part.file.resume();
            throw new PaylinksError('BAD_REQUEST', `send the file as multipart field "file", not "${part.fieldname}"`);
          }
          await save(part.file, safeFileName(part.filename));
          if (part.file.truncated) throw tooLarge(options.maxBytes);
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value;
        }
      }
    };
    if (request.isMultipart()) {
      try {
        await readParts();
      } catch (error) {
        throw multipartError(error);
      }
    } else {
      const body = request.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function') {
        throw new PaylinksError('UNSUPPORTED_FILE', `send the file as multipart field "file", or as the body with Content-Type: text/csv (got ${request.headers['content-type'] ?? 'no content type'})`);
      }
      await save(body, safeFileName(options.fallbackName));
    }
    if (!received) throw new PaylinksError('BAD_REQUEST', 'no file in the request: send it as multipart field "file" (curl -F file=@march.csv)');
    if (received.bytes === 0) throw new InputFileError('FILE_EMPTY', received.name, 'the file is empty');
    const zip = await sniff(received.path, received.name);
    return { ...received, zip, fields, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * What went wrong while reading a multipart body, as the client's error
 * (400): a body that is not well-formed multipart, or more than one file or
 * too many fields. Our own errors (413, a wrong field) pass as they are.
 */
function multipartError(error: unknown): unknown {
  if (error instanceof PaylinksError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new PaylinksError('BAD_REQUEST', 'send one file per upload (multipart field "file"), with at most 20 option fields beside it');
  }
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'FST_REQ_FILE_TOO_LARGE' || (error as { statusCode?: unknown } | undefined)?.statusCode === 413) return error;
  let what = `the multipart body is malformed (${message.slice(0, 80)})`;
  if (/boundary not found/i.test(message)) what = 'the Content-Type says multipart/form-data but gives no boundary (multipart/form-data; boundary=...)';
  else if (/unexpected end of (form|multipart)/i.test(message)) what = 'the multipart body ends before its closing boundary (--boundary--): it was cut short';
  else if (/malformed part header/i.test(message)) what = 'a part of the multipart body has a malformed header';
  return new PaylinksError('BAD_REQUEST', `${what}. Send the file as multipart field "file" (curl -F file=@march.csv)`);
}

/**
 * The same file error, naming the uploaded file instead of its temporary
 * path; a ZIP that is no Excel workbook is a file of the wrong kind (415).
 */
export function renameFileError(error: unknown, file: ReceivedFile): unknown {
  if (!(error instanceof InputFileError) || error.file !== file.path) return error;
  if (file.zip && error.code === 'FILE_UNDECODABLE') {
    return new PaylinksError('UNSUPPORTED_FILE', `${file.name} is a ZIP archive but not an Excel workbook (.xlsx): upload the workbook itself, or save it as CSV`);
  }
  const message = error.message.slice(error.file.length).replace(/^:(\d+:)? /, '');
  const renamed = new InputFileError(error.code as ConstructorParameters<typeof InputFileError>[0], file.name, message, error.line, error.cause);
  renamed.found = error.found;
  return renamed;
}
