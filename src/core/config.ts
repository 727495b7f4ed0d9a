/**
 * Configuration: one schema, defaults in one place, layered as
 * defaults < `.env` file < environment < command-line flags.
 *
 * A missing or malformed value stops the command before any work with a
 * {@link ConfigError} naming the variable (or flag), what it expects and what
 * it got. The API secret is never echoed back.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { defaultPaylinksHome } from './embedded-redis.js';
import { ConfigError } from './errors.js';

export const PAYWINT_BASE_URLS = {
  sandbox: 'https://api.sandbox.paywint.com',
  production: 'https://api.paywint.com',
} as const;

/** Every setting, its variable, its flag and how to read it. */
const FIELDS = {
  apiKey: {
    env: 'PAYWINT_API_KEY',
    flag: '--api-key',
    expects: 'a UUID (your Paywint API key)',
    schema: z.uuid().optional(),
  },
  apiSecret: {
    env: 'PAYWINT_API_SECRET',
    flag: undefined,
    expects: 'a non-empty string (your Paywint API secret)',
    schema: z.string().min(1).optional(),
    secret: true,
  },
  paywintEnv: {
    env: 'PAYWINT_ENV',
    flag: undefined,
    expects: '"sandbox" or "production"',
    schema: z.enum(['sandbox', 'production']).default('sandbox'),
  },
  baseUrl: {
    env: 'PAYWINT_BASE_URL',
    flag: '--base-url',
    expects: 'an http(s) URL such as https://api.sandbox.paywint.com',
    schema: z.url({ protocol: /^https?$/ }).optional(),
  },
  linkHosts: {
    env: 'PAYWINT_LINK_HOSTS',
    flag: undefined,
    expects: 'host names, comma-separated (e.g. pay.paywint.com,paywint.com): a payment link is accepted only on one of them or a subdomain',
    schema: z
      .string()
      .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))
      .pipe(z.array(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/)).min(1))
      .optional(),
  },
  redisUrl: {
    env: 'REDIS_URL',
    flag: '--redis-url',
    expects: 'a redis:// or rediss:// URL (several, comma-separated, for Redis Cluster)',
    schema: z
      .string()
      .refine((v) => v.split(',').every((u) => z.url({ protocol: /^rediss?$/ }).safeParse(u.trim()).success))
      .optional(),
  },
  home: {
    env: 'PAYLINKS_HOME',
    flag: undefined,
    expects: 'a directory path (the embedded Redis keeps its data there when REDIS_URL is not set)',
    schema: z.string().min(1).optional(),
  },
  prefix: {
    env: 'PAYLINKS_PREFIX',
    flag: '--prefix',
    expects: 'letters, digits, "-", "_" or "." (1 to 64 characters)',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('paylinks'),
  },
  rateLimit: {
    env: 'PAYLINKS_RATE_LIMIT',
    flag: '--rate-limit',
    expects: 'requests per second to Paywint, a number from 0.1 to 100000',
    schema: z.coerce.number().min(0.1).max(100_000).default(10),
  },
  concurrency: {
    env: 'PAYLINKS_CONCURRENCY',
    flag: '--concurrency',
    expects: 'a whole number from 1 to 1000',
    schema: z.coerce.number().int().min(1).max(1000).default(10),
  },
  timeoutMs: {
    env: 'PAYLINKS_TIMEOUT_MS',
    flag: '--timeout-ms',
    expects: 'milliseconds, a whole number from 100 to 600000',
    schema: z.coerce.number().int().min(100).max(600_000).default(15_000),
  },
  maxAttempts: {
    env: 'PAYLINKS_MAX_ATTEMPTS',
    flag: '--max-attempts',
    expects: 'a whole number from 1 to 100',
    schema: z.coerce.number().int().min(1).max(100).default(8),
  },
  retryWindowMs: {
    env: 'PAYLINKS_RETRY_WINDOW_MS',
    flag: '--retry-window-ms',
    expects: 'milliseconds, a whole number from 0 to 86400000',
    schema: z.coerce.number().int().min(0).max(86_400_000).default(600_000),
  },
  unknownOutcomeRetries: {
    env: 'PAYLINKS_UNKNOWN_OUTCOME_RETRIES',
    flag: undefined,
    expects: 'a whole number from 0 to 10',
    schema: z.coerce.number().int().min(0).max(10).default(1),
  },
  lockDurationMs: {
    env: 'PAYLINKS_LOCK_DURATION_MS',
    flag: '--lock-duration-ms',
    expects: 'milliseconds, a whole number from 1000 to 600000',
    schema: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  },
  retentionDays: {
    env: 'PAYLINKS_RETENTION_DAYS',
    flag: undefined,
    expects: 'days, a number above 0 and at most 3650 (fractions allowed)',
    schema: z.coerce.number().positive().max(3650).default(30),
  },
  logLevel: {
    env: 'PAYLINKS_LOG_LEVEL',
    flag: '--log-level',
    expects: 'one of fatal, error, warn, info, debug, trace, silent',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  metricsPort: {
    env: 'PAYLINKS_METRICS_PORT',
    flag: '--metrics-port',
    expects: 'a TCP port from 0 to 65535',
    schema: z.coerce.number().int().min(0).max(65_535).default(9464),
  },
  httpHost: {
    env: 'PAYLINKS_HTTP_HOST',
    flag: '--host',
    expects: 'an address to listen on, such as 127.0.0.1, 0.0.0.0 or ::',
    schema: z.string().regex(/^[A-Za-z0-9.:_-]{1,255}$/).default('127.0.0.1'),
  },
  httpPort: {
    env: 'PAYLINKS_HTTP_PORT',
    flag: '--port',
    expects: 'a TCP port from 0 to 65535',
    schema: z.coerce.number().int().min(0).max(65_535).default(8080),
  },
  apiTokens: {
    env: 'PAYLINKS_API_TOKENS',
    flag: undefined,
    expects: 'comma-separated API tokens of at least 32 characters each (letters, digits and -._~+/=)',
    schema: z
      .string()
      .transform((v) => v.split(',').map((t) => t.trim()).filter((t) => t !== ''))
      .pipe(z.array(z.string().min(32).regex(/^[A-Za-z0-9\-._~+/=]+$/)).min(1))
      .optional(),
    secret: true,
  },
  trustProxy: {
    env: 'PAYLINKS_TRUST_PROXY',
    flag: undefined,
    expects: 'the reverse proxy\'s addresses or CIDR ranges, comma-separated (e.g. 127.0.0.1), whose X-Forwarded-For is believed',
    schema: z.string().regex(/^[0-9A-Fa-f.:/, ]+$/).optional(),
  },
  maxUploadMb: {
    env: 'PAYLINKS_MAX_UPLOAD_MB',
    flag: undefined,
    expects: 'megabytes, a number from 0.001 to 100000',
    schema: z.coerce.number().min(0.001).max(100_000).default(100),
  },
  inbox: {
    env: 'PAYLINKS_INBOX',
    flag: '--inbox',
    expects: 'a folder path (the drop folder; inbox/, processing/, done/, failed/ and out/ are made under it)',
    schema: z.string().min(1).optional(),
  },
  inboxSettleMs: {
    env: 'PAYLINKS_INBOX_SETTLE_MS',
    flag: undefined,
    expects: 'milliseconds, a whole number from 0 to 3600000',
    schema: z.coerce.number().int().min(0).max(3_600_000).default(2000),
  },
  uploadShutdownMs: {
    env: 'PAYLINKS_UPLOAD_SHUTDOWN_MS',
    flag: undefined,
    expects: 'milliseconds, a whole number from 0 to 600000',
    schema: z.coerce.number().int().min(0).max(600_000).default(60_000),
  },
  inboxPollMs: {
    env: 'PAYLINKS_INBOX_POLL_MS',
    flag: undefined,
    expects: 'milliseconds, a whole number from 50 to 3600000',
    schema: z.coerce.number().int().min(50).max(3_600_000).default(2000),
  },
  notifyUrls: {
    env: 'PAYLINKS_NOTIFY_URL',
    flag: undefined,
    expects: 'http(s) URLs, comma-separated',
    schema: z
      .string()
      .refine((v) => v.split(',').every((u) => z.url({ protocol: /^https?$/ }).safeParse(u.trim()).success))
      .transform((v) => v.split(',').map((u) => u.trim()))
      .optional(),
  },
  notifySecret: {
    env: 'PAYLINKS_NOTIFY_SECRET',
    flag: undefined,
    expects: 'at least 16 characters (the key of the webhook signature)',
    schema: z.string().min(16).optional(),
    secret: true,
  },
  notifyRetryWindowMs: {
    env: 'PAYLINKS_NOTIFY_RETRY_WINDOW_MS',
    flag: undefined,
    expects: 'milliseconds, a whole number from 0 to 604800000',
    schema: z.coerce.number().int().min(0).max(604_800_000).default(3_600_000),
  },
  smtpUrl: {
    env: 'PAYLINKS_SMTP_URL',
    flag: undefined,
    expects: 'an smtp:// or smtps:// URL such as smtps://user:password@mail.example.com:465',
    schema: z.url({ protocol: /^smtps?$/ }).optional(),
    secret: true,
  },
  notifyEmail: {
    env: 'PAYLINKS_NOTIFY_EMAIL',
    flag: undefined,
    expects: 'e-mail addresses, comma-separated',
    schema: z
      .string()
      .refine((v) => v.split(',').every((a) => z.email().safeParse(a.trim()).success))
      .transform((v) => v.split(',').map((a) => a.trim()))
      .optional(),
  },
  notifyEmailFrom: {
    env: 'PAYLINKS_NOTIFY_EMAIL_FROM',
    flag: undefined,
    expects: 'an e-mail address',
    schema: z.email().default('paylinks@localhost'),
  },
  mailFrom: {
    env: 'PAYLINKS_MAIL_FROM',
    flag: undefined,
    expects: 'the sender of messages to customers: an e-mail address, or a name and one such as "Acme Billing <billing@acme.example>"',
    schema: z
      .string()
      .max(320)
      .refine((v) => mailboxAddress(v) !== undefined)
      .optional(),
  },
  mailReplyTo: {
    env: 'PAYLINKS_MAIL_REPLY_TO',
    flag: undefined,
    expects: 'an e-mail address (where customers\' replies go)',
    schema: z.email().max(254).optional(),
  },
  mailRate: {
    env: 'PAYLINKS_MAIL_RATE',
    flag: undefined,
    expects: 'messages per second to the mail server, all processes together, a number from 0.1 to 100000',
    schema: z.coerce.number().min(0.1).max(100_000).default(10),
  },
  mailRetryMs: {
    env: 'PAYLINKS_MAIL_RETRY_MS',
    flag: undefined,
    expects: 'milliseconds before the first retry of a message the mail server did not take (4xx), a whole number from 10 to 3600000 (it doubles, at most 1 hour)',
    schema: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  },
  templates: {
    env: 'PAYLINKS_TEMPLATES',
    flag: undefined,
    expects: 'a folder path holding message templates (see docs/mail.md)',
    schema: z.string().min(1).optional(),
  },
  reminders: {
    env: 'PAYLINKS_REMINDERS',
    flag: undefined,
    expects: 'up to 3 reminder steps, comma-separated: days after the first message (3d,7d,14d) or relative to the due date (due+3d, due-2d); h counts hours',
    schema: z.string().optional(),
  },
  quietHours: {
    env: 'PAYLINKS_QUIET_HOURS',
    flag: undefined,
    expects: 'a time range in 24-hour time such as 21:00-08:00 (no reminder is sent inside it)',
    schema: z.string().optional(),
  },
  timezone: {
    env: 'PAYLINKS_TIMEZONE',
    flag: undefined,
    expects: 'an IANA time zone such as Europe/Berlin or America/New_York',
    schema: z.string().refine(isTimeZone).default('UTC'),
  },
  publicUrl: {
    env: 'PAYLINKS_PUBLIC_URL',
    flag: undefined,
    expects: 'an http(s) URL where the API is reached, such as https://paylinks.example.com',
    schema: z.url({ protocol: /^https?$/ }).optional(),
  },
  webhookSecret: {
    env: 'PAYLINKS_WEBHOOK_SECRET',
    flag: undefined,
    expects: 'at least 32 characters (letters, digits and -._~), the secret path of Paywint\'s webhook URL',
    schema: z.string().regex(/^[A-Za-z0-9\-._~]+$/).optional(),
    secret: true,
  },
  webhookRatePerMinute: {
    env: 'PAYLINKS_WEBHOOK_RATE_PER_MINUTE',
    flag: undefined,
    expects: 'webhook requests per minute per client address, a whole number from 1 to 1000000',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(6000),
  },
  paymentSweepMinutes: {
    env: 'PAYLINKS_PAYMENT_SWEEP_MINUTES',
    flag: undefined,
    expects: 'minutes between payment sweeps in a worker process, a number from 0 (off) to 10080',
    schema: z.coerce.number().min(0).max(10_080).default(60),
  },
  paymentSweepShare: {
    env: 'PAYLINKS_PAYMENT_SWEEP_SHARE',
    flag: undefined,
    expects: 'the share of the rate limit a sweep may take while a batch runs, a number above 0 and at most 1',
    schema: z.coerce.number().positive().max(1).default(0.2),
  },
  paymentSweepOpenAfterMinutes: {
    env: 'PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES',
    flag: undefined,
    expects: 'minutes, a number from 0 to 525600: the sweep reads open links made at least this long ago',
    schema: z.coerce.number().min(0).max(525_600).default(60),
  },
} as const;

