/*
 * A strict reader of ISO 8601 date strings, since `Date.parse` is not one: V8 accepts "2020-01-01 junk",
 * February 30 (rolled into March) and 24:00, and reads a date-time without a zone in the process's own time
 * zone. Pure.
 *
 * Accepted: a calendar date `YYYY-MM-DD` (midnight UTC, as JavaScript reads it), or a date-time
 * `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by `Z` or an offset `±HH:MM`. A fraction beyond milliseconds
 * is accepted only when its extra digits are zeros: a `Date` would drop them.
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Milliseconds since the epoch of an ISO 8601 string, or a sentence saying why it is not one. */
export function parseIsoDate(text: string): number | string {
  const match = ISO.exec(text);
  if (!match) {
    return 'is not an ISO 8601 date ("2024-02-29") or date-time with a zone ("2024-02-29T12:34:56.789Z")';
  }
  const [, y, mo, d, h, mi, s = '00', fraction = '', zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12) return `has month ${mo}`;
  if (day < 1 || day > daysIn(year, month)) return `has day ${d}, which ${y}-${mo} does not have`;
  if (h === undefined) return utc(year, month, day, 0, 0, 0, 0);
  if (zone === undefined) {
    return 'is a date-time without a zone (JavaScript would read it in the local time zone): end it with Z or an offset such as +02:00';
  }
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (hour > 23 || minute > 59 || second > 59) return `has the time ${h}:${mi}:${s}`;
  if (/[1-9]/.test(fraction.slice(3))) {
    return 'has more than millisecond precision, which a Date would round away';
  }
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) return `has the offset ${zone}`;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  return utc(year, month, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/** Milliseconds of a UTC date and time; unlike `Date.UTC`, which reads the years 0 to 99 as 1900 to 1999. */
function utc(year: number, month: number, day: number, h: number, m: number, s: number, ms: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(h, m, s, ms);
  return date.getTime();
}
