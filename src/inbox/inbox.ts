/**
 * The drop folder: files dropped into `inbox/` become batches, and their
 * outputs come back in `out/`.
 *
 * - A file is taken once complete: size and modification time unchanged for
 *   `settleMs`. Listing the folder every `pollMs` is the source of truth (a
 *   network share mounted from another machine sends no change events); a
 *   file watcher, where events arrive, only makes the next look come sooner.
 * - Taking is a rename into `processing/<pickup id>/`: with several processes
 *   on one folder, exactly one rename succeeds. The pickup's lock in Redis
 *   says who works on it; a pickup whose lock expired (its process died) is
 *   resumed by whichever process sees it first.
 * - A file error moves the file to `failed/` with `<name>.errors.txt`
 *   (never readable more widely than the file); nothing is sent. Only
 *   regular files are read (entry-check.ts): a symbolic link is removed and
 *   reported in `failed/`, a FIFO, socket, device or folder is moved there
 *   with its report. Otherwise the file goes through the same producer as
 *   `paylinks submit` (the batch's source: `inbox`), and once the batch
 *   finished, its output appears in `out/` and the file moves to `done/`.
 * - Resuming: the batch of a file in `processing/` is found by its SHA-256
 *   (and the pickup id the batch keeps), so it is never submitted twice; an
 *   output not yet written is written; nothing published is published again.
 */
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { Batch, BatchStore } from '../pipeline/batch-store.js';
import { isFinished, writeBatchOutput } from '../pipeline/collector.js';
import { coerceError, InputFileError, PaylinksError } from '../core/errors.js';
import type { Keys } from '../pipeline/keys.js';
import type { RedisClient } from '../core/lua.js';
import type { Logger } from '../core/logger.js';
import { submitFile } from '../pipeline/producer.js';
import { checkRegularFile, NOT_REGULAR_MODE, writeErrorsText, type EntryKind } from './entry-check.js';
import { fileErrorText, notRegularText } from './errors-text.js';
import { isIgnored, prepareInbox, publishUnique, sha256File, splitName, type InboxLayout } from './folder.js';
import { PickupLocks } from './pickup-lock.js';

/** The batch source recorded for files from the drop folder. */
export const INBOX_SOURCE = 'inbox';

export interface InboxOptions {
  /** The drop folder; `inbox/`, `processing/`, `done/`, `failed/` and `out/` are made under it. */
  dir: string;
  /** Where batches go: the same Redis, keys, store and queue as `paylinks submit`. */
  backend: { redis: RedisClient; keys: Keys; store: BatchStore; queue: Queue };
  /** The Paywint API key the batches run under. */
  account: string;
  logger: Logger;
  /** A file is taken once its size and modification time stayed the same this long, ms. Default 2000. */
  settleMs?: number;
  /** How often the folder is listed, ms. Default 2000. */
  pollMs?: number;
  /** How long a pickup stays locked after its process stopped renewing it, ms. Default 15000. */
  lockMs?: number;
  /** How often a running batch's counters are read, ms. Default 500. */
  batchPollMs?: number;
  /** Use a file watcher to look sooner (never instead of the poll). Default true. */
  watch?: boolean;
  /** Called when a file's batch is known (submitted now, or found again on resume). */
  onSubmitted?: (info: InboxSubmitted) => void;
}

export interface InboxSubmitted {
  file: string;
  batchId: string;
  pickupId: string;
  resumed: boolean;
  /** From the first time this process saw the file to its batch being submitted, ms (undefined on resume). */
  sinceSeenMs?: number;
}

export interface InboxHandle {
  /** The folders in use. */
  readonly layout: InboxLayout;
  /**
   * Stops looking for files and waiting on batches, and releases this
   * process's pickups so another process (or this one, restarted) resumes
   * them. A submission in progress is finished first. Idempotent.
   */
  close(): Promise<void>;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** When this size and time were first seen. */
  since: number;
  firstSeen: number;
}

const MARKERS = { output: '.output.csv', outName: '.out-name', doneName: '.done-name', failedName: '.failed-name', errors: '.errors.txt', errorsName: '.errors-name' } as const;