type FieldName = keyof typeof FIELDS;

const ConfigSchema = z.object(
  Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.schema])) as {
    [K in FieldName]: (typeof FIELDS)[K]['schema'];
  },
);

type ParsedConfig = z.infer<typeof ConfigSchema>;

/** The resolved configuration. TSDoc of each field gives its default and unit. */
export interface Config {
  /** `PAYWINT_API_KEY`: identifies the Paywint account; also keys the idempotency ledger. No default. */
  apiKey: string | undefined;
  /** `PAYWINT_API_SECRET`: never logged, never stored in Redis, never written to a file. No default. */
  apiSecret: string | undefined;
  /** `PAYWINT_BASE_URL`, else the URL for `PAYWINT_ENV` (default sandbox). No trailing slash. */
  baseUrl: string;
  /**
   * `PAYWINT_LINK_HOSTS`: a link Paywint returns is accepted only on these hosts or their subdomains
   * (anything else is a protocol error, nothing recorded). Default: from the base URL, see {@link paywintLinkHosts}.
   */
  linkHosts: string[];
  /** `REDIS_URL`. Default: none, meaning the embedded Redis of {@link Config.home} (see `redis.ts`). */
  redisUrl: string | undefined;
  /**
   * `PAYLINKS_HOME`: the data directory of the embedded Redis used when `REDIS_URL` is not set.
   * Default `$XDG_DATA_HOME/paylinks`, else `~/.local/share/paylinks`. Absolute.
   */
  home: string;
  /** `PAYLINKS_PREFIX`: every Redis key lives under `{prefix}`. Default `paylinks`. */
  prefix: string;
  /** `PAYLINKS_RATE_LIMIT`: HTTP requests per second to Paywint, retries included, across all workers. Default 10. */
  rateLimit: number;
  /** `PAYLINKS_CONCURRENCY`: rows in flight per worker process, all chunk jobs together. Default 10. */
  concurrency: number;
  /** `PAYLINKS_TIMEOUT_MS`: per-request timeout, milliseconds. Default 15000. */
  timeoutMs: number;
  /** `PAYLINKS_MAX_ATTEMPTS`: HTTP attempts per row before it fails. Default 8. */
  maxAttempts: number;
  /** `PAYLINKS_RETRY_WINDOW_MS`: a row stops retrying once this long has passed since its first attempt. Default 600000. */
  retryWindowMs: number;
  /**
   * `PAYLINKS_UNKNOWN_OUTCOME_RETRIES`: after a request whose outcome is unknown (no answer, a cut
   * connection, a gateway error or an unreadable answer: Paywint may have made the link), an invoice is
   * sent at most this many more times without a person's say-so; then its row fails `UNKNOWN_OUTCOME`
   * and neither a re-run nor `retry` sends it (`retry --include-unknown` does, once). Counted per
   * invoice in the ledger, across batches. Default 1 (at most 2 links per invoice at Paywint).
   */
  unknownOutcomeRetries: number;
  /**
   * `PAYLINKS_LOCK_DURATION_MS`: a worker renews its rows' locks every half of this; a row whose
   * worker died is picked up by another after at most this long. Default 30000.
   */
  lockDurationMs: number;
  /**
   * `PAYLINKS_RETENTION_DAYS`: a finished batch's rows and results are removed this long after it finished
   * (Redis key expiry); the ledger is kept. Set per batch when it is submitted. Days, fractions allowed. Default 30.
   */
  retentionDays: number;
  /** `PAYLINKS_LOG_LEVEL`. Default `info`. */
  logLevel: ParsedConfig['logLevel'];
  /** `PAYLINKS_METRICS_PORT`: `paylinks worker` serves /healthz and /metrics here. Default 9464. */
  metricsPort: number;
  /** `PAYLINKS_HTTP_HOST`: the address `paylinks serve` listens on. Default `127.0.0.1`. */
  httpHost: string;
  /** `PAYLINKS_HTTP_PORT`: the port `paylinks serve` listens on. Default 8080. */
  httpPort: number;
  /**
   * `PAYLINKS_API_TOKENS`: the bearer tokens `paylinks serve` accepts (comma-separated, each at
   * least 32 characters). Never logged or stored. Default: none (serve makes one on a loopback host).
   */
  apiTokens: string[];
  /**
   * `PAYLINKS_TRUST_PROXY`: addresses of a reverse proxy in front of `paylinks serve`; requests from
   * them are taken to come from their `X-Forwarded-For` client (for the failed sign-in limit and logs).
   * Default: none (the connection's address counts).
   */
  trustProxy: string | undefined;
  /** `PAYLINKS_MAX_UPLOAD_MB`: the largest upload `paylinks serve` accepts, in megabytes (10^6 bytes). Default 100. */
  maxUploadMb: number;
  /** `PAYLINKS_INBOX`: the drop folder (see src/inbox/). Default: none. */
  inbox: string | undefined;
  /** `PAYLINKS_INBOX_SETTLE_MS`: a dropped file is taken once its size and time stay unchanged this long, ms. Default 2000. */
  inboxSettleMs: number;
  /** `PAYLINKS_INBOX_POLL_MS`: how often the drop folder is listed, ms. Default 2000. */
  inboxPollMs: number;
  /**
   * `PAYLINKS_UPLOAD_SHUTDOWN_MS`: on SIGTERM, how long `serve` lets the uploads in flight (received and read)
   * finish; then the files being read stop at once (answered 503) and connections are cut. Default 60000.
   */
  uploadShutdownMs: number;
  /**
   * `PAYLINKS_WEBHOOK_SECRET`: the secret path of `POST /webhooks/paywint/{secret}` (Paywint sends no
   * token). Under 32 characters or unset: the route is not registered. Never logged. Default: none.
   */
  webhookSecret: string | undefined;
  /** `PAYLINKS_WEBHOOK_RATE_PER_MINUTE`: webhook requests per minute per client address. Default 6000. */
  webhookRatePerMinute: number;
  /** `PAYLINKS_PAYMENT_SWEEP_MINUTES`: minutes between payment sweeps in a process running workers; 0 = off. Default 60. */
  paymentSweepMinutes: number;
  /** `PAYLINKS_PAYMENT_SWEEP_SHARE`: the share of the rate limit a sweep takes at most while a batch runs. Default 0.2. */
  paymentSweepShare: number;
  /** `PAYLINKS_PAYMENT_SWEEP_OPEN_AFTER_MINUTES`: the sweep reads open links made at least this long ago, minutes. Default 60. */
  paymentSweepOpenAfterMinutes: number;
  /** Where and how a finished batch is announced (see src/notify/). */
  notify: NotifySettings;
  /** Messages to customers (see docs/mail.md). */
  mail: MailSettings;
}

