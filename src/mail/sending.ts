/**
 * Sending each customer their link (issue 19): what a send of a batch would
 * do (`planSend`, the page's preview), queueing it (`startSend`, `paylinks
 * send`, `--send`) and how far it got (`mailProgress`).
 */
import type { Queue } from 'bullmq';
import type { MailSettings } from '../core/config.js';
import type { RedisClient } from '../core/lua.js';
import type { BatchStore } from '../pipeline/batch-store.js';
import type { Keys } from '../pipeline/keys.js';
import type { MessageFields } from './render.js';

/** What the send functions work with. */
export interface MailContext {
  redis: RedisClient;
  keys: Keys;
  store: BatchStore;
  /** The mail queue (openMailQueue). */
  queue: Queue;
  settings: MailSettings;
  /** The clock, ms since the epoch. Default Date.now. */
  now?: () => number;
}

export interface SendPlan {
  /** Messages a send would queue now. */
  willSend: number;
  /** Rows that get none, by reason (`no-link`, `no-address`, `invalid-address`, `already-sent`, `paid`, `closed`). */
  skipped: Record<string, number>;
  /** The first message that would go out: its recipient and exact fields. */
  sample: { to: string; fields: MessageFields } | null;
}

export interface MailProgress {
  queued: number;
  sent: number;
  failed: number;
  bounced: { invoiceNumber: string; reply: string }[];
  unknown: number;
}

export async function planSend(_ctx: MailContext, _batchId: string): Promise<SendPlan> {
  throw new Error('planSend: not built yet (issue 19)');
}

export async function startSend(_ctx: MailContext, _batchId: string): Promise<{ queued: number }> {
  throw new Error('startSend: not built yet (issue 19)');
}

export async function mailProgress(_ctx: MailContext, _batchId: string): Promise<MailProgress> {
  throw new Error('mailProgress: not built yet (issue 19)');
}
