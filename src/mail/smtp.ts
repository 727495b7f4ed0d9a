/**
 * Handing messages to the mail server, with the one hook exactly-once needs:
 * a step run just before the message's end (the final "." after which the
 * server takes it), which may refuse, and then the message is cut short and
 * never taken (see src/pipeline/mail-ledger.ts).
 *
 * nodemailer's SMTPConnection, a few kept open and used one message at a
 * time each (its pooled transport may read a message before the DATA
 * command, which would move that step ahead of the envelope). Any error
 * closes its connection: the next message opens a new one.
 */
import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

/** How a hand-over ended. */
export type SmtpOutcome =
  /** The server took it (2xx after the end). */
  | { kind: 'accepted'; reply: string }
  /** The server answered no: `code` 4xx (try again later) or 5xx (never). `ended`: the answer came after the end. */
  | { kind: 'refused'; code: number; reply: string; ended: boolean }
  /** No answer: the connection failed, timed out or was cut. `ended`: after the end was written (the server may have it). */
  | { kind: 'no-answer'; reason: string; ended: boolean }
  /** The step before the end refused: the message was cut short, never taken. */
  | { kind: 'withdrawn' };

export interface SmtpOptions {
  /** `smtp://` or `smtps://`, with `user:password@` when the server needs it. */
  url: string;
  /** Connections kept open. Default 4. */
  connections?: number;
  /** How long the server may take to answer any step, ms. Default 60000. */
  socketTimeoutMs?: number;
}

interface Server {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
}

function serverOf(url: string): Server {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  const auth = u.username === '' ? undefined : { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) };
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? (secure ? 465 : 587) : Number(u.port), secure, ...(auth ? { auth } : {}) };
}

/** An error of nodemailer's, as far as it tells what the server said. */
interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejectedErrors?: SmtpError[];
}

export class SmtpSender {
  private readonly server: Server;
  private readonly idle: SMTPConnection[] = [];
  private readonly waiting: ((c: SMTPConnection | undefined) => void)[] = [];
  private open = 0;
  private closed = false;
  private readonly max: number;
  private readonly socketTimeoutMs: number;

  constructor(options: SmtpOptions) {
    this.server = serverOf(options.url);
    this.max = Math.max(1, options.connections ?? 4);
    this.socketTimeoutMs = options.socketTimeoutMs ?? 60_000;
  }

  /**
   * Sends `message` (a whole RFC 5322 message) to `to`. `beforeEnd` runs
   * once the message's body has gone and before its end is written: false
   * withdraws it.
   */
  async send(envelope: { from: string; to: string }, message: Buffer, beforeEnd: () => Promise<boolean>): Promise<SmtpOutcome> {
    let connection: SMTPConnection;
    try {
      connection = await this.take();
    } catch (error) {
      return { kind: 'no-answer', reason: describe(error as SmtpError), ended: false };
    }
    let ended = false;
    let withdrawn = false;
    let sentBody = false;
    const body = new Readable({
      read() {
        if (!sentBody) {
          sentBody = true;
          this.push(message);
          return;
        }
        beforeEnd().then(
          (go) => {
            if (go) {
              ended = true;
              this.push(null);
            } else {
              withdrawn = true;
              this.destroy(new Error('withdrawn before its end'));
            }
          },
          (error: unknown) => {
            withdrawn = true;
            this.destroy(error as Error);
          },
        );
      },
    });
    return new Promise<SmtpOutcome>((resolve) => {
      connection.send({ from: envelope.from, to: [envelope.to] }, body, (error, info) => {
        if (!error) {
          this.give(connection);
          resolve({ kind: 'accepted', reply: info.response });
          return;
        }
        // Whatever went wrong, this connection is not used again (a cut DATA must never be finished by a later message).
        this.drop(connection);
        if (withdrawn) return resolve({ kind: 'withdrawn' });
        const e = error as SmtpError;
        const rejected = e.rejectedErrors?.[0];
        const code = e.responseCode ?? rejected?.responseCode;
        const reply = e.response ?? rejected?.response;
        if (code !== undefined && code >= 400 && reply !== undefined) resolve({ kind: 'refused', code, reply, ended });
        else resolve({ kind: 'no-answer', reason: describe(e), ended });
      });
    });
  }

  /** Closes every connection (QUIT); sends in flight end with an error. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.quit();
    for (const w of this.waiting.splice(0)) w(undefined);
  }

  private async take(): Promise<SMTPConnection> {
    if (this.closed) throw new Error('the mail sender is closed');
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.open >= this.max) {
      const next = await new Promise<SMTPConnection | undefined>((resolve) => this.waiting.push(resolve));
      if (next) return next;
      return this.take();
    }
    this.open += 1;
    try {
      return await this.connect();
    } catch (error) {
      this.open -= 1;
      this.wakeOne();
      throw error;
    }
  }

  private give(connection: SMTPConnection): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(connection);
    else if (this.closed) connection.quit();
    else this.idle.push(connection);
  }

  private drop(connection: SMTPConnection): void {
    connection.close();
    this.open -= 1;
    this.wakeOne();
  }

  /** Lets a waiter open a connection of its own (one closed, or failed to open). */
  private wakeOne(): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(undefined);
  }

  private connect(): Promise<SMTPConnection> {
    const { host, port, secure, auth } = this.server;
    const connection = new SMTPConnection({
      host,
      port,
      secure,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: this.socketTimeoutMs,
      socketCloseTimeout: 0,
      allowInternalNetworkInterfaces: true,
    });
    // Errors reach the send or connect callbacks; an idle connection closed by the server is dropped below.
    connection.on('error', () => {});
    connection.once('end', () => {
      const i = this.idle.indexOf(connection);
      if (i >= 0) {
        this.idle.splice(i, 1);
        this.open -= 1;
      }
    });
    return new Promise((resolve, reject) => {
      connection.connect((error) => {
        if (error) {
          connection.close();
          return reject(error);
        }
        if (!auth) return resolve(connection);
        connection.login(auth, (loginError) => {
          if (loginError) {
            connection.close();
            return reject(loginError);
          }
          resolve(connection);
        });
      });
    });
  }
}

/** What went wrong, in words, never with the server's password (the URL is never quoted). */
function describe(e: SmtpError): string {
  const code = e.code ? ` [${e.code}]` : '';
  return `${e.message.replace(/\s+/g, ' ').slice(0, 200)}${code}`;
}