/** Messages to customers: their links and reminders (docs/mail.md). Sending is off unless the SMTP URL and the sender are set. */
export interface MailSettings {
  /** `PAYLINKS_SMTP_URL`: the mail server (shared with the notification e-mail; its password is never logged). Default: none. */
  smtpUrl: string | undefined;
  /** `PAYLINKS_MAIL_FROM`: the sender, an address or `Name <address>`. Default: none (sending is off). */
  from: string | undefined;
  /** `PAYLINKS_MAIL_REPLY_TO`: where customers' replies go. Default: none. */
  replyTo: string | undefined;
  /** `PAYLINKS_MAIL_RATE`: messages per second, every process together. Default 10. */
  ratePerSecond: number;
  /** `PAYLINKS_MAIL_RETRY_MS`: the wait before a message refused for now (4xx) is tried again; it doubles, at most 1 hour. Default 30000. */
  retryMs: number;
  /** `PAYLINKS_TEMPLATES`: a folder whose files override the built-in templates. Default: none. */
  templatesDir: string | undefined;
  /** `PAYLINKS_REMINDERS`: the reminder steps as written (`3d,7d,14d`, `due+3d`). Default: none (no reminders). */
  reminders: string | undefined;
  /** `PAYLINKS_QUIET_HOURS`: no reminder goes out inside this range (`21:00-08:00`), in {@link MailSettings.timezone}. Default: none. */
  quietHours: string | undefined;
  /** `PAYLINKS_TIMEZONE`: the IANA zone of the quiet hours and of due dates. Default `UTC`. */
  timezone: string;
}

