/**
 * When an invoice's reminders go out, as the send path asks it: the one
 * place it calls `mailtpl`'s schedule.ts (`PAYLINKS_REMINDERS`,
 * `PAYLINKS_QUIET_HOURS` in `PAYLINKS_TIMEZONE`). Injected clocks only.
 */
import type { MailSettings } from '../core/config.js';
import type { MailKind } from '../pipeline/mail-job.js';
import { mailSchedule, outsideQuietHours as quietEnd, reminderSendAt, type MailSchedule } from './schedule.js';

const REMINDER_KINDS: readonly MailKind[] = ['reminder1', 'reminder2', 'reminder3'];

export type ReminderSchedule = MailSchedule;

/** The schedule of the settings; a ConfigError naming the variable when a value is wrong. */
export function loadSchedule(settings: Pick<MailSettings, 'reminders' | 'quietHours' | 'timezone'>): ReminderSchedule {
  return mailSchedule(settings);
}

/** The reminders of an invoice whose first message went out at `firstSentAtMs`: each kind and when it goes out (quiet hours applied). */
export function reminderTimes(schedule: ReminderSchedule, firstSentAtMs: number, dueDate: string | null): { kind: MailKind; atMs: number }[] {
  const out: { kind: MailKind; atMs: number }[] = [];
  schedule.steps.forEach((_, i) => {
    const at = reminderSendAt(schedule, i + 1, new Date(firstSentAtMs), dueDate);
    if (at !== null) out.push({ kind: REMINDER_KINDS[i]!, atMs: at.getTime() });
  });
  return out;
}

/** The first instant at or after `atMs` outside the quiet hours. */
export function outsideQuietHours(schedule: ReminderSchedule, atMs: number): number {
  return quietEnd(new Date(atMs), schedule.quiet, schedule.timezone).getTime();
}
