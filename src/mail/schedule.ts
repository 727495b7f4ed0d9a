/**
 * When reminders go out (issue 19, item 5): the steps of
 * `PAYLINKS_REMINDERS`, the quiet hours of `PAYLINKS_QUIET_HOURS`, both in
 * the time zone `PAYLINKS_TIMEZONE`.
 *
 * - `3d,7d,14d`: 3, 7 and 14 days after the first message, at the same time
 *   of day (days are calendar days in the time zone, so a daylight-saving
 *   change in between moves nothing); `12h`, `30m`, `45s`: exactly that many
 *   hours, minutes, seconds after (short steps are for trials and tests).
 * - `due-2d`, `due+3d`: 2 days before, 3 days after the invoice's due date, at
 *   {@link DUE_SEND_HOUR}:00 in the time zone (an invoice without a due date
 *   gets no such reminder).
 * - At most 3 steps; a step that would not come after the one before it (or
 *   after the first message) does not apply to that invoice.
 * - Quiet hours `21:00-08:00`: a reminder due inside them waits for their end.
 *
 * Pure: every function takes the instants it works from (no clock inside).
 * Config (src/core/config.ts) reads the variables; this module gives them meaning.
 */
import type { MailSettings } from '../core/config.js';
import { ConfigError } from '../core/errors.js';

/** The most reminder steps a schedule may have (the message kinds reminder1..3). */
export const MAX_REMINDER_STEPS = 3;
/** A reminder relative to the due date goes out at this hour, local time. */
export const DUE_SEND_HOUR = 9;

const HOUR_MS = 3_600_000;
const UNIT_MS = { h: HOUR_MS, m: 60_000, s: 1000 } as const;

export interface ReminderStep {
  /** What the step counts from: the first message sent, or the invoice's due date. */
  from: 'first' | 'due';
  /** How far from it, in the unit. Negative only for `due-…`. */
  amount: number;
  /** Calendar days in the time zone, or hours, minutes, seconds. */
  unit: 'd' | 'h' | 'm' | 's';
  /** As written (lower case), for messages. */
  text: string;
}

/** A range of the day, minutes after local midnight; `end` < `start` crosses midnight. */
export interface QuietHours {
  startMinute: number;
  endMinute: number;
}

/** The reminder settings, checked. */
export interface MailSchedule {
  steps: readonly ReminderStep[];
  quiet: QuietHours | null;
  timezone: string;
}

const REMINDERS_EXPECTS = `up to ${MAX_REMINDER_STEPS} reminder steps, comma-separated: days after the first message (3d,7d,14d) or relative to the due date (due-2d, due+3d); h, m and s count hours, minutes and seconds`;

function refuseReminders(text: string, why: string): never {
  throw new ConfigError('CONFIG_INVALID', 'PAYLINKS_REMINDERS', `PAYLINKS_REMINDERS: expected ${REMINDERS_EXPECTS}, got ${JSON.stringify(text.slice(0, 80))} (${why})`);
}

/** The steps of `PAYLINKS_REMINDERS`; none when unset or blank. Throws {@link ConfigError} naming the variable and quoting the value. */
export function parseReminders(text: string | undefined): ReminderStep[] {
  if (text === undefined || text.trim() === '') return [];
  const parts = text.split(',').map((p) => p.trim().toLowerCase());
  if (parts.length > MAX_REMINDER_STEPS) refuseReminders(text, `${parts.length} steps; at most ${MAX_REMINDER_STEPS}`);
  const steps: ReminderStep[] = [];
  for (const part of parts) {
    const m = /^(?:due\s*([+-])\s*)?(\d{1,4})\s*([dhms])$/.exec(part);
    if (!m) refuseReminders(text, part === '' ? 'an empty step' : `${JSON.stringify(part.slice(0, 20))} is not a step`);
    const from = m[1] === undefined ? 'first' : 'due';
    const amount = Number(m[2]) * (m[1] === '-' ? -1 : 1);
    const step: ReminderStep = { from, amount, unit: m[3] as ReminderStep['unit'], text: part };
    if (from === 'first' && amount === 0) refuseReminders(text, `${part}: a reminder goes out some time after the first message`);
    const before = steps.filter((s) => s.from === from).at(-1);
    if (before !== undefined && stepMs(before) >= stepMs(step)) refuseReminders(text, `${part} does not come after ${before.text}: list the steps in the order they go out`);
    steps.push(step);
  }
  return steps;
}

