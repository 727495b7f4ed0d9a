/**
 * Who may use `paylinks serve`: a bearer token from `PAYLINKS_API_TOKENS`
 * (or the one made at start on a loopback host), compared in constant time.
 * Failed sign-ins (a token presented and refused) are limited per client
 * address; an address over the limit is refused, right token or not, until
 * its window ends. Tokens are never logged, stored or echoed.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ConfigError, PaylinksError } from '../core/errors.js';

/** A new token: 32 random bytes, base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * The tokens serve accepts: the configured ones, else (loopback only) one
 * made now, returned as `generated`. Refuses a non-loopback host without tokens.
 */
export function resolveTokens(configured: readonly string[], host: string): { tokens: string[]; generated: string | undefined } {
  if (configured.length > 0) return { tokens: [...configured], generated: undefined };
  if (!isLoopbackHost(host)) {
    throw new ConfigError(
      'CONFIG_MISSING',
      'PAYLINKS_API_TOKENS',
      `PAYLINKS_API_TOKENS: expected comma-separated API tokens of at least 32 characters each, got nothing: serving on ${host} (not loopback) needs them (make one with: openssl rand -base64 32)`,
    );
  }
  const token = generateToken();
  return { tokens: [token], generated: token };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Whether `presented` is one of `tokens`; every token is compared, in constant time, whatever the answer. */
export function tokenMatches(presented: string, tokenDigests: readonly Buffer[]): boolean {
  const d = digest(presented);
  let ok = false;
  for (const t of tokenDigests) ok = timingSafeEqual(d, t) || ok;
  return ok;
}

export interface SignInLimitOptions {
  /** Failed sign-ins allowed per address within a window. Default 10. */
  maxFailures?: number;
  /** The window, in milliseconds. Default 60000. */
  windowMs?: number;
}

/** Failed sign-ins per client address, in fixed windows, in memory. */
export class SignInLimiter {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(options: SignInLimitOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Seconds until `address` may try again (0: it may now). */
  blockedForSeconds(address: string, now = Date.now()): number {
    const entry = this.failures.get(address);
    if (!entry || entry.resetAt <= now) return 0;
    return entry.count >= this.maxFailures ? Math.ceil((entry.resetAt - now) / 1000) : 0;
  }

  recordFailure(address: string, now = Date.now()): void {
    if (this.failures.size > 10_000) for (const [a, e] of this.failures) if (e.resetAt <= now) this.failures.delete(a);
    const entry = this.failures.get(address);
    if (!entry || entry.resetAt <= now) this.failures.set(address, { count: 1, resetAt: now + this.windowMs });
    else entry.count += 1;
  }
}

/** The `onRequest` hook that admits a request with a valid `Authorization: Bearer <token>`. */
export function bearerAuth(tokens: readonly string[], limiter: SignInLimiter): onRequestHookHandler {
  const digests = tokens.map(digest);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const waitSeconds = limiter.blockedForSeconds(request.ip);
    if (waitSeconds > 0) {
      void reply.header('retry-after', String(waitSeconds));
      throw new PaylinksError('TOO_MANY_SIGN_INS', `too many failed sign-ins from this address: try again in ${waitSeconds} s`);
    }
    const header = request.headers.authorization ?? '';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!match) {
      void reply.header('www-authenticate', 'Bearer realm="paylinks"');
      throw new PaylinksError('UNAUTHORIZED', 'sign in: send the header "Authorization: Bearer <token>" with a token from PAYLINKS_API_TOKENS');
    }
    if (!tokenMatches(match[1]!, digests)) {
      limiter.recordFailure(request.ip);
      void reply.header('www-authenticate', 'Bearer realm="paylinks", error="invalid_token"');
      throw new PaylinksError('UNAUTHORIZED', 'this token is not accepted: check it against PAYLINKS_API_TOKENS');
    }
  };
}