/** Whether the settings let paylinks send messages to customers. */
export function mailConfigured(settings: MailSettings): settings is MailSettings & { smtpUrl: string; from: string } {
  return settings.smtpUrl !== undefined && settings.from !== undefined;
}

/** The settings, or a {@link ConfigError} naming what is missing to send messages to customers. */
export function requireMail(settings: MailSettings): MailSettings & { smtpUrl: string; from: string } {
  if (mailConfigured(settings)) return settings;
  const missing = settings.smtpUrl === undefined ? 'smtpUrl' : 'mailFrom';
  const { env, expects } = FIELDS[missing];
  throw new ConfigError('CONFIG_MISSING', env, `${env}: expected ${expects}, got nothing: sending links to customers needs PAYLINKS_SMTP_URL and PAYLINKS_MAIL_FROM`);
}

/** The address of a mailbox written `address` or `Name <address>`; undefined when it is not one. */
export function mailboxAddress(text: string): string | undefined {
  const m = /^\s*(?:[^<>\r\n]*<([^<>\s]+)>|([^<>\s]+))\s*$/.exec(text);
  const address = m?.[1] ?? m?.[2];
  return address !== undefined && z.email().safeParse(address).success ? address : undefined;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Notification settings; webhooks and e-mail are each off unless configured. */
export interface NotifySettings {
  /** `PAYLINKS_NOTIFY_URL`: webhook URLs, each gets one POST per finished batch. Default: none. */
  urls: string[];
  /** `PAYLINKS_NOTIFY_SECRET`: the HMAC key of `Paylinks-Signature`; required with URLs; never sent or logged. */
  secret: string | undefined;
  /** `PAYLINKS_NOTIFY_RETRY_WINDOW_MS`: a delivery is retried this long after its first try, ms. Default 3600000. */
  retryWindowMs: number;
  /** `PAYLINKS_SMTP_URL`: the mail server (its password is never logged). Default: none. */
  smtpUrl: string | undefined;
  /** `PAYLINKS_NOTIFY_EMAIL`: recipients of the summary e-mail. Default: none. */
  emails: string[];
  /** `PAYLINKS_NOTIFY_EMAIL_FROM`: the sender. Default `paylinks@localhost`. */
  emailFrom: string;
  /** `PAYLINKS_PUBLIC_URL`: the API's address, for the output link in a notification. Default: none. */
  publicUrl: string | undefined;
}

/** Flags as the CLI parsed them, keyed like {@link Config}; undefined means "not given". */
export type ConfigFlags = Partial<Record<FlagFieldName, string | number | undefined>>;

type FlagFieldName = { [K in FieldName]: (typeof FIELDS)[K]['flag'] extends string ? K : never }[FieldName];

export interface LoadConfigOptions {
  /** The environment to read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** A `.env` file to read under the environment. Default `.env` in the working directory; `false` for none. */
  dotenvPath?: string | false;
  flags?: ConfigFlags;
}

/** Reads and checks the configuration. Throws {@link ConfigError} on the first bad value. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = { ...readDotenv(options.dotenvPath), ...(options.env ?? process.env) };
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const [name, field] of Object.entries(FIELDS) as [FieldName, (typeof FIELDS)[FieldName]][]) {
    const flagValue = field.flag === undefined ? undefined : options.flags?.[name as keyof ConfigFlags];
    if (flagValue !== undefined && flagValue !== '') {
      raw[name] = String(flagValue);
      source[name] = field.flag!;
      continue;
    }
    const envValue = env[field.env];
    if (envValue !== undefined && envValue.trim() !== '') {
      raw[name] = name === 'apiSecret' ? envValue : envValue.trim();
      source[name] = field.env;
    }
  }

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = issue.path[0] as FieldName;
    const field = FIELDS[name];
    const seen = raw[name];
    const shown = 'secret' in field && field.secret ? `a value of ${String(seen).length} characters` : JSON.stringify(seen);
    throw new ConfigError('CONFIG_INVALID', source[name] ?? field.env, `${source[name] ?? field.env}: expected ${field.expects}, got ${shown}`);
  }
  const parsed = result.data;
  const baseUrl = (parsed.baseUrl ?? PAYWINT_BASE_URLS[parsed.paywintEnv]).replace(/\/+$/, '');
  return {
    apiKey: parsed.apiKey,
    apiSecret: parsed.apiSecret,
    baseUrl,
    linkHosts: parsed.linkHosts ?? paywintLinkHosts(baseUrl),
    redisUrl: parsed.redisUrl,
    home: parsed.home === undefined ? defaultPaylinksHome(env) : path.resolve(parsed.home),
    prefix: parsed.prefix,
    rateLimit: parsed.rateLimit,
    concurrency: parsed.concurrency,
    timeoutMs: parsed.timeoutMs,
    maxAttempts: parsed.maxAttempts,
    retryWindowMs: parsed.retryWindowMs,
    unknownOutcomeRetries: parsed.unknownOutcomeRetries,
    lockDurationMs: parsed.lockDurationMs,
    retentionDays: parsed.retentionDays,
    logLevel: parsed.logLevel,
    metricsPort: parsed.metricsPort,
    httpHost: parsed.httpHost,
    httpPort: parsed.httpPort,
    apiTokens: parsed.apiTokens ?? [],
    trustProxy: parsed.trustProxy,
    maxUploadMb: parsed.maxUploadMb,
    inbox: parsed.inbox,
    inboxSettleMs: parsed.inboxSettleMs,
    inboxPollMs: parsed.inboxPollMs,
    uploadShutdownMs: parsed.uploadShutdownMs,
    webhookSecret: parsed.webhookSecret,
    webhookRatePerMinute: parsed.webhookRatePerMinute,
    paymentSweepMinutes: parsed.paymentSweepMinutes,
    paymentSweepShare: parsed.paymentSweepShare,
    paymentSweepOpenAfterMinutes: parsed.paymentSweepOpenAfterMinutes,
    notify: checkNotify(parsed, source),
    mail: {
      smtpUrl: parsed.smtpUrl,
      from: parsed.mailFrom,
      replyTo: parsed.mailReplyTo,
      ratePerSecond: parsed.mailRate,
      retryMs: parsed.mailRetryMs,
      templatesDir: parsed.templates === undefined ? undefined : path.resolve(parsed.templates),
      reminders: parsed.reminders,
      quietHours: parsed.quietHours,
      timezone: parsed.timezone,
    },
  };
}

function checkNotify(parsed: ParsedConfig, source: Record<string, string>): NotifySettings {
  const urls = parsed.notifyUrls ?? [];
  if (urls.length > 0 && parsed.notifySecret === undefined) {
    throw new ConfigError('CONFIG_MISSING', 'PAYLINKS_NOTIFY_SECRET', `PAYLINKS_NOTIFY_SECRET: expected ${FIELDS.notifySecret.expects}, got nothing (${source.notifyUrls ?? 'PAYLINKS_NOTIFY_URL'} is set: receivers check each webhook's signature with it)`);
  }
  const emails = parsed.notifyEmail ?? [];
  // The SMTP URL alone is fine: it may serve the messages to customers only (docs/mail.md).
  if (emails.length > 0 && parsed.smtpUrl === undefined) {
    throw new ConfigError('CONFIG_MISSING', FIELDS.smtpUrl.env, `${FIELDS.smtpUrl.env}: expected ${FIELDS.smtpUrl.expects}, got nothing (PAYLINKS_NOTIFY_EMAIL is set: e-mail needs both)`);
  }
  return {
    urls,
    secret: parsed.notifySecret,
    retryWindowMs: parsed.notifyRetryWindowMs,
    smtpUrl: parsed.smtpUrl,
    emails,
    emailFrom: parsed.notifyEmailFrom,
    publicUrl: parsed.publicUrl?.replace(/\/+$/, ''),
  };
}

/**
 * Where Paywint's payment links may be, from its API's base URL: `api.X`
 * gives X and its subdomains (`https://api.sandbox.paywint.com` →
 * `sandbox.paywint.com`, so `pay.sandbox.paywint.com`); a base URL that is
 * not Paywint's own API host (the simulator, a proxy) gives `paywint.com`.
 */
export function paywintLinkHosts(baseUrl: string): string[] {
  let host: string;
  try {
    host = new URL(baseUrl).hostname.toLowerCase();
  } catch {
    return ['paywint.com'];
  }
  const api = /^api\.(.+\..+)$/.exec(host);
  return [api?.[1] ?? 'paywint.com'];
}

/** Paywint credentials, once checked present. */
export interface Credentials {
  apiKey: string;
  apiSecret: string;
}

/** The credentials, or a {@link ConfigError} naming the missing variable. */
export function requireCredentials(config: Config): Credentials {
  if (config.apiKey === undefined) {
    throw new ConfigError('CONFIG_MISSING', 'PAYWINT_API_KEY', `PAYWINT_API_KEY: expected ${FIELDS.apiKey.expects}, got nothing (set it in the environment or .env; or use --simulate)`);
  }
  if (config.apiSecret === undefined) {
    throw new ConfigError('CONFIG_MISSING', 'PAYWINT_API_SECRET', `PAYWINT_API_SECRET: expected ${FIELDS.apiSecret.expects}, got nothing (set it in the environment or .env; or use --simulate)`);
  }
  return { apiKey: config.apiKey, apiSecret: config.apiSecret };
}

/** The account a batch runs under: `PAYWINT_API_KEY`, or a {@link ConfigError} naming it. */
export function requireApiKey(config: Config): string {
  if (config.apiKey === undefined) {
    throw new ConfigError('CONFIG_MISSING', 'PAYWINT_API_KEY', `PAYWINT_API_KEY: expected ${FIELDS.apiKey.expects}, got nothing: the batch and its idempotency ledger belong to that account`);
  }
  return config.apiKey;
}

function readDotenv(dotenvPath: string | false | undefined): Record<string, string> {
  if (dotenvPath === false) return {};
  const file = dotenvPath ?? path.join(process.cwd(), '.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  return parseDotenv(text);
}
