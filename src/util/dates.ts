/**
 * Calendar arithmetic on plain integers, independent of TZ and of Date's parser:
 * a day is the number of days since 1970-01-01, a month is year * 12 + (month - 1).
 * Extract dates are calendar dates, never instants, so no time zone applies to them.
 */

export const NO_DAY = -2147483648; // Int32 sentinel for "not given"

/**
 * The years a date or month may have. The upper end is the largest four-digit year:
 * 9999-12-31 is a common open-end sentinel (a contract without an end), and it must
 * read as a far-future day, not as "not a date". (Day numbers stay below 3 million,
 * well inside every array that holds them.)
 */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 9999;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [y + (m <= 2 ? 1 : 0), m, d];
}

export function daysInMonth(y: number, m: number): number {
  return [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

export function isValidDate(y: number, m: number, d: number): boolean {
  return y >= MIN_YEAR && y <= MAX_YEAR && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** Parses YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD (an optional time part after it is ignored); NaN when invalid. */
export function parseDay(s: string): number {
  const t = s.trim();
  let y: number, m: number, d: number, end: number;
  if (/^\d{8}/.test(t) && (t.length === 8 || /^\d{8}[ T]/.test(t))) {
    y = +t.slice(0, 4);
    m = +t.slice(4, 6);
    d = +t.slice(6, 8);
    end = 8;
  } else {
    const mm = /^(\d{4})([-/])(\d{1,2})\2(\d{1,2})/.exec(t);
    if (!mm) return NaN;
    y = +mm[1]!;
    m = +mm[3]!;
    d = +mm[4]!;
    end = mm[0].length;
  }
  if (end < t.length && !/^[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(t.slice(end))) return NaN;
  return isValidDate(y, m, d) ? daysFromCivil(y, m, d) : NaN;
}

/** Parses YYYY-MM, YYYY/MM or YYYYMM to a month index; NaN when invalid. */
export function parseMonth(s: string): number {
  const mm = /^(\d{4})[-/]?(\d{2})$/.exec(s.trim());
  if (!mm) return NaN;
  const y = +mm[1]!,
    m = +mm[2]!;
  return y >= MIN_YEAR && y <= MAX_YEAR && m >= 1 && m <= 12 ? y * 12 + (m - 1) : NaN;
}

export function formatDay(day: number): string {
  const [y, m, d] = civilFromDays(day);
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export function formatMonth(month: number): string {
  return `${Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, '0')}`;
}

export function monthOfDay(day: number): number {
  const [y, m] = civilFromDays(day);
  return y * 12 + (m - 1);
}

let listedZones: Set<string> | undefined;

/**
 * Whether Intl takes `timeZone` as a time zone. The first formatter made costs ~15 ms
 * of CPU (ICU's date patterns), on the single-threaded start of a night when a pack is
 * checked; the list of canonical names costs ~2 ms and answers for the usual names. A
 * name not in it (UTC, Asia/Kolkata, another case) is asked of a formatter, as before.
 */
export function isTimeZone(timeZone: string): boolean {
  listedZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (listedZones.has(timeZone)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Today's calendar date in an IANA time zone, as a day number. */
export function todayIn(timeZone: string, now: Date = new Date()): number {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return daysFromCivil(get('year'), get('month'), get('day'));
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, string>();

/** The UTC offset of a zone at a given local day, as "+08:00" (for due times in task files). Memoised: formatters are costly. */
export function utcOffsetOf(timeZone: string, day: number): string {
  const key = `${timeZone}|${day}`;
  const known = offsets.get(key);
  if (known !== undefined) return known;
  let fmt = offsetFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormats.set(timeZone, fmt);
  }
  const probe = new Date(day * 86400000 + 12 * 3600000);
  const name = fmt.formatToParts(probe).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-]\d{2}):?(\d{2})?/.exec(name);
  const offset = m ? `${m[1]}:${m[2] ?? '00'}` : '+00:00';
  offsets.set(key, offset);
  return offset;
}
