/**
 * The reminder schedule (issue 19, item 5): PAYLINKS_REMINDERS, PAYLINKS_QUIET_HOURS and PAYLINKS_TIMEZONE,
 * with the instants given (an injected clock), across daylight-saving changes.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { checkTimeZone, mailSchedule, outsideQuietHours, parseQuietHours, parseReminders, reminderDueAt, reminderSendAt, type MailSchedule } from '../../src/mail/schedule.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => d?.toISOString() ?? null;
const schedule = (reminders: string, timezone = 'Europe/Berlin', quietHours?: string): MailSchedule => mailSchedule({ reminders, timezone, quietHours });

describe('PAYLINKS_REMINDERS', () => {
  it('reads days after the first message and steps relative to the due date', () => {
    expect(parseReminders('3d,7d,14d').map((s) => [s.from, s.amount, s.unit])).toEqual([['first', 3, 'd'], ['first', 7, 'd'], ['first', 14, 'd']]);
    expect(parseReminders(' DUE-2d , due+3D ,12h').map((s) => [s.from, s.amount, s.unit])).toEqual([['due', -2, 'd'], ['due', 3, 'd'], ['first', 12, 'h']]);
    expect(parseReminders('30s,5m,1h').map((s) => [s.from, s.amount, s.unit])).toEqual([['first', 30, 's'], ['first', 5, 'm'], ['first', 1, 'h']]);
    expect(parseReminders(undefined)).toEqual([]);
    expect(parseReminders('  ')).toEqual([]);
  });

  it('refuses a bad value, naming the variable and quoting the value', () => {
    const cases: [string, string][] = [
      ['3d,7d,14d,30d', '4 steps; at most 3'],
      ['7d,3d', '3d does not come after 7d: list the steps in the order they go out'],
      ['90m,1h', '1h does not come after 90m: list the steps in the order they go out'],
      ['due+3d,due-2d', 'due-2d does not come after due+3d: list the steps in the order they go out'],
      ['0d', '0d: a reminder goes out some time after the first message'],
      ['3d,,7d', 'an empty step'],
      ['next week', '"next week" is not a step'],
    ];
    for (const [value, why] of cases) {
      const error = configError(() => parseReminders(value));
      expect(error.variable).toBe('PAYLINKS_REMINDERS');
      expect(error.message).toBe(`PAYLINKS_REMINDERS: expected up to 3 reminder steps, comma-separated: days after the first message (3d,7d,14d) or relative to the due date (due-2d, due+3d); h, m and s count hours, minutes and seconds, got ${JSON.stringify(value)} (${why})`);
    }
  });

  it('is checked at start from the configuration', () => {
    const config = loadConfig({ env: { PAYLINKS_REMINDERS: '7d,3d', PAYLINKS_TIMEZONE: 'America/New_York' }, dotenvPath: false });
    expect(configError(() => mailSchedule(config.mail)).message).toMatch(/^PAYLINKS_REMINDERS: .*got "7d,3d"/);
    const ok = mailSchedule(loadConfig({ env: { PAYLINKS_REMINDERS: '3d', PAYLINKS_QUIET_HOURS: '21:00-08:00' }, dotenvPath: false }).mail);
    expect(ok).toEqual({ steps: [{ from: 'first', amount: 3, unit: 'd', text: '3d' }], quiet: { startMinute: 21 * 60, endMinute: 8 * 60 }, timezone: 'UTC' });
  });
});

describe('PAYLINKS_QUIET_HOURS and PAYLINKS_TIMEZONE', () => {
  it('read a range of the day, crossing midnight or not', () => {
    expect(parseQuietHours('21:00-08:00')).toEqual({ startMinute: 1260, endMinute: 480 });
    expect(parseQuietHours(' 12:30 - 13:45 ')).toEqual({ startMinute: 750, endMinute: 825 });
    expect(parseQuietHours(undefined)).toBeNull();
  });

  it('refuse a range that is not one, naming the variable and quoting the value', () => {
    expect(configError(() => parseQuietHours('21h-8h')).message).toBe('PAYLINKS_QUIET_HOURS: expected a time range in 24-hour time such as 21:00-08:00, got "21h-8h"');
    expect(configError(() => parseQuietHours('24:00-08:00')).variable).toBe('PAYLINKS_QUIET_HOURS');
    expect(configError(() => parseQuietHours('08:00-08:00')).message).toMatch(/got "08:00-08:00" \(it starts where it ends/);
  });

  it('checks the time zone with Intl', () => {
    expect(checkTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    const error = configError(() => checkTimeZone('Mars/Olympus_Mons'));
    expect(error.message).toBe('PAYLINKS_TIMEZONE: expected an IANA time zone such as Europe/Berlin or America/New_York, got "Mars/Olympus_Mons"');
  });
});

describe('reminderDueAt', () => {
  it('counts days after the first message on the local calendar: the same time of day across a daylight-saving change', () => {
    // Berlin: clocks go forward on 29 March 2026 (CET +1 → CEST +2) and back on 25 October 2026.
    const spring = schedule('3d,7d');
    const firstSpring = at('2026-03-27T09:15:00.000Z'); // 10:15 CET
    expect(iso(reminderDueAt(spring, 1, firstSpring, null))).toBe('2026-03-30T08:15:00.000Z'); // 10:15 CEST: 71 hours later
    expect(iso(reminderDueAt(spring, 2, firstSpring, null))).toBe('2026-04-03T08:15:00.000Z');
    const autumn = schedule('3d');
    expect(iso(reminderDueAt(autumn, 1, at('2026-10-23T08:15:00.000Z'), null))).toBe('2026-10-26T09:15:00.000Z'); // 10:15 CET: 73 hours later
    // In UTC, days are 24 hours.
    expect(iso(reminderDueAt(schedule('3d', 'UTC'), 1, firstSpring, null))).toBe('2026-03-30T09:15:00.000Z');
  });

  it('an hour, minute or second step is exact; a step not in the schedule is null', () => {
    const s = schedule('12h,3d');
    expect(iso(reminderDueAt(s, 1, at('2026-03-28T20:00:00.000Z'), null))).toBe('2026-03-29T08:00:00.000Z');
    const short = schedule('30s,2m');
    expect(iso(reminderDueAt(short, 1, at('2026-03-28T20:00:00.000Z'), null))).toBe('2026-03-28T20:00:30.000Z');
    expect(iso(reminderDueAt(short, 2, at('2026-03-28T20:00:00.000Z'), null))).toBe('2026-03-28T20:02:00.000Z');
    expect(reminderDueAt(s, 3, at('2026-03-28T20:00:00.000Z'), null)).toBeNull();
    expect(reminderDueAt(s, 0, at('2026-03-28T20:00:00.000Z'), null)).toBeNull();
  });

  it('puts a due-date step at 09:00 local time on its day; an invoice without a due date gets none', () => {
    const s = schedule('due-2d,due+3d', 'America/New_York');
    const first = at('2026-03-01T15:00:00.000Z');
    // Due 6 March (EST, -5): 2 days before is 4 March 09:00 EST; 3 days after is 9 March 09:00 EDT (-4), past the change on 8 March.
    expect(iso(reminderDueAt(s, 1, first, '2026-03-06'))).toBe('2026-03-04T14:00:00.000Z');
    expect(iso(reminderDueAt(s, 2, first, '2026-03-06'))).toBe('2026-03-09T13:00:00.000Z');
    expect(reminderDueAt(s, 1, first, null)).toBeNull();
    expect(reminderDueAt(s, 1, first, 'soon')).toBeNull();
  });

  it('a step that would not come after the first message or the step before it does not apply', () => {
    const s = schedule('due-2d,due+3d');
    // Mailed a day before the due date: the "2 days before" reminder is already past.
    const first = at('2026-06-09T10:00:00.000Z');
    expect(reminderDueAt(s, 1, first, '2026-06-10')).toBeNull();
    expect(iso(reminderDueAt(s, 2, first, '2026-06-10'))).toBe('2026-06-13T07:00:00.000Z');
    // 7 days after the first message, then 1 day after a due date that is earlier than that.
    const mixed = schedule('7d,due+1d', 'UTC');
    expect(iso(reminderDueAt(mixed, 1, first, '2026-06-10'))).toBe('2026-06-16T10:00:00.000Z');
    expect(reminderDueAt(mixed, 2, first, '2026-06-10')).toBeNull();
    expect(iso(reminderDueAt(mixed, 2, first, '2026-06-30'))).toBe('2026-07-01T09:00:00.000Z');
  });
});

describe('outsideQuietHours', () => {
  const night = parseQuietHours('21:00-08:00');

  it('leaves an instant outside the quiet hours alone, and moves one inside to their end', () => {
    expect(iso(outsideQuietHours(at('2026-06-10T10:00:00.000Z'), night, 'Europe/Berlin'))).toBe('2026-06-10T10:00:00.000Z'); // 12:00 CEST
    expect(iso(outsideQuietHours(at('2026-06-10T06:00:00.000Z'), night, 'Europe/Berlin'))).toBe('2026-06-10T06:00:00.000Z'); // 08:00 sharp: open
    expect(iso(outsideQuietHours(at('2026-06-10T19:00:00.000Z'), night, 'Europe/Berlin'))).toBe('2026-06-11T06:00:00.000Z'); // 21:00 sharp: quiet
    expect(iso(outsideQuietHours(at('2026-06-10T05:59:59.000Z'), night, 'Europe/Berlin'))).toBe('2026-06-10T06:00:00.000Z');
    expect(iso(outsideQuietHours(at('2026-06-10T23:30:00.000Z'), night, 'UTC'))).toBe('2026-06-11T08:00:00.000Z');
    expect(iso(outsideQuietHours(at('2026-06-10T12:15:00.000Z'), parseQuietHours('12:00-13:00'), 'UTC'))).toBe('2026-06-10T13:00:00.000Z');
    expect(iso(outsideQuietHours(at('2026-06-10T23:30:00.000Z'), null, 'UTC'))).toBe('2026-06-10T23:30:00.000Z');
  });

  it('ends the quiet hours at 08:00 on the clock across a daylight-saving change (Berlin, both ways)', () => {
    // 22:30 CET on 28 March; the night's end is 08:00 CEST on 29 March = 06:00 UTC (not 07:00).
    expect(iso(outsideQuietHours(at('2026-03-28T21:30:00.000Z'), night, 'Europe/Berlin'))).toBe('2026-03-29T06:00:00.000Z');
    // 23:00 CEST on 24 October; 08:00 CET on 25 October = 07:00 UTC.
    expect(iso(outsideQuietHours(at('2026-10-24T21:00:00.000Z'), night, 'Europe/Berlin'))).toBe('2026-10-25T07:00:00.000Z');
  });

  it('ends at the clocks\' jump when the end time is skipped, and at the next occurrence when it repeats (New York)', () => {
    // 8 March 2026: 02:00 EST jumps to 03:00 EDT at 07:00 UTC; 02:30 never shows.
    const skipped = parseQuietHours('01:00-02:30');
    expect(iso(outsideQuietHours(at('2026-03-08T06:30:00.000Z'), skipped, 'America/New_York'))).toBe('2026-03-08T07:00:00.000Z');
    // 1 November 2026: 02:00 EDT goes back to 01:00 EST at 06:00 UTC; 01:30 shows twice.
    const repeated = parseQuietHours('00:00-01:30');
    expect(iso(outsideQuietHours(at('2026-11-01T05:10:00.000Z'), repeated, 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z'); // 01:10 EDT → 01:30 EDT
    expect(iso(outsideQuietHours(at('2026-11-01T06:10:00.000Z'), repeated, 'America/New_York'))).toBe('2026-11-01T06:30:00.000Z'); // 01:10 EST → 01:30 EST
  });

  it('reminderSendAt: the due time, moved out of the quiet hours', () => {
    const s = schedule('due+1d,3d', 'Europe/Berlin', '21:00-10:00');
    const first = at('2026-03-26T20:30:00.000Z'); // 21:30 CET, itself in the quiet hours (first messages are sent when asked)
    expect(iso(reminderSendAt(s, 1, first, '2026-03-28'))).toBe('2026-03-29T08:00:00.000Z'); // 29 March 09:00 CEST → 10:00 CEST
    expect(iso(reminderSendAt(s, 2, first, '2026-03-28'))).toBe('2026-03-30T08:00:00.000Z'); // 29 March 21:30 CEST → 30 March 10:00 CEST
  });
});
