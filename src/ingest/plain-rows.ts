/**
 * The fast path for the large fact extracts: records in their plainest form are
 * scanned and parsed in one pass over their bytes, with no record view and no
 * string, and folded at once. Anything else stops it, and the general reader
 * (CsvScanner, the row handler and its reject rules) takes that record:
 *
 * - a quote inside a field, a quoted field with anything after its closing quote, a
 *   quoted field that is not read holding a line break or a doubled quote, a carriage
 *   return not ending the line, a field count other than the header's, a record cut by
 *   the end of the chunk, a line starting with CR;
 * - a subscriber id with a space or a non-ASCII byte at either end, or not in the
 *   table (the handler rejects it);
 * - a date other than exactly YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, a month other than
 *   exactly YYYY-MM, YYYY/MM or YYYYMM, a number other than [-]digits[.digits] (1 to 15
 *   digits, no more decimals than its scale, at most 2^53 once scaled), an empty
 *   required number, an invalid value, a value below 0 in a column that cannot have
 *   one (a count, minutes, a volume).
 *
 * Any field may be quoted ("..."): the export dialects that quote every field, or only
 * text, stay on the fast path, and so do lines ending in CR LF and empty optional fields.
 *
 * So the fast path never rejects a row: it takes only records the handler would
 * accept, with the values the handler would read (the same rules as IdTable.find,
 * isoDayAt, isoMonthAt and plainScaledAt, which a property test holds it to), and
 * both call the same fold function. Empty lines are skipped as the scanner skips
 * them.
 *
 * Speed: the scanning function is generated for the file's column layout (one
 * straight block of code per field, constants inlined), which runs about twice as
 * fast as a loop that looks up each field's kind. Only numbers from the tables below
 * go into the generated source. Rows in no order collect a batch of records before
 * their ids are looked up together (unsorted-ids.ts), then fold them in order. Rows
 * in order find their id by comparing it in place with the last key found and the
 * next few (nearId), and the measure extracts count their rows per period in the
 * generated code, calling the fold only for the periods a run reads (PeriodCounts).
 */
import { dayNumber } from './csv-scan.js';
import { WINDOW, type IdTable } from './id-table.js';
import { BATCH, IdBatch } from './unsorted-ids.js';
import { MAX_YEAR, MIN_YEAR } from '../util/dates.js';

/** A fast path over the records of one file (see read-extract's use of it). */
export interface FastRows {
  /**
   * Folds the records at b[p..len) it can take, from p (which starts a record) up
   * to the first it cannot take or the end of the last complete one; returns where
   * it stopped. Adds what it took to `records` and the line feeds it passed to `lines`.
   */
  scan(b: Uint8Array, p: number, len: number): number;
  records: number;
  lines: number;
}

