/**
 * One error handler for every route of `paylinks serve`: paylinks' typed
 * errors become `{code, message}` (and `line` for a file error) with the
 * status their code calls for; anything unexpected is logged and answered
 * 500 without its details (never a stack trace, never a secret).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InputFileError, PaylinksError, FILE_ERROR_CODES, type ErrorCode } from '../core/errors.js';

/** The body of every error reply. */
export const ErrorReplySchema = z.object({
  code: z.string().describe('a stable code, e.g. BATCH_NOT_FOUND'),
  message: z.string(),
  line: z.number().int().nullable().optional().describe('for a file error: the line of the file'),
  found: z
    .object({
      headers: z.array(z.string()).optional().describe('the cells of the line taken for the header (the columns one can name in `columns`)'),
      header_line: z.number().int().optional(),
      delimiter: z.string().optional().describe('the delimiter used (a CSV file)'),
      sheets: z.array(z.string()).optional().describe("the workbook's sheets, in tab order (for `sheet`)"),
      sheet: z.string().optional().describe('the sheet read'),
    })
    .optional()
    .describe('for a file error: what was found in the file, to choose `columns`, `delimiter` or `sheet` and upload again'),
});
export type ErrorReply = z.infer<typeof ErrorReplySchema>;

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  CONFIG_INVALID: 400,
  /** The server lacks a setting the request needs (e-mail to customers without PAYLINKS_SMTP_URL). */
  CONFIG_MISSING: 409,
  UNAUTHORIZED: 401,
  BATCH_NOT_FOUND: 404,
  INVOICE_NOT_FOUND: 404,
  NOT_FOUND: 404,
  BATCH_NOT_FINISHED: 409,
  MAIL_NO_ADDRESS_COLUMN: 409,
  BATCH_NOT_HELD: 409,
  BATCH_CANCELLED: 409,
  BATCH_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_FILE: 415,
  TOO_MANY_SIGN_INS: 429,
  TOO_MANY_STREAMS: 429,
  REDIS_UNAVAILABLE: 503,
  SERVER_STOPPING: 503,
  ...Object.fromEntries(FILE_ERROR_CODES.map((c) => [c, 422])),
};

/** The HTTP status of a paylinks error code (500 for codes no client can act on). */
export function statusForCode(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** Fastify's own errors (body parsing, multipart limits) in paylinks' terms. */
function fromFastifyError(error: FastifyError): PaylinksError | undefined {
  const status = error.statusCode ?? 500;
  if (status === 413) return new PaylinksError('PAYLOAD_TOO_LARGE', error.message);
  if (status === 415) return new PaylinksError('UNSUPPORTED_FILE', `${error.message}: send the file as multipart field "file", or as the body with Content-Type: text/csv`);
  if (status >= 400 && status < 500) return new PaylinksError('BAD_REQUEST', error.message);
  return undefined;
}

export const errorHandlerPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let err: PaylinksError | undefined;
    if (hasZodFastifySchemaValidationErrors(error)) {
      const what = error.validation.map((v) => `${error.validationContext ?? 'request'}${v.instancePath.replace(/\//g, '.')}: ${v.message}`).join('; ');
      err = new PaylinksError('BAD_REQUEST', what);
    } else if (error instanceof PaylinksError) {
      err = error;
    } else {
      err = fromFastifyError(error);
    }
    if (!err || (statusForCode(err.code) >= 500 && err.code !== 'SERVER_STOPPING')) {
      request.log.error({ err: error.message, code: err?.code }, 'request failed');
      err = new PaylinksError(err?.code ?? 'INTERNAL', err?.code === 'REDIS_UNAVAILABLE' ? 'Redis cannot be reached: try again shortly' : 'an internal error; the server log has the details');
    }
    const body: ErrorReply = { code: err.code, message: err.message };
    if (err instanceof InputFileError) {
      body.line = err.line ?? null;
      const f = err.found;
      if (f) body.found = { headers: f.headers, header_line: f.headerLine, delimiter: f.delimiter, sheets: f.sheets, sheet: f.sheet };
    }
    return reply.code(statusForCode(err.code)).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ code: 'NOT_FOUND', message: `no such page or route: ${request.method} ${request.url.split('?')[0]}` } satisfies ErrorReply);
  });
});
