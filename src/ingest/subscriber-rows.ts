/**
 * The fast path for subscribers.csv: records in their plainest form are scanned and
 * checked in one pass over their bytes, with no record view and no string, and
 * handed to the fold as byte spans and parsed values. Anything else stops it, and the
 * general reader (CsvScanner, scanSubscribers' row handler and its reject rules)
 * takes that record:
 *
 * - a quote inside a field, a quoted field with anything after its closing quote or
 *   holding a line break or a doubled quote, a carriage return not ending the line, a
 *   field count other than the header's, a record cut by the end of the chunk;
 * - a text field (id, msisdn, name, region, manager_id) with a byte <= 0x20
 *   at either end or one that may start or end with a Unicode space
 *   (mayHaveUnicodeSpace), an empty id;
 * - a phone other than exactly \+?[0-9]{5,20};
 * - a status other than exactly one of the lower-case values, a member level other
 *   than exactly one of them or empty;
 * - a balance other than empty or [-]digits[.digits] (1 to 15 digits, at most 2
 *   decimals, at most 2^53 fen);
 * - a date other than empty or exactly YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD (an existing
 *   day, MIN_YEAR–MAX_YEAR).
 *
 * Any field may be quoted ("..."), as in plain-rows.ts.
 *
 * So the fast path never rejects a row: it takes only records the handler would
 * accept, with the values the handler would compute (fieldKey/pushTrimmed keep such
 * text fields' bytes as they are; fieldPhone, fieldEnum, plainScaledAt and isoDayAt
 * read such fields as here), which a property test holds it to. Duplicate ids are
 * not its concern: the handler does not look for them either (resolveKeys does).
 * Empty lines (LF or CR LF) are skipped as the scanner skips them.
 *
 * Line numbers: the fold gets each record's line, which the fast path counts from a
 * known line. The feeder calls scan() wherever the scanner stands between records,
 * so between two calls the scanner reads at most one record or empty line: the one
 * the fast path stopped at. When scan() stops at the end of the chunk it knows the
 * line it stopped on; when it stops at a record it refuses, it forgets it, and the
 * row handler tells it again (resume(): the record's line plus the line feeds inside
 * it, plus one) when that record reaches it. A record the handler never sees (a
 * wrong field count), and the header, leave the line unknown: until the handler
 * sees a record, scan() takes nothing.
 *
 * Speed: as in plain-rows.ts the scanning function is generated for the file's
 * column layout (one straight block per field, constants inlined); only numbers go
 * into the generated source.
 */
import { dayNumber } from './csv-scan.js';
import { mayHaveUnicodeSpace } from './id-table.js';
import { closeQuote, dateSource, fastDelimiter, OPEN_QUOTE, toFieldEnd, type FastRows } from './plain-rows.js';
import type { RecordView } from './csv-scan.js';

/** What a field of subscribers.csv is, for the fast path. */
export const SubKind = {
  /** Not read: any bytes but the delimiter, a quote, CR, LF. */
  Skip: 0,
  /** Text that must not be empty (the id): its span goes to spans[2 * slot]. */
  Id: 1,
  /** Text that may be empty: its span goes to spans[2 * slot]. */
  Text: 2,
  /** \+?[0-9]{5,20}: its span goes to spans[2 * slot]. */
  Phone: 3,
  /** One of `values` exactly: its index goes to values[slot]. */
  Enum: 4,
  /** One of `values` exactly, or empty (→ `missing`). */
  OptionalEnum: 5,
  /** Empty (NaN) or a plain amount with at most 2 decimals, in yuan. */
  Amount: 6,
  /** Empty (NaN) or YYYY-MM-DD → day number. */
  Day: 7,
} as const;
export type SubKind = (typeof SubKind)[keyof typeof SubKind];

export interface SubColumn {
  kind: SubKind;
  /** Where its span (text kinds) or value (other kinds) goes. */
  slot: number;
  /** Enum kinds: the values as ASCII bytes (lower case). */
  values?: readonly Uint8Array[];
  /** OptionalEnum: the code of an empty field. */
  missing?: number;
}