/** What a field is, for the fast path. */
export const Kind = {
  /** Not read: any bytes but the delimiter, a quote, CR, LF. */
  Skip: 0,
  /** The subscriber id: found in the id table, its index passed to the fold. */
  Id: 1,
  /** YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD → day number. */
  Day: 2,
  /** YYYY-MM, YYYY/MM or YYYYMM → month index. */
  Month: 3,
  /** A number that must be given, scaled. */
  Number: 4,
  /** A number that may be empty (0), scaled. */
  OptionalNumber: 5,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Column {
  kind: Kind;
  /** Where its value goes in the values passed to the fold. */
  slot: number;
  /** Decimal scale of a number (0..15). */
  scale: number;
  /** A count, minutes or a volume: a value below 0 is left to the handler, which rejects it. */
  nonNegative?: boolean;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * False for delimiters that a number or a date can contain (digits, '-', '.', '+'):
 * with those the fields cannot be parsed in the same pass that finds their ends.
 */
export function fastDelimiter(delim: number): boolean {
  return (
    delim > 0 &&
    delim < 0x80 &&
    delim !== 0x0a &&
    delim !== 0x0d &&
    delim !== 0x22 &&
    !(delim >= 0x30 && delim <= 0x39) &&
    delim !== 0x2d &&
    delim !== 0x2e &&
    delim !== 0x2b
  );
}

/**
 * Generated code shared with subscriber-rows.ts. The scanning functions name their
 * locals alike: b, p, len, c, s (a field's first byte), v, q (1 in a quoted field),
 * lastYmd and lastDay (the last date and its day number), dayNumber, records (taken so far in this call).
 */

/**
 * The record of each call (counted from 0) that takes the ways the others rarely need: the id table's lookup
 * (nearId), a day parsed anew (sameDay) and its day number (dateSource), the count of a run of one period
 * (countThenFold). V8 compiles a scanning function after its first records, from what its code did until then, and
 * throws the compiled code away (then runs slower code until it has compiled it again, up to 100 ms of a background
 * thread) when a way that had not run comes; and it records nothing of a function's first few records. This one
 * runs early in every call, so those ways have run by then. The results are those of the usual ways: the lookup
 * finds the same key, the day is the same day, the run's rows are counted in two parts.
 */
const WARM_RECORD = 32;

/**
 * A field may be quoted: its value is read between the quotes, which must close it.
 * (Every read is bounds-checked: a read past the end deoptimizes the function.)
 */
export const OPEN_QUOTE = '  q = 0; if (p < len && b[p] === 34) { q = 1; p++; }';

/** A quoted field ends with its closing quote (a doubled quote is left to the scanner). */
export function closeQuote(bail: string): string {
  return `  if (q === 1) { if (c !== 34 || p + 1 >= len) ${bail} c = b[++p]; if (c === 34) ${bail} }`;
}

/** Past a text field to its end: the delimiter, or the closing quote (quoted, the delimiter may be part of the value). */
export function toFieldEnd(delim: number, bail: string): string[] {
  return [
    '  if (q === 1) { while (p < len && ((c = b[p]) > 34 || (c !== 34 && c !== 10 && c !== 13))) p++; }',
    `  else while (p < len && ((c = b[p]) > 34 ? c !== ${delim} : c !== ${delim} && c !== 34 && c !== 10 && c !== 13)) p++;`,
    `  if (p >= len) ${bail}`,
  ];
}

/**
 * A day (YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD → day number) or a month (YYYY-MM, YYYY/MM,
 * YYYYMM → month index) at p into v, p past it and c the byte after it. With '-' or
 * '/' after the year the separated form (the same separator twice in a day), else the
 * compact one. The forms and values of isoDayAt/parseDayField and parseMonthField.
 */
export function dateSource(day: boolean, bail: string): string[] {
  const w = day ? 10 : 7;
  // Every digit is computed whatever the form (all its bytes lie before len), and a form only chooses among them:
  // arithmetic in a branch that had not run when V8 compiled the function (a compact date among separated ones)
  // would throw the compiled code away.
  const L = [
    `  if (p + ${w} >= len) ${bail}`,
    '  { const y0 = b[p] - 48, y1 = b[p + 1] - 48, y2 = b[p + 2] - 48, y3 = b[p + 3] - 48, sep = b[p + 4], d4 = sep - 48, d5 = b[p + 5] - 48, d6 = b[p + 6] - 48;',
    `    let w = ${w}, m0 = d5, m1 = d6;`,
    `    if (sep !== 45 && sep !== 47) { w = ${day ? 8 : 6}; m0 = d4; m1 = d5; }`,
    `    if ((y0 >>> 0) > 9 || (y1 >>> 0) > 9 || (y2 >>> 0) > 9 || (y3 >>> 0) > 9 || (m0 >>> 0) > 9 || (m1 >>> 0) > 9) ${bail}`,
    '    const y = ((y0 * 10 + y1) * 10 + y2) * 10 + y3, m = m0 * 10 + m1;',
  ];
  if (day) {
    L.push(
      '    const d7 = b[p + 7] - 48, d8 = b[p + 8] - 48, d9 = b[p + 9] - 48;',
      '    let e0 = d6, e1 = d7;',
      `    if (w === 10) { if (d7 !== d4) ${bail} e0 = d8; e1 = d9; }`,
      `    if ((e0 >>> 0) > 9 || (e1 >>> 0) > 9) ${bail}`,
      '    const ymd = (y * 100 + m) * 100 + e0 * 10 + e1;',
      `    if (records === ${WARM_RECORD} || ymd !== lastYmd) { lastYmd = ymd; lastDay = dayNumber(y, m, e0 * 10 + e1); }`,
      `    v = lastDay; if (v !== v) ${bail}`,
    );
  } else {
    L.push(`    if (y < ${MIN_YEAR} || y > ${MAX_YEAR} || m < 1 || m > 12) ${bail}`, '    v = y * 12 + (m - 1);');
  }
  L.push('    p += w; c = b[p]; }');
  return L;
}

/**
 * Rows counted per period (day or month) by the scanning function itself, before the
 * fold: most rows of a measure extract fall on periods no feature reads, and for them
 * counting is all there is to do (no fold call, no generic loops per row).
 */
export interface PeriodCounts {
  /** The values slot of the period. */
  slot: number;
  /** Rows of key k at counts[k - base], and of them the marked ones at marks[k - base]. */
  base: number;
  counts: Float64Array;
  marks: Float64Array;
  /** A row is marked when the sum of these slots' values (added in this order) is above 0; none: never. */
  markSlots: readonly number[];
  /** Counts a row whose key lies outside counts. */
  other: (key: number, marked: boolean) => void;
  /** Only rows with a key in [from, to] go on to the fold. */
  from: number;
  to: number;
}

type Scan = (b: Uint8Array, p: number, len: number) => number;
type Factory = (
  ids: IdTable,
  batch: IdBatch,
  fold: (values: Float64Array, idx: number) => void,
  dayNumber: (y: number, m: number, d: number) => number,
  pow10: number[],
  values: Float64Array,
  state: PlainRows,
  period: PeriodCounts | null,
  plainKeys: PlainKeys | null,
) => Scan;

const factories = new Map<string, Factory>();

/** The source of the scanning function for a layout (see the module comment for what it takes). */
function source(columns: readonly Column[], delim: number, period: PeriodCounts | null): string {
  const last = columns.length - 1;
  const bail = '{ p = r0; break records; }';
  const slots = [...new Set(columns.filter((c) => c.kind !== Kind.Id && c.kind !== Kind.Skip).map((c) => Math.trunc(c.slot)))];
  const width = Math.max(1, ...columns.map((c) => Math.trunc(c.slot) + 1));
  // Rows in no order: the records of a batch are parsed first, then their ids resolved
  // and the records folded in order (unsorted-ids.ts); k records of it taken.
  const taken = (k: string) => `bn = 0; if (${k} < n0) { p = br[${k}]; lines = bl[${k}]; records -= n0 - ${k};`;
  // Rows counted by runs of one day in the scanning loop: daily extracts come sorted by
  // day; monthly ones mostly by subscriber, whose month changes every row (a run each).
  const byRuns = period !== null && columns.some((c) => c.kind === Kind.Day && Math.trunc(c.slot) === Math.trunc(period.slot));
  const fold = (idx: string, run = false) => (period === null ? [`  fold(values, ${idx});`] : countThenFold(period, idx, run && byRuns));
  const L: string[] = [
    'const bs = batch.starts, be = batch.ends, br = batch.rows, bl = batch.lines, bv = batch.values, bi = batch.idx, bneed = batch.need;',
    'const pc = period, pBase = pc?.base ?? 0, pCounts = pc?.counts, pMarks = pc?.marks, pSize = pCounts?.length ?? 0;',
    'const pOther = pc?.other, pFrom = pc?.from ?? 0, pTo = pc?.to ?? 0;',
    'const kb = plainKeys?.keys, kw = plainKeys?.width ?? 0, kn = ids.n, kd = kb && new DataView(kb.buffer, kb.byteOffset, kb.byteLength);',
    // A run of rows of one period counted at once (rows, and of them the marked).
    'function countRun(key, n, m) {',
    '  const ck = key - pBase;',
    '  if (ck >= 0 && ck < pSize) { pCounts[ck] += n; pMarks[ck] += m; } else for (let i = 0; i < n; i++) pOther(key, i < m);',
    '}',
    'function foldBatch(b, n) {',
    // Records of periods that are only counted need no index, only a known id.
    ...(period === null
      ? ['  const k = batch.resolve(ids, b, n);']
      : [
          `  for (let r = 0; r < n; r++) { const key = bv[r * ${width} + ${Math.trunc(period.slot)}]; bneed[r] = key >= pFrom && key <= pTo ? 1 : 0; }`,
          '  const k = batch.resolve(ids, b, n, true);',
        ]),
    '  for (let r = 0; r < k; r++) {',
    ...slots.map((slot) => `    values[${slot}] = bv[r * ${width} + ${slot}];`),
    ...fold('bi[r]'),
    '  }',
    '  return k;',
    '}',
    'return function scan(b, p, len) {',
    'let records = 0, lines = 0, c = 0, lastYmd = state.lastYmd, lastDay = state.lastDay, hint = state.hint;',
    'const batched = batch.on, hashed0 = ids.hashed, bd = new DataView(b.buffer, b.byteOffset, b.byteLength);',
    // (rk starts as an int32 too, see countThenFold; any start is right: a run counts nothing until its first row, rn = 0.)
    'let bn = 0, w0 = -1, w1 = -1, w2 = -1, rk = 0, rn = 0, rm = 0;',
    'records: while (p < len) {',
    // An empty line is skipped; a line starting with CR goes to the scanner.
    '  c = b[p];',
    '  if (c === 10) { lines++; p++; continue; }',
    '  if (c === 13) break;',
    '  const r0 = p;',
    '  let idx = -1, s = 0, v = 0, q = 0;',
  ];
  columns.forEach((col, f) => {
    const scale = Math.trunc(col.scale);
    const slot = Math.trunc(col.slot);
    if (!(scale >= 0 && scale <= 15 && slot >= 0 && slot < 64)) throw new Error('PlainRows: bad column');
    L.push(`  // field ${f}`, '  v = 0;', OPEN_QUOTE, '  s = p;');
    switch (col.kind) {
      case Kind.Number:
      case Kind.OptionalNumber:
        L.push(
          '  if (p < len && b[p] === 45) p++;',
          '  { const d0 = p;',
          '    while (p < len && (c = b[p] - 48) >= 0 && c <= 9) { v = v * 10 + c; p++; }',
          `    let n = p - d0, k = ${scale};`,
          '    if (p < len && b[p] === 46) { const f0 = ++p; while (k > 0 && p < len && (c = b[p] - 48) >= 0 && c <= 9) { v = v * 10 + c; p++; k--; } n += p - f0; }',
          `    if (p >= len) ${bail}`,
          col.kind === Kind.Number ? `    if (n === 0 || n > 15) ${bail}` : `    if (n === 0 ? p !== s : n > 15) ${bail}`,
          // The missing decimals' power of ten as a constant (the same double as POW10[k]).
          `    if (k > 0) { v *= ${powersOfTen(scale)}; if (v > 9007199254740992) ${bail} }`,
          col.nonNegative ? `    if (d0 > s && v !== 0) ${bail}` : '    if (d0 > s && v !== 0) v = -v;',
          '    c = b[p]; }',
        );
        break;
      case Kind.Day:
        L.push(...sameDay(dateSource(true, bail)));
        break;
      case Kind.Month:
        L.push(...dateSource(false, bail));
        break;
      case Kind.Id:
        L.push(...nearId(delim, bail), '  else {', ...toFieldEnd(delim, bail));
        L.push(
          `  if (p === s || b[s] <= 32 || b[s] >= 128 || b[p - 1] <= 32 || b[p - 1] >= 128) ${bail}`,
          `  if (batched) { bs[bn] = s; be[bn] = p; } else { idx = ids.find(b, s, p); if (idx < 0) ${bail} hint = idx; } }`,
        );
        break;
      case Kind.Skip:
        L.push(...toFieldEnd(delim, bail));
        break;
      default:
        throw new Error('PlainRows: bad column kind');
    }
    L.push(closeQuote(bail));
    // The field must end with the delimiter, the last one with LF or CR LF.
    if (f < last) L.push(`  if (c !== ${delim}) ${bail}`, '  p++;');
    else L.push(`  if (c === 10) p++; else if (c === 13 && p + 1 < len && b[p + 1] === 10) p += 2; else ${bail}`);
    if (col.kind !== Kind.Id && col.kind !== Kind.Skip) L.push(`  values[${slot}] = v;`);
  });
  L.push(
    '  if (batched) {',
    '    br[bn] = r0; bl[bn] = lines;',
    ...slots.map((slot) => `    bv[bn * ${width} + ${slot}] = values[${slot}];`),
    '    lines++; records++;',
    `    if (++bn === ${BATCH}) { const n0 = bn, k = foldBatch(b, n0); ${taken('k')} break records; } }`,
    '    continue;',
    '  }',
    '  lines++;',
    '  records++;',
    ...fold('idx', true),
    '}',
    'if (rn > 0) countRun(rk, rn, rm);',
    `if (bn > 0) { const n0 = bn, k = foldBatch(b, n0); ${taken('k')} } }`,
    'else if (!batched) batch.observe(ids.hashed - hashed0, records);',
    // The table's next lookup (the general reader's, for a record left here) starts at the last key found here.
    'if (!batched) ids.foundAt(hint);',
    'state.lastYmd = lastYmd; state.lastDay = lastDay; state.hint = hint;',
    'state.records += records; state.lines += lines;',
    'return p;',
    '};',
  );
  return L.join('\n');
}

/** POW10[k] for k in 1..scale, as an expression of k (k is 1 with scale 1). */
function powersOfTen(scale: number): string {
  let e = `${POW10[1]}`;
  for (let k = 2; k <= scale; k++) e = `(k === ${k} ? ${POW10[k]} : ${e})`;
  return e;
}

/**
 * The subscriber id of a sorted extract, found without walking the field to its end
 * or calling the table: where every key has one width and only plain bytes (see
 * plainKeys), the field's first `width` bytes are compared with the key of the row
 * before and the few after it (as IdTable.find would first), and the byte after them
 * must end the field. Anything else (another width, a key further on, rows looked up
 * a batch at a time) takes the field walk and the table's lookup. On a match both give
 * the same end and index: a key holds no delimiter, quote, CR, LF, space or non-ASCII
 * byte, so the walk stops at the same byte and the id checks pass.
 */
function nearId(delim: number, bail: string): string[] {
  return [
    `  if (kw > 0 && !batched && s + kw < len && b[s + kw] === (q === 1 ? 34 : ${delim})) {`,
    '    idx = -1;',
    // WARM_RECORD takes the table's lookup below, not the window.
    `    for (let i = hint < 0 ? 0 : hint, o = i * kw, e = records === ${WARM_RECORD} ? 0 : i + ${WINDOW + 1} < kn ? i + ${WINDOW + 1} : kn; i < e; i++, o += kw) {`,
    // Four bytes at a time from the end (where ids differ); the first four last, over
    // bytes already compared where the width is not a multiple of four (kw >= 4: kd and
    // bd are read in bounds); narrower keys byte by byte.
    '      let k = kw - 4;',
    '      while (k > 0 && kd.getUint32(o + k) === bd.getUint32(s + k)) k -= 4;',
    '      if (k > 0) continue;',
    '      if (kw >= 4) { if (kd.getUint32(o) !== bd.getUint32(s)) continue; }',
    '      else { k = kw - 1; while (k >= 0 && kb[o + k] === b[s + k]) k--; if (k >= 0) continue; }',
    '      idx = i; break;',
    '    }',
    // Past the window: the table's lookup, from the key this scan found last (not the table's own last find).
    `    if (idx < 0) { ids.foundAt(hint); idx = ids.findHashed(b, s, s + kw); if (idx < 0) ${bail} }`,
    '    hint = idx; p = s + kw; c = b[p];',
    '  }',
  ];
}

/**
 * A day written with the same ten bytes as the last one parsed (YYYY-MM-DD or
 * YYYY/MM/DD: rows of one day come together) is that day: compared as three words,
 * not parsed again. `parse` (dateSource) starts at p; the bytes kept are dropped
 * before it runs and kept again only once it has taken a separated date, so they
 * always name lastDay (a compact date, 8 bytes, is never kept).
 */
function sameDay(parse: string[]): string[] {
  return [
    `  if (p + 10 < len && records !== ${WARM_RECORD} && bd.getUint32(p) === w0 && bd.getUint32(p + 4) === w1 && bd.getUint16(p + 8) === w2) { v = lastDay; p += 10; c = b[p]; }`,
    '  else { const p0 = p; w0 = -1;',
    ...parse,
    '    if (p - p0 === 10) { w0 = bd.getUint32(p0); w1 = bd.getUint32(p0 + 4); w2 = bd.getUint16(p0 + 8); } }',
  ];
}

/** A table's keys when they all have one width and hold only bytes a plain id field can (nearId), else null. */
export interface PlainKeys {
  keys: Uint8Array;
  width: number;
}

/** Per keys array, the bytes that occur in its keys (a table's keys do not change once it is looked up in). */
const keyBytes = new WeakMap<Uint8Array, Uint8Array>();

function plainKeys(ids: IdTable, delim: number): PlainKeys | null {
  const { keys, width, digits } = ids.hashIndex();
  if (width === 0 || ids.n === 0) return null;
  // Keys of digits alone hold none of the bytes below (a delimiter is never a digit: fastDelimiter),
  // and reading every byte of them took ~40 ms a thread at 1M.
  if (digits) return { keys, width };
  let seen = keyBytes.get(keys);
  if (seen === undefined) {
    seen = new Uint8Array(256);
    const end = ids.n * width;
    for (let i = 0; i < end; i++) seen[keys[i]!] = 1;
    keyBytes.set(keys, seen);
  }
  for (let c = 0; c < 256; c++) if (seen[c] === 1 && (c <= 32 || c >= 128 || c === 34 || c === delim)) return null;
  return { keys, width };
}

/**
 * The count of a row (values filled, subscriber `idx`) by its period, then the fold
 * where its period is read (see PeriodCounts). `run`: in the scanning loop, rows of
 * one period in a row (a file sorted by day) are counted once the run ends (rk, rn,
 * rm; countRun), not one by one.
 */
function countThenFold(period: PeriodCounts, idx: string, run: boolean): string[] {
  const slot = Math.trunc(period.slot);
  const marks = period.markSlots.map(Math.trunc);
  if (!(slot >= 0 && slot < 64) || !marks.every((m) => m >= 0 && m < 64)) throw new Error('PlainRows: bad period');
  const marked = marks.length === 0 ? 'false' : `0 + ${marks.map((m) => `values[${m}]`).join(' + ')} > 0`;
  const count = run
    ? [
        // The run's key kept as an int32 (a period is a whole number of days or months): as the double read from
        // values, it reached countRun boxed after the loop, where V8 had only seen small integers, and threw the
        // compiled function away at each call's end.
        // (WARM_RECORD ends the run and starts another of the same key: the counts add up the same.)
        `    if (records === ${WARM_RECORD} || key !== rk) { if (rn > 0) countRun(rk, rn, rm); rk = key | 0; rn = 0; rm = 0; }`,
        marks.length === 0 ? '    rn++;' : `    rn++; if (${marked}) rm++;`,
      ]
    : [
        `    const ck = key - pBase, marked = ${marked};`,
        '    if (ck >= 0 && ck < pSize) { pCounts[ck]++; if (marked) pMarks[ck]++; } else pOther(key, marked);',
      ];
  return [`  { const key = values[${slot}];`, ...count, `    if (key >= pFrom && key <= pTo) fold(values, ${idx}); }`];
}

/**
 * A FastRows for a layout: `columns[f]` says what field f of a record is; a record
 * taken calls fold(values, subscriber index). The delimiter must pass fastDelimiter.
 */
export class PlainRows implements FastRows {
  records = 0;
  lines = 0;
  /** The last date parsed and its day number (runs of one date are common). */
  lastYmd = -1;
  lastDay = NaN;
  /** The index of the last id found (nearId). */
  hint = -1;
  readonly scan: Scan;
  /** The batched lookups of rows in no order (unsorted-ids.ts). */
  readonly batch: IdBatch;

  /**
   * `valueCount`: the length of the values the fold reads (slots of absent columns stay 0);
   * `batched`: look ids up a batch at a time (true), one at a time (false), or as the rows' order says (undefined; tests force it);
   * `period`: rows counted per period here, and only those of the periods given passed to the fold (see PeriodCounts).
   */
  constructor(
    columns: readonly Column[],
    valueCount: number,
    delim: number,
    ids: IdTable,
    fold: (values: Float64Array, idx: number) => void,
    batched?: boolean,
    period: PeriodCounts | null = null,
  ) {
    if (!fastDelimiter(delim)) throw new Error('PlainRows: the delimiter can occur in a value');
    const src = source(columns, delim, period);
    let factory = factories.get(src);
    if (factory === undefined) {
      factory = new Function('ids', 'batch', 'fold', 'dayNumber', 'pow10', 'values', 'state', 'period', 'plainKeys', src) as Factory;
      factories.set(src, factory);
    }
    const values = new Float64Array(Math.max(1, valueCount, ...columns.map((c) => c.slot + 1)));
    this.batch = new IdBatch(values.length, batched);
    this.scan = factory(ids, this.batch, fold, dayNumber, POW10, values, this, period, plainKeys(ids, delim));
  }
}