/** The step's offset for ordering (a day as 24 hours). */
function stepMs(step: ReminderStep): number {
  return step.amount * (step.unit === 'd' ? 24 * HOUR_MS : UNIT_MS[step.unit]);
}

/** `PAYLINKS_QUIET_HOURS` (`21:00-08:00`); null when unset or blank. */
export function parseQuietHours(text: string | undefined): QuietHours | null {
  if (text === undefined || text.trim() === '') return null;
  const m = /^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$/.exec(text);
  const refuse = (why: string): never => {
    throw new ConfigError('CONFIG_INVALID', 'PAYLINKS_QUIET_HOURS', `PAYLINKS_QUIET_HOURS: expected a time range in 24-hour time such as 21:00-08:00, got ${JSON.stringify(text.slice(0, 80))}${why}`);
  };
  if (!m) refuse('');
  const quiet = { startMinute: Number(m![1]) * 60 + Number(m![2]), endMinute: Number(m![3]) * 60 + Number(m![4]) };
  if (quiet.startMinute === quiet.endMinute) refuse(' (it starts where it ends; leave it unset for no quiet hours)');
  return quiet;
}

/** `PAYLINKS_TIMEZONE`, checked against the zones this Node.js knows (Intl). */
export function checkTimeZone(zone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw new ConfigError('CONFIG_INVALID', 'PAYLINKS_TIMEZONE', `PAYLINKS_TIMEZONE: expected an IANA time zone such as Europe/Berlin or America/New_York, got ${JSON.stringify(zone.slice(0, 80))}`);
  }
}

/** The schedule of the mail settings, checked (at start). */
export function mailSchedule(settings: Pick<MailSettings, 'reminders' | 'quietHours' | 'timezone'>): MailSchedule {
  return { steps: parseReminders(settings.reminders), quiet: parseQuietHours(settings.quietHours), timezone: checkTimeZone(settings.timezone) };
}

// ---- Wall-clock time in a zone ------------------------------------------------

interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  minuteOfDay: number;
  second: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function wallAt(ms: number, zone: string): Wall {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formats.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, minuteOfDay: p.hour! * 60 + p.minute!, second: p.second! };
}

/** The zone's offset from UTC at an instant, ms (local = UTC + offset), to the second. */
function offsetAt(ms: number, zone: string): number {
  const w = wallAt(ms, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, 0, w.minuteOfDay, w.second);
  return asUtc - (Math.floor(ms / 1000) * 1000);
}

/**
 * The instants at which the zone's clocks show a date and time: one as a
 * rule, two in the hour a daylight-saving change repeats (earliest first),
 * and in the hour one skips, the instant the clocks jump past it.
 */
function instantsOf(year: number, month: number, day: number, minuteOfDay: number, zone: string): number[] {
  const wall = Date.UTC(year, month - 1, day, 0, minuteOfDay);
  const offsets = new Set([offsetAt(wall - 36 * HOUR_MS, zone), offsetAt(wall, zone), offsetAt(wall + 36 * HOUR_MS, zone)]);
  const found = [...offsets]
    .map((o) => wall - o)
    .filter((t) => offsetAt(t, zone) === wall - t)
    .sort((a, b) => a - b);
  if (found.length > 0) return [...new Set(found)];
  // Skipped: the first instant whose clock shows a later time is the jump.
  let lo = Math.min(...[...offsets].map((o) => wall - o));
  let hi = Math.max(...[...offsets].map((o) => wall - o));
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (offsetAt(mid, zone) + mid >= wall) hi = mid;
    else lo = mid;
  }
  return [hi];
}