type Scan = (b: Uint8Array, p: number, len: number) => number;
type Factory = (
  fold: (b: Uint8Array, line: number) => void,
  dayNumber: (y: number, m: number, d: number) => number,
  uni: (b: Uint8Array, s: number, e: number) => boolean,
  spans: Int32Array,
  values: Float64Array,
  state: SubscriberRows,
) => Scan;

const factories = new Map<string, Factory>();

const int = (n: number, lo: number, hi: number): number => {
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error('SubscriberRows: bad column');
  return n;
};

/** The source of the scanning function for a layout (see the module comment for what it takes). */
function source(columns: readonly SubColumn[], delim: number): string {
  const last = columns.length - 1;
  const bail = '{ p = r0; stopped = true; break records; }';
  // A text field b[s..p) that is not empty must not start or end with a space, a control byte or (maybe) a Unicode space.
  const edges = '(b[s] <= 32 || b[p - 1] <= 32 || ((b[s] | b[p - 1]) >= 128 && uni(b, s, p)))';
  const toEnd = toFieldEnd(delim, bail).join('\n');
  const L: string[] = [
    'return function scan(b, p, len) {',
    '  if (!state.known) return p;',
    'let records = 0, lines = 0, c = 0, line = state.line, stopped = false, lastYmd = state.lastYmd, lastDay = state.lastDay;',
    'records: while (p < len) {',
    '  c = b[p];',
    '  if (c === 10) { lines++; line++; p++; continue; }',
    '  if (c === 13 && p + 1 < len && b[p + 1] === 10) { lines++; line++; p += 2; continue; }',
    '  const r0 = p;',
    '  let s = 0, v = 0, q = 0;',
  ];
  columns.forEach((col, f) => {
    const slot = int(col.slot, 0, 15);
    L.push(`  // field ${f}`, OPEN_QUOTE, '  s = p;');
    switch (col.kind) {
      case SubKind.Skip:
        L.push(toEnd);
        break;
      case SubKind.Id:
      case SubKind.Text:
        L.push(toEnd);
        L.push(col.kind === SubKind.Id ? `  if (p === s || ${edges}) ${bail}` : `  if (p > s && ${edges}) ${bail}`);
        L.push(`  spans[${2 * slot}] = s; spans[${2 * slot + 1}] = p;`);
        break;
      case SubKind.Phone:
        L.push(
          '  if (p < len && b[p] === 43) p++;',
          '  { const d0 = p;',
          '    while (p < len && (c = b[p] - 48) >= 0 && c <= 9) p++;',
          `    if (p >= len || p - d0 < 5 || p - d0 > 20) ${bail}`,
          '    c = b[p]; }',
          `  spans[${2 * slot}] = s; spans[${2 * slot + 1}] = p;`,
        );
        break;
      case SubKind.Enum:
      case SubKind.OptionalEnum: {
        const vals = col.values ?? [];
        L.push(toEnd, '  switch (p - s) {');
        const byLength = new Map<number, number[]>();
        vals.forEach((v, k) => {
          const n = int(v.length, 1, 64);
          byLength.set(n, [...(byLength.get(n) ?? []), k]);
        });
        if (col.kind === SubKind.OptionalEnum) L.push(`    case 0: v = ${int(col.missing ?? -1, 0, 255)}; break;`);
        for (const [n, ks] of byLength) {
          L.push(`    case ${n}:`);
          for (const k of ks) {
            const want = [...vals[k]!].map((x, j) => `b[s + ${j}] === ${int(x, 0x21, 0x7e)}`).join(' && ');
            L.push(`      if (${want}) { v = ${k}; break; }`);
          }
          L.push(`      ${bail}`);
        }
        L.push(`    default: ${bail}`, '  }', `  values[${slot}] = v;`);
        break;
      }
      case SubKind.Amount:
        // plainScaledAt(b, s, e, 2) / 100, and NaN for an empty field.
        L.push(
          '  v = 0;',
          '  if (p < len && b[p] === 45) p++;',
          '  { const d0 = p;',
          '    while (p < len && (c = b[p] - 48) >= 0 && c <= 9) { v = v * 10 + c; p++; }',
          '    let n = p - d0, k = 2;',
          '    if (p < len && b[p] === 46) { const f0 = ++p; while (k > 0 && p < len && (c = b[p] - 48) >= 0 && c <= 9) { v = v * 10 + c; p++; k--; } n += p - f0; }',
          `    if (p >= len) ${bail}`,
          `    if (n === 0) { if (p !== s) ${bail} v = NaN; }`,
          `    else { if (n > 15) ${bail} if (k > 0) { v *= k === 2 ? 100 : 10; if (v > 9007199254740992) ${bail} } if (d0 > s && v !== 0) v = -v; v = v / 100; }`,
          '    c = b[p]; }',
          `  values[${slot}] = v;`,
        );
        break;
      case SubKind.Day:
        L.push(
          `  if (p >= len) ${bail}`,
          `  c = b[p];`,
          `  if (c === ${delim} || c === 10 || c === 13) v = NaN;`,
          `  else if (c === 34 && q === 1) v = NaN;`,
          '  else {',
          ...dateSource(true, bail),
          '  }',
          `  values[${slot}] = v;`,
        );
        break;
      default:
        throw new Error('SubscriberRows: bad column kind');
    }
    L.push(closeQuote(bail));
    // The field must end with the delimiter, the last one with LF or CR LF.
    if (f < last) L.push(`  if (c !== ${delim}) ${bail}`, '  p++;');
    else L.push(`  if (c === 10) p++; else if (c === 13 && p + 1 < len && b[p + 1] === 10) p += 2; else ${bail}`);
  });
  L.push(
    '  lines++;',
    '  records++;',
    '  fold(b, line);',
    '  line++;',
    '}',
    // Stopped at a record it refuses: the scanner reads it, and the line is known again once the handler sees it (resume).
    'state.known = !stopped; state.line = line;',
    'state.lastYmd = lastYmd; state.lastDay = lastDay;',
    'state.records += records; state.lines += lines;',
    'return p;',
    '};',
  );
  return L.join('\n');
}

