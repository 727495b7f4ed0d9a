/**
 * When an invoice's reminders go out (`PAYLINKS_REMINDERS`) and when a
 * message may go out at all (`PAYLINKS_QUIET_HOURS` in `PAYLINKS_TIMEZONE`).
 * The one place the send path asks; `mailtpl`'s schedule.ts takes its place
 * once it lands. Injected clocks only: no Date.now here.
 */
import { ConfigError } from '../core/errors.js';
import type { MailSettings } from '../core/config.js';
import type { MailKind } from '../pipeline/mail-job.js';

const REMINDER_KINDS: readonly MailKind[] = ['reminder1', 'reminder2', 'reminder3'];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const UNIT_MS: Record<string, number> = { d: DAY_MS, h: HOUR_MS, m: 60_000, s: 1000 };

interface Step {
  fromDue: boolean;
  offsetMs: number;
}

export interface ReminderSchedule {
  steps: Step[];
  quiet: { startMin: number; endMin: number } | null;
  timezone: string;
}

/** Reads the schedule from the settings; a {@link ConfigError} naming the variable when it cannot. */
export function loadSchedule(settings: Pick<MailSettings, 'reminders' | 'quietHours' | 'timezone'>): ReminderSchedule {
  const steps: Step[] = [];
  for (const part of (settings.reminders ?? '').split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '')) {
    const m = /^(due([+-]))?(\d{1,4})([dhms])$/.exec(part);
    if (!m) throw new ConfigError('CONFIG_INVALID', 'PAYLINKS_REMINDERS', `PAYLINKS_REMINDERS: expected steps such as 3d,7d,14d or due+3d, got ${JSON.stringify(part)}`);
    const amount = Number(m[3]) * UNIT_MS[m[4]!]!;
    steps.push({ fromDue: m[1] !== undefined, offsetMs: m[2] === '-' ? -amount : amount });
  }
  if (steps.length > 3) throw new ConfigError('CONFIG_INVALID', 'PAYLINKS_REMINDERS', `PAYLINKS_REMINDERS: at most 3 steps, got ${steps.length}`);
  let quiet: ReminderSchedule['quiet'] = null;
  if (settings.quietHours !== undefined) {
    const m = /^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$/.exec(settings.quietHours);
    if (!m) throw new ConfigError('CONFIG_INVALID', 'PAYLINKS_QUIET_HOURS', `PAYLINKS_QUIET_HOURS: expected a range such as 21:00-08:00, got ${JSON.stringify(settings.quietHours)}`);
    quiet = { startMin: Number(m[1]) * 60 + Number(m[2]), endMin: Number(m[3]) * 60 + Number(m[4]) };
  }
  return { steps, quiet, timezone: settings.timezone };
}

/**
 * The reminders of an invoice whose first message went out at
 * `firstSentAtMs`: each kind and when it is due (before quiet hours are
 * applied). A step relative to the due date is left out when the row has no
 * due date, or when it falls before the first message.
 */
export function reminderTimes(schedule: ReminderSchedule, firstSentAtMs: number, dueDate: string | null): { kind: MailKind; atMs: number }[] {
  const out: { kind: MailKind; atMs: number }[] = [];
  schedule.steps.forEach((step, i) => {
    let atMs: number;
    if (step.fromDue) {
      if (dueDate === null) return;
      atMs = midnightIn(dueDate, schedule.timezone) + step.offsetMs;
      if (atMs <= firstSentAtMs) return;
    } else atMs = firstSentAtMs + step.offsetMs;
    out.push({ kind: REMINDER_KINDS[i]!, atMs });
  });
  return out;
}

/** The first instant at or after `atMs` outside the quiet hours (`atMs` itself when there are none). */
export function outsideQuietHours(schedule: ReminderSchedule, atMs: number): number {
  const quiet = schedule.quiet;
  if (quiet === null || quiet.startMin === quiet.endMin) return atMs;
  const minute = minuteOfDay(atMs, schedule.timezone);
  const inside = quiet.startMin < quiet.endMin ? minute >= quiet.startMin && minute < quiet.endMin : minute >= quiet.startMin || minute < quiet.endMin;
  if (!inside) return atMs;
  const waitMin = (quiet.endMin - minute + 1440) % 1440;
  // To the start of the end minute (a time-zone change inside the wait shifts it by its size: checked again when due).
  return atMs + waitMin * 60_000 - (atMs % 60_000);
}

/** The minute of the day (0–1439) at `atMs` in `timezone`. */
function minuteOfDay(atMs: number, timezone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(atMs));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

/** Midnight at the start of `isoDate` in `timezone`, ms since the epoch. */
function midnightIn(isoDate: string, timezone: string): number {
  const utc = Date.parse(`${isoDate}T00:00:00Z`);
  // The zone's offset at that moment, read back from its wall clock.
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(utc));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return utc - (wall - utc);
}