function addDays(year: number, month: number, day: number, days: number): [number, number, number] {
  const d = new Date(Date.UTC(year, month - 1, day + days));
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

// ---- Reminders and quiet hours --------------------------------------------------

function stepAt(step: ReminderStep, firstSentAt: Date, dueDate: string | null, zone: string): number | null {
  if (step.from === 'first') {
    if (step.unit !== 'd') return firstSentAt.getTime() + step.amount * UNIT_MS[step.unit];
    const w = wallAt(firstSentAt.getTime(), zone);
    const [y, m, d] = addDays(w.year, w.month, w.day, step.amount);
    const [t] = instantsOf(y, m, d, w.minuteOfDay, zone);
    return t! + w.second * 1000 + (firstSentAt.getTime() % 1000);
  }
  const due = dueDate === null ? null : /^(\d{4})-(\d{2})-(\d{2})$/.exec(dueDate.trim());
  if (due === null) return null;
  if (step.unit !== 'd') {
    const [midnight] = instantsOf(Number(due[1]), Number(due[2]), Number(due[3]), 0, zone);
    return midnight! + step.amount * UNIT_MS[step.unit];
  }
  const [y, m, d] = addDays(Number(due[1]), Number(due[2]), Number(due[3]), step.amount);
  return instantsOf(y, m, d, DUE_SEND_HOUR * 60, zone)[0]!;
}

/**
 * When reminder `step` (1 to 3) of an invoice is due, before quiet hours;
 * null when the schedule has no such step or it does not apply to this
 * invoice: a due-date step without a due date, or a time not after the first
 * message and the step before it (`due-2d` for an invoice mailed after its due date).
 */
export function reminderDueAt(schedule: MailSchedule, step: number, firstSentAt: Date, dueDate: string | null): Date | null {
  if (!Number.isInteger(step) || step < 1 || step > schedule.steps.length) return null;
  let after = firstSentAt.getTime();
  let at: number | null = null;
  for (let i = 0; i < step; i += 1) {
    const t = stepAt(schedule.steps[i]!, firstSentAt, dueDate, schedule.timezone);
    at = t !== null && t > after ? t : null;
    if (at !== null) after = at;
  }
  return at === null ? null : new Date(at);
}

function inQuiet(quiet: QuietHours, minuteOfDay: number): boolean {
  const { startMinute: s, endMinute: e } = quiet;
  return s < e ? minuteOfDay >= s && minuteOfDay < e : minuteOfDay >= s || minuteOfDay < e;
}

/** The first instant at or after `at` outside the quiet hours (in `zone`); `at` itself when it is outside or there are none. */
export function outsideQuietHours(at: Date, quiet: QuietHours | null, zone: string): Date {
  if (quiet === null) return at;
  const ms = at.getTime();
  const w = wallAt(ms, zone);
  if (!inQuiet(quiet, w.minuteOfDay)) return at;
  // The quiet range that holds `at` ends today, or tomorrow when it crosses midnight and `at` is before it.
  const endsTomorrow = quiet.startMinute > quiet.endMinute && w.minuteOfDay >= quiet.startMinute;
  for (let days = endsTomorrow ? 1 : 0; days <= 2; days += 1) {
    const [y, m, d] = addDays(w.year, w.month, w.day, days);
    const end = instantsOf(y, m, d, quiet.endMinute, zone).find((t) => t >= ms);
    if (end !== undefined) return new Date(end);
  }
  return at; // unreachable: a quiet range ends within a day
}

/** When reminder `step` goes out: {@link reminderDueAt}, moved out of the quiet hours; null when it does not apply. */
export function reminderSendAt(schedule: MailSchedule, step: number, firstSentAt: Date, dueDate: string | null): Date | null {
  const due = reminderDueAt(schedule, step, firstSentAt, dueDate);
  return due === null ? null : outsideQuietHours(due, schedule.quiet, schedule.timezone);
}