/**
 * A FastRows for subscribers.csv: `columns[f]` says what field f of a record is; a
 * record taken calls fold(b, line) with the spans of its text fields in `spans`
 * (field of slot k at b[spans[2k] .. spans[2k + 1])) and its other values in
 * `values`. Slots of absent columns keep what the caller put there. The delimiter
 * must pass fastDelimiter.
 */
export class SubscriberRows implements FastRows {
  records = 0;
  lines = 0;
  /** Whether `line` is the line of the next byte scan() will be given (see the module comment). */
  known = false;
  line = 0;
  /** The last date parsed and its day number. */
  lastYmd = -1;
  lastDay = NaN;
  readonly scan: Scan;

  constructor(
    columns: readonly SubColumn[],
    delim: number,
    readonly spans: Int32Array,
    readonly values: Float64Array,
    fold: (b: Uint8Array, line: number) => void,
  ) {
    if (!fastDelimiter(delim)) throw new Error('SubscriberRows: the delimiter can occur in a value');
    for (const c of columns) {
      const text = c.kind === SubKind.Id || c.kind === SubKind.Text || c.kind === SubKind.Phone;
      const need = text ? 2 * c.slot + 2 : c.kind === SubKind.Skip ? 0 : c.slot + 1;
      if (need > (text ? spans.length : values.length)) throw new Error('SubscriberRows: slot out of range');
    }
    const src = source(columns, delim);
    let factory = factories.get(src);
    if (factory === undefined) {
      factory = new Function('fold', 'dayNumber', 'uni', 'spans', 'values', 'state', src) as Factory;
      factories.set(src, factory);
    }
    this.scan = factory(fold, dayNumber, mayHaveUnicodeSpace, spans, values, this);
  }

  /**
   * The record the general reader just handed to the row handler (whatever the
   * handler makes of it): the next record starts on the line after its last line
   * feed. Line feeds inside a record lie inside its (quoted) fields, whose bytes
   * the view holds end to end apart from delimiters and quotes.
   */
  resume(rec: RecordView): void {
    let n = 0;
    if (rec.count > 0) {
      const b = rec.buf;
      for (let k = rec.start[0]!, e = rec.end[rec.count - 1]!; k < e; k++) if (b[k] === 10) n++;
    }
    this.line = rec.line + n + 1;
    this.known = true;
  }
}
