/** Configuration: layering, and messages that name the variable, what it expects and what it got. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, PAYWINT_BASE_URLS, requireCredentials } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';

const KEY = '3f0c9a52-7d4e-4b7a-9c1e-2a6f5b8d9e01';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has documented defaults', () => {
    const c = loadConfig({ env: {}, dotenvPath: false });
    expect(c).toMatchObject({ baseUrl: PAYWINT_BASE_URLS.sandbox, prefix: 'paylinks', rateLimit: 10, concurrency: 10, timeoutMs: 15_000, redisUrl: undefined });
  });

  it('keeps finished batches 30 days unless PAYLINKS_RETENTION_DAYS says otherwise; 0 is refused, naming the variable', () => {
    expect(loadConfig({ env: {}, dotenvPath: false }).retentionDays).toBe(30);
    expect(loadConfig({ env: { PAYLINKS_RETENTION_DAYS: '0.5' }, dotenvPath: false }).retentionDays).toBe(0.5);
    const error = configError(() => loadConfig({ env: { PAYLINKS_RETENTION_DAYS: '0' }, dotenvPath: false }));
    expect(error.variable).toBe('PAYLINKS_RETENTION_DAYS');
    expect(error.message).toBe('PAYLINKS_RETENTION_DAYS: expected days, a number above 0 and at most 3650 (fractions allowed), got "0"');
  });

  it('layers .env < environment < flags', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'paylinks-config-'));
    try {
      const dotenv = path.join(dir, '.env');
      await writeFile(dotenv, `PAYLINKS_RATE_LIMIT=3\nPAYLINKS_CONCURRENCY=4\nPAYLINKS_PREFIX=fromfile\nPAYWINT_API_KEY=${KEY}\n`);
      const c = loadConfig({ env: { PAYLINKS_CONCURRENCY: '5', PAYLINKS_PREFIX: 'fromenv' }, dotenvPath: dotenv, flags: { prefix: 'fromflag' } });
      expect(c.rateLimit).toBe(3);
      expect(c.concurrency).toBe(5);
      expect(c.prefix).toBe('fromflag');
      expect(c.apiKey).toBe(KEY);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('PAYWINT_ENV picks the base URL, PAYWINT_BASE_URL overrides it', () => {
    expect(loadConfig({ env: { PAYWINT_ENV: 'production' }, dotenvPath: false }).baseUrl).toBe(PAYWINT_BASE_URLS.production);
    expect(loadConfig({ env: { PAYWINT_ENV: 'production', PAYWINT_BASE_URL: 'http://127.0.0.1:4010/' }, dotenvPath: false }).baseUrl).toBe('http://127.0.0.1:4010');
  });

  it.each([
    ['PAYLINKS_RATE_LIMIT', 'fast', /PAYLINKS_RATE_LIMIT: expected requests per second.*got "fast"/],
    ['PAYLINKS_CONCURRENCY', '2.5', /PAYLINKS_CONCURRENCY: expected a whole number from 1 to 1000, got "2.5"/],
    ['PAYLINKS_TIMEOUT_MS', '0', /PAYLINKS_TIMEOUT_MS: expected milliseconds.*got "0"/],
    ['PAYWINT_API_KEY', 'not-a-uuid', /PAYWINT_API_KEY: expected a UUID.*got "not-a-uuid"/],
    ['PAYWINT_ENV', 'staging', /PAYWINT_ENV: expected "sandbox" or "production", got "staging"/],
    ['REDIS_URL', 'localhost:6379', /REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL.*got "localhost:6379"/],
    ['PAYLINKS_PREFIX', 'a b', /PAYLINKS_PREFIX: expected letters, digits.*got "a b"/],
  ])('rejects %s=%j naming the variable, the expectation and the value', (variable, value, message) => {
    const err = configError(() => loadConfig({ env: { [variable]: value }, dotenvPath: false }));
    expect(err.variable).toBe(variable);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(message);
  });

  it('names the flag when the bad value came from a flag', () => {
    const err = configError(() => loadConfig({ env: { PAYLINKS_RATE_LIMIT: '5' }, dotenvPath: false, flags: { rateLimit: '-1' } }));
    expect(err.variable).toBe('--rate-limit');
    expect(err.message).toContain('--rate-limit: expected');
  });

  it('accepts several Redis nodes (a cluster)', () => {
    expect(loadConfig({ env: { REDIS_URL: 'redis://127.0.0.1:7000,redis://127.0.0.1:7001' }, dotenvPath: false }).redisUrl).toContain(',');
  });

  it('never echoes the secret', () => {
    const c = loadConfig({ env: { PAYWINT_API_KEY: KEY, PAYWINT_API_SECRET: 'sk_live_abcdef' }, dotenvPath: false });
    expect(requireCredentials(c)).toEqual({ apiKey: KEY, apiSecret: 'sk_live_abcdef' });
    const missing = configError(() => requireCredentials(loadConfig({ env: { PAYWINT_API_KEY: KEY }, dotenvPath: false })));
    expect(missing.variable).toBe('PAYWINT_API_SECRET');
    expect(missing.code).toBe('CONFIG_MISSING');
  });
});

describe('drop folder and notification settings', () => {
  it('has documented defaults: nothing on, 2 s settle and poll, a 1 h retry window', () => {
    const c = loadConfig({ env: {}, dotenvPath: false });
    expect(c).toMatchObject({ inbox: undefined, inboxSettleMs: 2000, inboxPollMs: 2000 });
    expect(c.notify).toEqual({ urls: [], secret: undefined, retryWindowMs: 3_600_000, smtpUrl: undefined, emails: [], emailFrom: 'paylinks@localhost', publicUrl: undefined });
  });

  it('reads webhook URLs and recipients as comma-separated lists', () => {
    const c = loadConfig({
      env: { PAYLINKS_NOTIFY_URL: 'https://a.example/hook, http://10.0.0.2:8080/x', PAYLINKS_NOTIFY_SECRET: 'a-secret-of-16-chars', PAYLINKS_SMTP_URL: 'smtp://mail:25', PAYLINKS_NOTIFY_EMAIL: 'a@example.com,b@example.com', PAYLINKS_PUBLIC_URL: 'https://paylinks.example/' },
      dotenvPath: false,
    });
    expect(c.notify).toMatchObject({ urls: ['https://a.example/hook', 'http://10.0.0.2:8080/x'], emails: ['a@example.com', 'b@example.com'], publicUrl: 'https://paylinks.example' });
  });

  it('names the variable at fault, and never echoes a secret', () => {
    expect(configError(() => loadConfig({ env: { PAYLINKS_NOTIFY_URL: 'ftp://x' }, dotenvPath: false })).message).toMatch(/^PAYLINKS_NOTIFY_URL: expected http\(s\) URLs/);
    const noSecret = configError(() => loadConfig({ env: { PAYLINKS_NOTIFY_URL: 'https://a.example/hook' }, dotenvPath: false }));
    expect(noSecret.variable).toBe('PAYLINKS_NOTIFY_SECRET');
    const short = configError(() => loadConfig({ env: { PAYLINKS_NOTIFY_URL: 'https://a.example/hook', PAYLINKS_NOTIFY_SECRET: 'tooshort' }, dotenvPath: false }));
    expect(short.message).toBe('PAYLINKS_NOTIFY_SECRET: expected at least 16 characters (the key of the webhook signature), got a value of 8 characters');
    const smtp = configError(() => loadConfig({ env: { PAYLINKS_SMTP_URL: 'http://user:hunter2@mail' }, dotenvPath: false }));
    expect(smtp.variable).toBe('PAYLINKS_SMTP_URL');
    expect(smtp.message).not.toContain('hunter2');
    expect(configError(() => loadConfig({ env: { PAYLINKS_NOTIFY_EMAIL: 'a@example.com' }, dotenvPath: false })).variable).toBe('PAYLINKS_SMTP_URL');
    expect(configError(() => loadConfig({ env: { PAYLINKS_INBOX_SETTLE_MS: '-1' }, dotenvPath: false })).message).toMatch(/^PAYLINKS_INBOX_SETTLE_MS: expected milliseconds/);
  });

  it('payment links: on the hosts derived from the base URL, unless PAYWINT_LINK_HOSTS says otherwise; PAYLINKS_HOME defaults under the XDG data directory', () => {
    expect(loadConfig({ env: {}, dotenvPath: false }).linkHosts).toEqual(['sandbox.paywint.com']);
    expect(loadConfig({ env: { PAYWINT_ENV: 'production' }, dotenvPath: false }).linkHosts).toEqual(['paywint.com']);
    // The simulator or a proxy: Paywint's own domain.
    expect(loadConfig({ env: { PAYWINT_BASE_URL: 'http://127.0.0.1:4010' }, dotenvPath: false }).linkHosts).toEqual(['paywint.com']);
    expect(loadConfig({ env: { PAYWINT_LINK_HOSTS: ' Pay.Example.com , links.example.org' }, dotenvPath: false }).linkHosts).toEqual(['pay.example.com', 'links.example.org']);
    expect(configError(() => loadConfig({ env: { PAYWINT_LINK_HOSTS: 'https://pay.example.com/' }, dotenvPath: false })).message).toMatch(/^PAYWINT_LINK_HOSTS: expected host names/);
    expect(loadConfig({ env: { HOME: '/home/u' }, dotenvPath: false }).home).toBe('/home/u/.local/share/paylinks');
    expect(loadConfig({ env: { HOME: '/home/u', XDG_DATA_HOME: '/xdg' }, dotenvPath: false }).home).toBe('/xdg/paylinks');
    expect(loadConfig({ env: { HOME: '/home/u', PAYLINKS_HOME: '/srv/pl' }, dotenvPath: false }).home).toBe('/srv/pl');
  });
});
