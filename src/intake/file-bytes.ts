/**
 * Getting at the bytes of an invoice file: its head (to detect the encoding
 * and the delimiter before reading) and its byte stream, with the errors of
 * opening it turned into ones a person can act on.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { InputFileError } from '../core/errors.js';

/** How much of the file is read to detect the encoding and the delimiter, in bytes. */
const HEAD_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;

export interface Head {
  bytes: Buffer;
  eof: boolean;
}

/** The first {@link HEAD_BYTES} of the file, with the open/read errors a person can act on. */
export async function readHead(file: string): Promise<Head> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw openError(error, file);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new InputFileError('FILE_UNREADABLE', file, 'this is a folder, not a file');
    if (!stat.isFile()) throw new InputFileError('FILE_UNREADABLE', file, 'this is not a regular file (paylinks reads the file twice, so pipes cannot be used)');
    const bytes = Buffer.alloc(Math.min(HEAD_BYTES, stat.size));
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: bytes.subarray(0, filled), eof: stat.size <= HEAD_BYTES };
  } catch (error) {
    throw openError(error, file);
  } finally {
    await handle.close();
  }
}

/** The raw bytes of the whole file, in chunks; errors are the stream's (see read-errors.ts). */
export function readBytes(file: string): ReadStream {
  return createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
}

function openError(error: unknown, file: string): unknown {
  if (error instanceof InputFileError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new InputFileError('FILE_NOT_FOUND', file, 'no such file', undefined, error);
    case 'EACCES':
    case 'EPERM':
      return new InputFileError('FILE_UNREADABLE', file, 'permission denied: paylinks may not read this file', undefined, error);
    case 'EISDIR':
      return new InputFileError('FILE_UNREADABLE', file, 'this is a folder, not a file', undefined, error);
    default:
      return new InputFileError('FILE_UNREADABLE', file, `the file cannot be read (${typeof code === 'string' ? code : String(error)})`, undefined, error);
  }
}

/** SHA-256 (hex) of the whole file's bytes. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of readBytes(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