/** A pickup id: sortable by time, unique across processes. */
function newPickupId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '')}-${randomBytes(4).toString('hex')}`;
}

/** Starts watching the drop folder; resolves once its folders exist and the first look is scheduled. */
export async function startInbox(options: InboxOptions): Promise<InboxHandle> {
  const { logger, backend } = options;
  const settleMs = options.settleMs ?? 2000;
  const pollMs = options.pollMs ?? 2000;
  const batchPollMs = options.batchPollMs ?? 500;
  const layout = await prepareInbox(options.dir);
  const locks = new PickupLocks(backend.redis, backend.keys, options.lockMs ?? 15_000);
  const stopping = new AbortController();
  const seen = new Map<string, Seen>();
  /** Pickups this process works on, by id. */
  const active = new Map<string, Promise<void>>();
  /** Pickups that failed for a reason other than the file: not before this time again. */
  const backoff = new Map<string, { until: number; delayMs: number }>();
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> | undefined;
  /** A change was seen while a look was under way (it may have listed the folder before the change). */
  let lookAgain = false;
  let failures = 0;

  /** When the next look is due: a watcher's event may bring it forward, never push it back. */
  let dueAt = Infinity;
  const schedule = (delayMs: number, onlySooner = false) => {
    if (stopping.signal.aborted) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (onlySooner && at >= dueAt) return;
    clearTimeout(timer);
    dueAt = at;
    timer = setTimeout(() => {
      dueAt = Infinity;
      void look();
    }, at - Date.now());
  };

  async function look(): Promise<void> {
    if (stopping.signal.aborted) return;
    if (looking) {
      lookAgain = true;
      return;
    }
    lookAgain = false;
    let next = pollMs;
    looking = (async () => {
      try {
        next = Math.min(next, await scanInbox());
        await resumeOrphans();
        failures = 0;
      } catch (error) {
        // A folder that went away (a share unmounted) comes back: keep looking, less often.
        failures += 1;
        next = Math.min(pollMs * 2 ** Math.min(failures, 5), 60_000);
        logger.error({ dir: options.dir, err: coerceError(error).message, retryInMs: next }, 'the drop folder cannot be read: trying again');
      }
    })();
    await looking;
    looking = undefined;
    schedule(Math.min(lookAgain ? 0 : next, dueAt - Date.now()));
  }

  /** Takes the files that settled; returns how soon the next look is worth it. */
  async function scanInbox(): Promise<number> {
    const now = Date.now();
    const names = (await readdir(layout.inbox)).filter((n) => !isIgnored(n));
    let soonest = pollMs;
    for (const name of [...seen.keys()]) if (!names.includes(name)) seen.delete(name);
    for (const name of names) {
      // lstat: a link is looked at, never what it points to.
      const info = await lstat(path.join(layout.inbox, name)).catch(() => undefined);
      if (!info) continue;
      if (!info.isFile()) {
        // Not a file (a link, FIFO, device, folder): it never becomes one, so no settling; reported in failed/.
        seen.delete(name);
        await pickUp(name, now);
        continue;
      }
      const before = seen.get(name);
      if (!before || before.size !== info.size || before.mtimeMs !== info.mtimeMs) {
        seen.set(name, { size: info.size, mtimeMs: info.mtimeMs, since: now, firstSeen: before?.firstSeen ?? now });
        soonest = Math.min(soonest, settleMs);
        continue;
      }
      const waited = now - before.since;
      if (waited < settleMs) {
        soonest = Math.min(soonest, settleMs - waited);
        continue;
      }
      seen.delete(name);
      await pickUp(name, before.firstSeen);
    }
    return soonest;
  }

  async function pickUp(name: string, firstSeen: number): Promise<void> {
    const pickupId = newPickupId();
    await locks.acquire(pickupId);
    const entry = path.join(layout.processing, pickupId);
    // Only this service may change what is in it: the entry checked there stays the entry read.
    await mkdir(entry, { mode: 0o700 });
    try {
      await rename(path.join(layout.inbox, name), path.join(entry, name));
    } catch (error) {
      await rmdir(entry).catch(() => undefined);
      await locks.release(pickupId);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another process took it
      throw error;
    }
    logger.info({ file: name, pickupId }, 'took a file from the drop folder');
    start(pickupId, firstSeen);
  }

  /** Pickups in `processing/` nobody works on (their process died): take them over. */
  async function resumeOrphans(): Promise<void> {
    for (const pickupId of await readdir(layout.processing)) {
      if (active.has(pickupId) || isIgnored(pickupId)) continue;
      const wait = backoff.get(pickupId);
      if (wait && wait.until > Date.now()) continue;
      if (!(await locks.acquire(pickupId))) continue;
      logger.info({ pickupId }, 'resuming a file left in processing/');
      start(pickupId, undefined);
    }
  }

  function start(pickupId: string, firstSeen: number | undefined): void {
    const task = work(pickupId, firstSeen)
      .then(() => {
        backoff.delete(pickupId);
      })
      .catch((error: unknown) => {
        const delayMs = Math.min((backoff.get(pickupId)?.delayMs ?? pollMs / 2) * 2, 60_000);
        backoff.set(pickupId, { until: Date.now() + delayMs, delayMs });
        if (!stopping.signal.aborted) logger.error({ pickupId, err: coerceError(error).message, retryInMs: delayMs }, 'a file of the drop folder could not be finished: it stays in processing/ and is tried again');
      })
      .finally(async () => {
        clearInterval(renewal);
        await locks.release(pickupId).catch(() => undefined);
        active.delete(pickupId);
      });
    const renewal = setInterval(() => {
      void locks.renew(pickupId).then(
        (ours) => ours || logger.error({ pickupId }, 'lost the lock of a pickup (this process was too slow to renew it): another process may resume it'),
        () => undefined,
      );
    }, locks.ttlMs / 3);
    active.set(pickupId, task);
  }

  /** Everything that happens to one picked-up file, from wherever it was left. */
  async function work(pickupId: string, firstSeen: number | undefined): Promise<void> {
    const entry = path.join(layout.processing, pickupId);
    const names = await readdir(entry).catch(() => [] as string[]);
    const name = names.find((n) => !n.startsWith('.'));
    if (name === undefined) {
      // Published and moved already, or the process died before the rename: nothing left to do.
      await rm(entry, { recursive: true, force: true });
      return;
    }
    const file = path.join(entry, name);
    if (names.includes(MARKERS.failedName)) return fail(entry, name, undefined, NOT_REGULAR_MODE);
    const check = await checkRegularFile(file);
    if (!check.regular) return reject(entry, name, check.kind);

    const batchId = await findOrSubmit(file, name, pickupId, firstSeen, entry, check.mode);
    if (batchId === undefined) return;
    await waitUntilFinished(batchId);
    if (stopping.signal.aborted) return;

    const [stem] = splitName(name);
    const output = path.join(entry, MARKERS.output);
    // Written beside the file first (complete once renamed into place), then published under a free name.
    if (!(await stat(output).catch(() => undefined))) await writeBatchOutput(backend.store, batchId, output);
    const outName = await publishUnique(output, layout.out, stem, '.out.csv', path.join(entry, MARKERS.outName));
    const [doneStem, doneExt] = splitName(name);
    const doneName = await publishUnique(file, layout.done, doneStem, doneExt, path.join(entry, MARKERS.doneName));
    await rm(entry, { recursive: true, force: true });
    logger.info({ file: name, batchId, output: `out/${outName}`, done: `done/${doneName}` }, 'drop folder: output written');
  }

  async function findOrSubmit(file: string, name: string, pickupId: string, firstSeen: number | undefined, entry: string, mode: number): Promise<string | undefined> {
    const sha256 = await sha256File(file);
    const found = await backend.store.findBySha(options.account, sha256);
    const batch = found === undefined ? undefined : await backend.store.get(found);
    if (batch && batch.source === INBOX_SOURCE && batch.sourceRef === pickupId) {
      if (batch.state !== 'submitting' && !(batch.state === 'failed' && batch.submittedAt === null)) {
        options.onSubmitted?.({ file: name, batchId: batch.id, pickupId, resumed: true });
        logger.info({ file: name, batchId: batch.id }, 'drop folder: found the batch of this file again');
        return batch.id;
      }
      // Its submission died half-way: it never runs to its end. A new batch replaces it (the ledger keeps every invoice to one link).
      const state = await backend.store.transition(batch.id, ['submitting'], 'failed', { code: 'INTERNAL', message: 'submission did not finish: its process stopped; the file was submitted again' });
      if (state === 'failed' && batch.state === 'submitting') await backend.store.settleStopped(batch.id);
    }
    try {
      // A shutdown stops the read at once: the file stays in processing/ and is taken again at the next start.
      const submitted = await submitFile(file, { ...backend, account: options.account, logger, source: INBOX_SOURCE, sourceRef: pickupId, signal: stopping.signal });
      const sinceSeenMs = firstSeen === undefined ? undefined : Date.now() - firstSeen;
      logger.info({ file: name, batchId: submitted.batchId, rows: submitted.rows, valid: submitted.valid, sinceSeenMs }, 'batch submitted from the drop folder');
      options.onSubmitted?.({ file: name, batchId: submitted.batchId, pickupId, resumed: false, sinceSeenMs });
      return submitted.batchId;
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      await fail(entry, name, error, mode);
      return undefined;
    }
  }

  /** A file error: the file to `failed/`, its errors text beside it. */
  async function fail(entry: string, name: string, error: InputFileError | undefined, mode: number): Promise<void> {
    const errorsFile = path.join(entry, MARKERS.errors);
    if (error) {
      await writeErrorsText(`${errorsFile}.partial`, fileErrorText(name, error), mode);
      await rename(`${errorsFile}.partial`, errorsFile);
      logger.warn({ file: name, code: error.code, line: error.line }, 'drop folder: file error, moved to failed/');
    }
    const [stem, ext] = splitName(name);
    const failedName = await publishUnique(path.join(entry, name), layout.failed, stem, ext, path.join(entry, MARKERS.failedName));
    await rename(errorsFile, path.join(layout.failed, `${failedName}.errors.txt`)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await rm(entry, { recursive: true, force: true });
  }

  /** Not a regular file: never read; reported in `failed/`, a link removed (not what it points to), anything else moved there. */
  async function reject(entry: string, name: string, kind: EntryKind): Promise<void> {
    const errorsFile = path.join(entry, MARKERS.errors);
    logger.warn({ file: name, kind, code: 'FILE_UNREADABLE' }, 'drop folder: not a regular file, not read; reported in failed/');
    if (!(await lstat(errorsFile).catch(() => undefined))) {
      await writeErrorsText(`${errorsFile}.partial`, notRegularText(name, kind), NOT_REGULAR_MODE);
      await rename(`${errorsFile}.partial`, errorsFile);
    }
    if (kind !== 'symbolic link') return fail(entry, name, undefined, NOT_REGULAR_MODE);
    await publishUnique(errorsFile, layout.failed, name, '.errors.txt', path.join(entry, MARKERS.errorsName));
    await unlink(path.join(entry, name)); // the link itself: its target is untouched
    await rm(entry, { recursive: true, force: true });
  }

  async function waitUntilFinished(batchId: string): Promise<Batch | undefined> {
    while (!stopping.signal.aborted) {
      const batch = await backend.store.get(batchId);
      if (!batch) throw new PaylinksError('BATCH_NOT_FOUND', `batch ${batchId} is gone from Redis`);
      if (isFinished(batch)) return batch;
      await new Promise((resolve) => setTimeout(resolve, batchPollMs));
    }
    return undefined;
  }

  let watcher: FSWatcher | undefined;
  if (options.watch ?? true) {
    try {
      watcher = watch(layout.inbox, () => schedule(50, true));
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined; // no events here (e.g. some network shares): the poll does it all
    }
  }
  logger.info({ dir: options.dir, settleMs, pollMs, watcher: watcher !== undefined }, 'drop folder ready');
  schedule(0);

  let closing: Promise<void> | undefined;
  return {
    layout,
    close: () =>
      (closing ??= (async () => {
        stopping.abort();
        clearTimeout(timer);
        watcher?.close();
        await looking;
        await Promise.allSettled(active.values());
      })()),
  };
}
