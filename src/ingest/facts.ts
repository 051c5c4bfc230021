/**
 * The fact extracts, folded into per-subscriber arrays as their rows stream past:
 * no row is kept once it has been added to its subscriber's sums.
 *
 * The readers need only the subscriber keys (the id table and the count), so they
 * run the same way in the main thread and in a worker (see fact-jobs.ts). Row
 * handlers parse straight from the record's bytes; a string is made only for the
 * raw value of a rejected row. The billing and usage readers sum the numeric columns
 * the contract declares (its column measures, then those a rule pack declares): a new
 * measure needs no code here.
 */
import { featureKey, type FeatureRequest } from '../rules/catalogue.js';
import type { ScaledColumn } from '../rules/compile.js';
import {
  ACTIVITY_MEASURE,
  CONTACT_OUTCOMES,
  DERIVED_MEASURES,
  RENEWED_TRUE,
  RENEWED_VALUES,
  TICKET_KINDS,
  extractSpec,
  foldColumns,
  measureScale,
  oneOf,
  type FoldColumn,
  type MeasureExtract,
} from '../contract/contract.js';
import {
  fieldEquals,
  fieldIsEmpty,
  fieldString,
  parseDayField,
  parseMonthField,
  parseScaled,
  timeOfDayField,
  type RecordView,
} from './csv-scan.js';
import { enumBytes, fieldEnum, fieldPhone, fieldTrimmed } from './fields.js';
import { ID_EMPTY, IdTable, fieldKey } from './id-table.js';
import { DEFAULT_COUNTRY_CODE, PHONE_KEY_BYTES, phoneKeyBytes } from '../util/phone.js';
import { fastDelimiter, Kind, PlainRows, type Column, type PeriodCounts } from './plain-rows.js';
import type { InputOptions } from './layout.js';
import type { RejectCode, RejectLog } from './rejects.js';
import type { ByteRange } from './read-extract.js';
import { readTable, type FileStats, type Reject } from './table-reader.js';
import { readWideRows, widePeriods } from './wide-rows.js';
import type { SubscriberTable } from './subscribers.js';
import { writableRows } from '../util/pages.js';

const encoder = new TextEncoder();

/** What a fact reader needs of the subscriber table. */
export interface SubscriberKeys {
  n: number;
  idTable: IdTable;
}

/** Optional reader settings. */
export interface FactReadOptions {
  onRows?: (rows: number, bytes: number) => void;
  /** Use the fast path for plain records (plain-rows.ts); default true. Tests turn it off to compare. */
  plain?: boolean;
  /** Bytes per read (tests). */
  chunkSize?: number;
  /**
   * Read one byte range of a measure extract (billing, usage): the reader returns a
   * MeasurePart, which billingMerge / usageMerge fold together in range order.
   * `index` 0 is the range that starts the file.
   */
  range?: ByteRange & { header: string[] | null; index: number; hashWhole?: boolean };
}

/** How a fact row's subscriber_id is rejected (the raw value of an unknown one is the trimmed id). */
export const SUBSCRIBER_REJECTS = {
  empty: { column: 'subscriber_id', code: 'CW_ROW_EMPTY_FIELD', reason: 'subscriber_id is empty' },
  unknown: { column: 'subscriber_id', code: 'CW_ROW_UNKNOWN_SUBSCRIBER', reason: 'subscriber_id is not in subscribers.csv' },
} as const;

/** The subscriber index of field `col`, or -1 after rejecting the row. */
function subscriberOf(ids: IdTable, rec: RecordView, col: number, reject: Reject): number {
  const idx = ids.findField(rec, col);
  if (idx >= 0) return idx;
  const { empty, unknown } = SUBSCRIBER_REJECTS;
  if (idx === ID_EMPTY) reject(empty.column, empty.code, empty.reason, '');
  else reject(unknown.column, unknown.code, unknown.reason, fieldString(rec, col).trim());
  return -1;
}

/**
 * An optional numeric column: 0 when the column is absent or the cell empty, NaN when
 * unparsable. (Parses first: an empty cell never parses, so the emptiness check only
 * runs for cells that fail.)
 */
function optionalScaled(rec: RecordView, col: number, scale: number, thousands: boolean): number {
  if (col < 0) return 0;
  const v = parseScaled(rec, col, scale, thousands);
  return v === v || !fieldIsEmpty(rec, col) ? v : 0;
}

/**
 * Rejects a count, minutes or a volume below 0 (-0 is 0): such a value would cancel
 * real activity out of a sum (a negative data_mb made a subscriber look silent).
 * Amounts may be negative (credits), so they never come here.
 */
function rejectNegative(rec: RecordView, col: number, column: string, reject: Reject): false {
  return reject(column, 'CW_ROW_NEGATIVE', negativeReason(column), fieldString(rec, col));
}

export function negativeReason(column: string): string {
  return `${column} is below 0; counts, minutes and volumes cannot be`;
}

/** The reason of CW_ROW_BAD_NUMBER for a fold column. (A count read with decimals, as usage's are, has always been called "not a number": rejects.csv keeps its words.) */
export function badNumberReason(f: FoldColumn): string {
  return f.unit === 'money'
    ? `${f.column} is not an amount in yuan with at most ${f.scale} decimals`
    : f.scale === 0
      ? `${f.column} is not a whole number`
      : f.unit === 'count'
        ? `${f.column} is not a number`
        : `${f.column} is not a number with at most ${f.scale} decimals`;
}

/**
 * Exact duplicates among the rows of one subscriber and day (or month): the first
 * row's hash is kept per key, and a later row with the same values counts. That
 * finds every repeat of a key's first row, whatever the order (a file delivered
 * twice, concatenated or interleaved), for a 4-byte word per subscriber and key
 * rather than a set of all rows. (Repeats of a key's second or later line are not
 * counted: a lower bound where a subscriber has several lines a month.)
 */
function isRepeat(first: Int32Array, idx: number, h: number): boolean {
  const f = first[idx]!;
  if (f === 0) first[idx] = h;
  return f === h;
}

/**
 * The rows of a byte range after the first that follow a subscriber's first row of
 * the range in a month or day, as (subscriber, hash) pairs. Whether such a row repeats
 * the subscriber's first row *of the file* is known only once the earlier ranges are
 * read (PartsMerge). Few in practice: one row per subscriber and day is the rule.
 */
class LaterRows {
  pairs = new Int32Array(64);
  n = 0;

  push(idx: number, h: number): void {
    if (this.n + 2 > this.pairs.length) {
      const grown = new Int32Array(this.pairs.length * 2);
      grown.set(this.pairs);
      this.pairs = grown;
    }
    this.pairs[this.n++] = idx;
    this.pairs[this.n++] = h;
  }

  done(): Int32Array {
    return this.pairs.slice(0, this.n);
  }
}

/**
 * The ids of a file that has one row per id (a ticket, a contract): a later row with
 * an id already seen is a repeat, rejected so that it is not counted twice (as a
 * repeated subscriber_id in subscribers.csv keeps the first row).
 *
 * Exports number these ids in order: while each id sorts after the one before, it
 * cannot repeat one, and it is only appended (a hash insert per row cost several
 * times more, in cache misses); the first id out of order builds the index, and every
 * id from there on is looked up in it.
 */
class SeenIds {
  private readonly ids = new IdTable(1024);
  private sorted = true;
  repeats = 0;

  /** Rejects the row and returns false when its id (field `col`) was seen before. */
  accept(rec: RecordView, col: number, column: string, reject: Reject): boolean {
    const ids = this.ids;
    const before = ids.n;
    const key = fieldKey(rec, col);
    if (key !== null && this.sorted) {
      if (ids.appendAbove(key.b, key.s, key.e) >= 0) return true;
      this.sorted = false;
      ids.buildIndex();
    }
    if (key !== null) ids.insert(key.b, key.s, key.e);
    if (ids.n > before) return true;
    this.repeats++;
    return reject(
      column,
      'CW_ROW_DUPLICATE_ID',
      `${column} repeats an earlier row's; one row per id is expected, and the first is kept`,
      fieldString(rec, col),
    );
  }
}

const INT32_MIN = -(2 ** 31),
  INT32_MAX = 2 ** 31 - 1;

/**
 * Sums made in whole units of 10^-scale, kept as they are with their divisor: as Int32
 * when every one fits (checked exactly, before anything is copied), else in the
 * doubles they were made in. Either way the rules read values[i] / unit, the double
 * the sum divided once used to be, so nothing downstream sees another number.
 */
export function scaledSums(a: Sums, unit: number): ScaledColumn {
  // Made in Int32 throughout (see Sums): every sum fits, nothing to check or copy.
  if (a instanceof Int32Array) return { values: a, unit };
  // Checked and narrowed in one pass (a check pass, then Int32Array.from, read the
  // doubles twice: ~40% more time, on the main thread after the ranges are merged).
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!(v >= INT32_MIN && v <= INT32_MAX)) return { values: a, unit };
    out[i] = v;
  }
  return { values: out, unit };
}

/**
 * A column's sums while a file is read, in whole units of 10^-scale: Int32 while every
 * partial sum fits, widened to the doubles they would have been by the first that does
 * not (addSum, addColumns). Int32 halves the pages the folds touch (each a page fault at
 * first write: 8 MB a column per 1M subscribers became 4) and spares scaledSums its
 * copy; the values, and so the column scaledSums returns, are those of sums made in
 * doubles, since every partial sum is a whole number either way.
 */
type Sums = Int32Array | Float64Array;

/** sums[j][idx] += x, widening column j to doubles when the new sum leaves Int32 (or is not whole). */
function addSum(sums: (Sums | null)[], j: number, idx: number, a: Sums, x: number): void {
  const s = a[idx]! + x;
  if ((s | 0) === s || a.BYTES_PER_ELEMENT === 8) a[idx] = s;
  else (sums[j] = Float64Array.from(a))[idx] = s;
}

/** Rows counted per subscriber (tickets, contracts in a window): see Counts. */
export type CountColumn = Uint8Array | Int32Array;

/**
 * A count per subscriber, one byte each while every count is below 255 (at 10M
 * subscribers 30 MB an array less than Int32, for as long as the run lasts); the
 * increment that would reach 256 first widens the array to Int32, values copied, so
 * no count is ever cut.
 */
class Counts {
  a: CountColumn;

  constructor(n: number) {
    this.a = new Uint8Array(n);
  }

  add(idx: number): void {
    let a = this.a;
    if (a[idx] === 255 && a.BYTES_PER_ELEMENT === 1) a = this.a = Int32Array.from(a);
    a[idx]!++;
  }
}

const NON_NEGATIVE = 'non-negative';
type NonNegative = typeof NON_NEGATIVE;

/**
 * The fast path for a layout: `fields` lists (column index, kind, scale) in the order
 * of the values the fold receives (the id's entry gives no value: the fold gets the
 * subscriber index). Absent optional columns (index -1) read as 0. Null when two of
 * them are the same column, or the delimiter can occur in a number or a date
 * (layouts the fast path does not handle).
 */
function plainRows(
  width: number,
  input: InputOptions,
  ids: IdTable,
  fields: [number, Kind, number, NonNegative?][],
  fold: (values: Float64Array, idx: number) => void,
  period: PeriodCounts,
): PlainRows | null {
  const columns: Column[] = Array.from({ length: width }, () => ({ kind: Kind.Skip, slot: 0, scale: 0 }));
  let slot = 0;
  for (const [col, kind, scale, nonNegative] of fields) {
    const at = kind === Kind.Id ? 0 : slot++;
    if (col < 0) continue;
    if (col >= width || columns[col]!.kind !== Kind.Skip) return null;
    columns[col] = { kind, slot: at, scale, nonNegative: nonNegative === NON_NEGATIVE };
  }
  const delim = input.delimiter.charCodeAt(0);
  return fastDelimiter(delim) ? new PlainRows(columns, slot, delim, ids, fold, input.idBatch, period) : null;
}

/**
 * Row counts per day (or month) number, and of them the rows added as marked: a
 * typed array over a window around the run date, a Map for anything outside it.
 * toMap() lists them in ascending order.
 */
class KeyCounts {
  readonly counts: Float64Array;
  /** Of them, the rows added as marked (usage rows with activity). */
  readonly marks: Float64Array;
  private readonly other = new Map<number, number>();
  private readonly otherMarked = new Map<number, number>();

  constructor(
    readonly base: number,
    size: number,
  ) {
    this.counts = new Float64Array(size);
    this.marks = new Float64Array(size);
  }

  /** This, as the fast path counts into it (markSlots, from, to: see PeriodCounts). */
  period(markSlots: readonly number[], from: number, to: number): PeriodCounts {
    const other = (key: number, marked: boolean) => this.add(key, marked);
    return { slot: 0, base: this.base, counts: this.counts, marks: this.marks, markSlots, other, from, to };
  }

  add(key: number, marked = false): void {
    const k = key - this.base;
    if (k >= 0 && k < this.counts.length) {
      this.counts[k]!++;
      if (marked) this.marks[k]!++;
    } else {
      this.other.set(key, (this.other.get(key) ?? 0) + 1);
      if (marked) this.otherMarked.set(key, (this.otherMarked.get(key) ?? 0) + 1);
    }
  }

  toMap(marked = false): Map<number, number> {
    const counts = marked ? this.marks : this.counts;
    const all: [number, number][] = [...(marked ? this.otherMarked : this.other)];
    for (let k = 0; k < counts.length; k++) if (counts[k]! > 0) all.push([k + this.base, counts[k]!]);
    return new Map(all.sort((a, b) => a[0] - b[0]));
  }
}

// ---------------------------------------------------------------- billing and usage

/**
 * The numeric columns of a monthly or daily extract, as the contract declares them
 * (foldColumns: the built-in measures' columns, then the pack's), with their
 * positions in a header. Both readers parse the cells of every one of them into
 * `values` (slot 0 is the month or day, slot 1 + j column j), exactly as the fast
 * path fills its values, so that both fold the same way.
 */
class MeasureCells {
  readonly folds: FoldColumn[];
  readonly values: Float64Array;
  private readonly bad: string[];
  private readonly thousands: boolean;

  constructor(
    readonly extract: MeasureExtract,
    input: InputOptions,
  ) {
    this.thousands = input.thousands;
    this.folds = foldColumns(extract, input.measures);
    this.values = new Float64Array(Math.max(HASHED, 1 + this.folds.length));
    this.bad = this.folds.map(badNumberReason);
  }

  /** The header positions of the columns (-1: absent, read as 0). */
  positions(c: Record<string, number>): number[] {
    return this.folds.map((f) => c[f.column]!);
  }

  /**
   * The fast path's field list after the id and the month or day field, padded with
   * absent columns (0) to the values' length, so that valuesHash reads no slot beyond it.
   */
  fastFields(at: number[]): [number, Kind, number, NonNegative?][] {
    const fields: [number, Kind, number, NonNegative?][] = this.folds.map((f, j) => [
      at[j]!,
      f.required ? Kind.Number : Kind.OptionalNumber,
      f.scale,
      f.nonNegative ? NON_NEGATIVE : undefined,
    ]);
    while (fields.length < this.values.length - 1) fields.push([-1, Kind.OptionalNumber, 0]);
    return fields;
  }

  /** Parses the columns of a record into values[1..]; false after rejecting the row. */
  parse(rec: RecordView, at: number[], reject: Reject): boolean {
    const folds = this.folds;
    for (let j = 0; j < folds.length; j++) {
      const f = folds[j]!,
        col = at[j]!;
      let v: number;
      if (f.required) {
        v = parseScaled(rec, col, f.scale, this.thousands);
        if (v !== v && fieldIsEmpty(rec, col)) return reject(f.column, 'CW_ROW_EMPTY_FIELD', `${f.column} is empty`, '');
      } else {
        v = optionalScaled(rec, col, f.scale, this.thousands);
      }
      if (v !== v) return reject(f.column, 'CW_ROW_BAD_NUMBER', this.bad[j]!, fieldString(rec, col));
      if (v < 0 && f.nonNegative) return rejectNegative(rec, col, f.column, reject);
      this.values[1 + j] = v;
    }
    return true;
  }
}

const HASH_MULTIPLIERS = [0x9e3779b1, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f];
/** The values always hold at least the month or day and four numbers (0 where there are fewer columns). */
const HASHED = 5;

/**
 * A 32-bit hash of a fact row's numbers (values[1..], scaled integers, as if there
 * were at least four: 0 for the missing ones), never 0 (0 marks "no row yet"). Rows
 * of one subscriber and day (or month) are compared by it, so two rows count as the
 * same only if all their numbers are equal, or in 1 case of 2^32.
 */
function valuesHash(v: Float64Array): number {
  const a = v[1]!;
  let h = Math.imul((a | 0) ^ ((a / 4294967296) | 0), 0x9e3779b1);
  h = Math.imul(h ^ (v[2]! | 0), 0x85ebca6b);
  h = Math.imul(h ^ (v[3]! | 0), 0xc2b2ae35);
  h = Math.imul(h ^ (v[4]! | 0), 0x27d4eb2f);
  for (let j = HASHED; j < v.length; j++) h = Math.imul(h ^ (v[j]! | 0), HASH_MULTIPLIERS[(j - 1) & 3]!);
  h ^= h >>> 15;
  return h === 0 ? 1 : h;
}

/** 10^scale: what a sum made in units of 10^-scale is divided by at the end. */
function unitOf(scale: number): number {
  return 10 ** scale;
}

/** Per measure name, the sums of one month or day (see scaledSums); only the measures a feature reads are there. */
export type MeasureSums = Record<string, ScaledColumn>;

export interface BillingFold {
  /** Sums for the months a run can read, i.e. the newest months before the run month that a feature reads. */
  months: Map<number, MeasureSums>;
  /** Accepted rows per bill month over the whole extract, whether kept or not (the month gates read it). */
  rowsPerMonth: Map<number, number>;
}

/** The period column of a measure extract: how it is read, and how a bad cell is rejected. */
export interface PeriodColumn {
  column: 'bill_month' | 'usage_date';
  kind: typeof Kind.Month | typeof Kind.Day;
  parse: (rec: RecordView, col: number) => number;
  code: RejectCode;
  reason: string;
}

export const BILL_MONTH: PeriodColumn = {
  column: 'bill_month',
  kind: Kind.Month,
  parse: parseMonthField,
  code: 'CW_ROW_BAD_MONTH',
  reason: 'bill_month is not a month (YYYY-MM or YYYYMM)',
};
export const USAGE_DATE: PeriodColumn = {
  column: 'usage_date',
  kind: Kind.Day,
  parse: parseDayField,
  code: 'CW_ROW_BAD_DATE',
  reason: 'usage_date is not a date',
};

/**
 * How a measure extract's rows are counted per period before they are folded: every
 * accepted row in `counts` (marked when the values at `markSlots` add up to more than
 * 0), and only those of periods in [from, to] passed on to the fold.
 */
interface Counted {
  counts: KeyCounts;
  markSlots: readonly number[];
  from: number;
  to: number;
}

/**
 * Reads a measure extract (billing_monthly or usage_daily): every accepted row is
 * counted (see Counted) and those of the periods read go to `add` as the cells' values
 * with values[0] its period, from the general handler or from the fast path for plain
 * records, which read the same columns and count the rows themselves; or, when the
 * configuration lays the extract out wide, from wide-rows.ts (`latest`: the period of
 * M0 or d0 there).
 */
function readMeasureRows(
  path: string,
  file: string,
  input: InputOptions,
  rejects: RejectLog,
  ids: IdTable,
  cells: MeasureCells,
  period: PeriodColumn,
  fold: (idx: number, values: Float64Array) => void,
  counted: Counted,
  opts: FactReadOptions,
  latest: number,
): Promise<FileStats> {
  const { counts, markSlots, from, to } = counted;
  const add = (idx: number, v: Float64Array): void => {
    const key = v[0]!;
    let marked = 0;
    for (let j = 0; j < markSlots.length; j++) marked += v[markSlots[j]!]!;
    counts.add(key, marked > 0);
    if (key >= from && key <= to) fold(idx, v);
  };
  const layout = input.wide?.[cells.extract];
  if (layout !== undefined) {
    const periods = widePeriods(cells.extract, layout, cells.folds, latest, input);
    return readWideRows(path, file, input, rejects, cells, periods, (rec, col, reject) => subscriberOf(ids, rec, col, reject), add, opts);
  }
  const values = cells.values;
  return readTable(
    path,
    file,
    cells.extract,
    input,
    rejects,
    (c) => {
      const cId = c.subscriber_id!,
        cPeriod = c[period.column]!,
        at = cells.positions(c);
      return (rec, reject) => {
        const idx = subscriberOf(ids, rec, cId, reject);
        if (idx < 0) return false;
        const key = period.parse(rec, cPeriod);
        if (key !== key) return reject(period.column, period.code, period.reason, fieldString(rec, cPeriod));
        if (!cells.parse(rec, at, reject)) return false;
        values[0] = key;
        add(idx, values);
        return true;
      };
    },
    {
      onRows: opts.onRows,
      chunkSize: opts.chunkSize,
      range: opts.range,
      // The first range hashes the whole file for the manifest, unless a hash job did.
      hashWhole: opts.range?.index === 0 && opts.range.hashWhole !== false,
      fast:
        opts.plain === false
          ? undefined
          : (c, width) =>
              plainRows(
                width,
                input,
                ids,
                [[c.subscriber_id!, Kind.Id, 0], [c[period.column]!, period.kind, 0], ...cells.fastFields(cells.positions(c))],
                (v, idx) => fold(idx, v),
                counts.period(markSlots, from, to),
              ),
    },
  );
}

/** A month's or day's arrays while a reader adds rows to them (MonthState, DayState). */
interface PeriodArrays {
  sums: (Sums | null)[];
  /** Usage's derived measures (activity), added after the row's sums. */
  derived?: (Sums | null)[];
  first: Int32Array;
  later: LaterRows | null;
  /** Per block of 2^TOUCH_SHIFT subscribers, 1 once its pages of every array are mapped (touchBlock). */
  touched: Uint8Array;
}

/** Subscribers per block whose pages are written before any of them is read: an Int32 page's worth. */
const TOUCH_SHIFT = 10;

/** A period's arrays for n subscribers, none of their pages mapped yet (touchBlock maps them). */
function periodArrays(n: number, sums: (Sums | null)[]): Pick<PeriodArrays, 'sums' | 'first' | 'touched'> {
  return { sums, first: new Int32Array(n), touched: new Uint8Array((n >>> TOUCH_SHIFT) + 1) };
}

/**
 * Maps the pages of block k of every array of `state` for writing, before a row of the
 * block first reads them (util/pages.ts writableRows says why), instead of every page of
 * the arrays when they are made: a reader of one byte range of a file sorted by
 * subscriber reaches its own share of the subscribers only, and each range has arrays of
 * its own (at 10M subscribers, mapped whole they were ~0.5 GiB more at the ingest's peak).
 * No cell of the block was written yet in any of the arrays: the stores keep their zeros.
 */
function touchBlock(state: PeriodArrays, k: number): void {
  state.touched[k] = 1;
  const from = k << TOUCH_SHIFT,
    to = Math.min(state.first.length, from + (1 << TOUCH_SHIFT));
  writableRows(state.first, from, to);
  for (const a of state.sums) if (a !== null) writableRows(a, from, to);
  if (state.derived) for (const a of state.derived) if (a !== null) writableRows(a, from, to);
}

/**
 * Adds one row's values (v[1 + j] to column j's sums, where kept) and says whether the
 * row repeats the subscriber's first row in this month or day (see isRepeat).
 */
function addToSums(state: PeriodArrays, idx: number, v: Float64Array): boolean {
  if (state.touched[idx >>> TOUCH_SHIFT] === 0) touchBlock(state, idx >>> TOUCH_SHIFT);
  let repeat: boolean;
  if (state.later === null) {
    repeat = isRepeat(state.first, idx, valuesHash(v));
  } else {
    const h = valuesHash(v);
    if (state.first[idx] === 0) state.first[idx] = h;
    else state.later.push(idx, h);
    repeat = false;
  }
  const sums = state.sums;
  for (let j = 0; j < sums.length; j++) {
    const a = sums[j]!;
    if (a !== null) addSum(sums, j, idx, a, v[j + 1]!);
  }
  return repeat;
}

/**
 * One month's or day's state of one byte range, unfinished (sums still in units of
 * 10^-scale). `later`: the range's LaterRows pairs, null for the first range (which
 * counted its repeats itself). `retired`: a month the range stopped keeping (only
 * its first rows are left).
 */
export interface PeriodPart {
  key: number;
  sums: (Sums | null)[];
  derived: (Sums | null)[];
  first: Int32Array;
  later: Int32Array | null;
  retired: boolean;
}

/** What a reader of one byte range of billing or usage returns (see billingMerge, usageMerge). */
export interface MeasurePart {
  states: PeriodPart[];
  /** Accepted rows per month or day, and of them the active ones (usage). */
  counts: Map<number, number>;
  marked: Map<number, number>;
  /** Repeats counted in the range itself (the first range only). */
  duplicates: number;
  /** The newest month before the run month seen (billing), -Infinity for usage. */
  newest: number;
}

function part(
  key: number,
  st: { sums: (Sums | null)[]; derived?: (Sums | null)[]; first: Int32Array; later: LaterRows | null },
  retired: boolean,
): PeriodPart {
  return {
    key,
    sums: retired ? st.sums.map(() => null) : st.sums,
    derived: st.derived ?? [],
    first: st.first,
    later: st.later?.done() ?? null,
    retired,
  };
}

/**
 * The subscribers a state has rows for lie in [lo, hi] (first[i] is set for every row
 * added at i, and a row's hash is never 0): outside it every sum is 0. A sorted
 * extract's range holds a slice of the subscribers (or, sorted by day, none or all of
 * a day's), so a merge over the span touches only that slice, and a state that has no
 * rows yet is replaced rather than added to (its never-written pages stay unmapped).
 */
function spanOf(first: Int32Array): [number, number] {
  let lo = 0,
    hi = first.length - 1;
  while (lo <= hi && first[lo] === 0) lo++;
  while (hi >= lo && first[hi] === 0) hi--;
  return [lo, hi];
}

/**
 * a += b over [lo, hi] where both are kept; null where either is not (a range stops
 * keeping a column only where the file's reader would). An Int32 column is widened to
 * doubles where a sum leaves Int32, as addSum does. a is 0 outside [from, to] (where
 * its state has rows, see spanOf): there b is copied, in one move when both are of a
 * kind (0 + b[i] is b[i]: a sum is never -0).
 */
function addColumns(a: (Sums | null)[], b: (Sums | null)[], lo: number, hi: number, from: number, to: number): void {
  for (let j = 0; j < a.length; j++) {
    let x = a[j]!;
    const y = b[j];
    if (!x || !y) {
      a[j] = null;
      continue;
    }
    let i = lo,
      end = hi;
    if (x.constructor === y.constructor) {
      [i, end] = copyOutside(x, y, lo, hi, from, to);
    }
    if (x instanceof Int32Array) {
      for (; i <= end; i++) {
        const s = x[i]! + y[i]!;
        if ((s | 0) !== s) break;
        x[i] = s;
      }
      if (i <= end) x = a[j] = Float64Array.from(x);
    }
    for (; i <= end; i++) x[i] += y[i]!;
  }
}

/**
 * Copies y into x over the parts of [lo, hi] outside [from, to] and returns the part
 * left, [lo, hi] ∩ [from, to] (empty when they do not meet). A range of a file sorted
 * by subscriber holds other subscribers than the ranges before it: all is copied.
 */
function copyOutside<T extends Int32Array | Float64Array>(x: T, y: T, lo: number, hi: number, from: number, to: number): [number, number] {
  const p = Math.max(lo, from),
    q = Math.min(hi, to);
  if (p > q) {
    if (lo <= hi) x.set(y.subarray(lo, hi + 1), lo);
    return [lo, lo - 1];
  }
  if (lo < p) x.set(y.subarray(lo, p), lo);
  if (q < hi) x.set(y.subarray(q + 1, hi + 1), q + 1);
  return [p, q];
}

/** b where both are kept, null where either is not (addColumns onto a state with no rows). */
function takeColumns(a: (Sums | null)[], b: (Sums | null)[]): void {
  for (let j = 0; j < a.length; j++) a[j] = a[j] && b[j] ? b[j] : null;
}

function addCounts(into: Map<number, number>, from: Map<number, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

type MergedState = Omit<PeriodPart, 'later' | 'retired' | 'key'> & { lo: number; hi: number };

/**
 * Folds the parts of one file's byte ranges together, one at a time in range order
 * (as each range is read, so that at most the ranges being read are held besides the
 * merge), into what one reader of the whole file would have made. Sums are exact
 * (whole units of 10^-scale), so their order does not matter. Repeats: a subscriber's
 * first row of the file is the first row of the earliest range that has one; a later
 * range's first row, and its LaterRows, are compared with it. `kept(key, newestBefore)`:
 * whether the file's reader still kept that month when the range began (the newest
 * month of the earlier ranges decides); every row of a month not kept then was dropped
 * by it too.
 */
class PartsMerge {
  readonly states = new Map<number, MergedState>();
  readonly counts = new Map<number, number>();
  readonly marked = new Map<number, number>();
  duplicates = 0;
  newest = -Infinity;

  constructor(private readonly kept: (key: number, newestBefore: number) => boolean) {}

  /** The next range's part (range order). Its arrays are let go here: the caller may still hold the part. */
  add(p: MeasurePart): void {
    addCounts(this.counts, p.counts);
    addCounts(this.marked, p.marked);
    this.duplicates += p.duplicates;
    for (const st of p.states) {
      if (!this.kept(st.key, this.newest)) continue;
      const m = this.states.get(st.key);
      const [lo, hi] = spanOf(st.first);
      let first: Int32Array;
      if (m === undefined) {
        this.states.set(st.key, { sums: st.sums, derived: st.derived, first: st.first, lo, hi });
        first = st.first;
      } else if (m.lo > m.hi) {
        takeColumns(m.sums, st.sums);
        takeColumns(m.derived, st.derived);
        m.first = first = st.first;
        m.lo = lo;
        m.hi = hi;
      } else {
        addColumns(m.sums, st.sums, lo, hi, m.lo, m.hi);
        addColumns(m.derived, st.derived, lo, hi, m.lo, m.hi);
        first = m.first;
        const f = st.first;
        // Outside the merge's span first[] is 0: the range's hashes are copied, none can repeat one.
        const [from, to] = copyOutside(first, f, lo, hi, m.lo, m.hi);
        for (let i = from; i <= to; i++) {
          const h = f[i]!;
          if (h === 0) continue;
          if (first[i] === 0) first[i] = h;
          else if (first[i] === h) this.duplicates++;
        }
        if (lo <= hi) {
          m.lo = Math.min(m.lo, lo);
          m.hi = Math.max(m.hi, hi);
        }
      }
      const later = st.later;
      if (later !== null) for (let k = 0; k < later.length; k += 2) if (first[later[k]!] === later[k + 1]) this.duplicates++;
    }
    this.newest = Math.max(this.newest, p.newest);
    // At 10M every range's part is a full set of sums and first-row hashes, ~1 GB.
    p.states = [];
  }
}

/** A merge of a measure extract's range parts, fed in range order (see PartsMerge). */
export interface MeasureMerge {
  add(part: MeasurePart): void;
  finish(): { fold: { billing?: BillingFold; usage?: UsageFold }; duplicates: number };
}

/** The billing fold of a file read in byte ranges (see readBilling, PartsMerge). */
export function billingMerge(input: InputOptions, windows: BillingWindows): MeasureMerge {
  const folds = foldColumns('billing_monthly', input.measures);
  const width = folds.map((f) => windows[f.measure] ?? 0);
  const window = Math.max(1, ...width);
  const merged = new PartsMerge((month, newestBefore) => month > newestBefore - window);
  return {
    add: (part) => merged.add(part),
    finish: () => {
      const months = new Map<number, MeasureSums>();
      for (const [m, st] of merged.states) {
        if (m <= merged.newest - window) continue;
        const kept = st.sums.map((a, j) => (m > merged.newest - width[j]! ? a : null));
        // finished() lets go of each double as it narrows it; the state must not keep it either.
        st.sums.fill(null);
        months.set(m, finished(folds, kept));
      }
      return { fold: { billing: { months, rowsPerMonth: sortedMap(merged.counts) } }, duplicates: merged.duplicates };
    },
  };
}

/** The usage fold of a file read in byte ranges (see readUsage, PartsMerge). */
export function usageMerge(input: InputOptions): MeasureMerge {
  const folds = foldColumns('usage_daily', input.measures);
  const merged = new PartsMerge(() => true);
  return {
    add: (part) => merged.add(part),
    finish: () => {
      const days = new Map<number, MeasureSums>();
      for (const [k, st] of merged.states) days.set(k, finishedDay(folds, st, input));
      const usage = { rowsPerDay: sortedMap(merged.counts), activeRowsPerDay: sortedMap(merged.marked), days };
      return { fold: { usage }, duplicates: merged.duplicates };
    },
  };
}

function sortedMap(m: Map<number, number>): Map<number, number> {
  return new Map([...m].sort((a, b) => a[0] - b[0]));
}

/** A kept month while the file is read: per column, its sums or null, and each subscriber's first row (see isRepeat). */
type MonthState = PeriodArrays;

/**
 * Values by month, in an array over the 20 years before the run month (a Map for
 * anything outside it): looked up once per billing row.
 */
class MonthSlots<T> {
  private readonly base: number;
  private readonly slots: (T | undefined)[] = new Array(MONTH_SLOTS).fill(undefined);
  private readonly other = new Map<number, T>();

  constructor(asOfMonth: number) {
    this.base = asOfMonth - MONTH_SLOTS + 16;
  }

  get(month: number): T | undefined {
    const k = month - this.base;
    return k >= 0 && k < MONTH_SLOTS ? this.slots[k] : this.other.get(month);
  }

  set(month: number, value: T): void {
    const k = month - this.base;
    if (k >= 0 && k < MONTH_SLOTS) this.slots[k] = value;
    else this.other.set(month, value);
  }

  delete(month: number): void {
    const k = month - this.base;
    if (k >= 0 && k < MONTH_SLOTS) this.slots[k] = undefined;
    else this.other.delete(month);
  }
}

const MONTH_SLOTS = 256;

/**
 * How many of the newest months before the run month (M0, M1, …) to keep per
 * measure: 1 + the largest Mk a feature reads, 0 (or absent) for a measure no
 * feature reads. (M0 is the newest bill month before the run month, so these are
 * known only at the end; a month older than the newest seen by the window is never
 * needed again.)
 */
export type BillingWindows = Record<string, number>;

export async function readBilling(...args: Parameters<typeof foldBilling>): Promise<{ fold: BillingFold; stats: FileStats }> {
  const r = await foldBilling(...args);
  return { fold: r.fold!, stats: r.stats };
}

/** readBilling, or with opts.range one range's MeasurePart (see billingMerge). */
export async function foldBilling(
  path: string,
  file: string,
  input: InputOptions,
  subs: SubscriberKeys,
  rejects: RejectLog,
  asOfMonth: number,
  windows: BillingWindows,
  opts: FactReadOptions = {},
): Promise<{ fold?: BillingFold; part?: MeasurePart; stats: FileStats }> {
  const months = new Map<number, MonthState>();
  const rowsPerMonth = new KeyCounts(asOfMonth - 240, 256);
  // Looked for in the months kept (those the run reads, at least M0), where a repeat would change a sum.
  let duplicates = 0;
  const n = subs.n;
  const ids = subs.idTable;
  const cells = new MeasureCells('billing_monthly', input);
  const folds = cells.folds;
  const width = folds.map((f) => windows[f.measure] ?? 0);
  const window = Math.max(1, ...width);
  let newest = -Infinity;
  // The sums of the month of the previous row (rows of one month often come together).
  let lastMonth = -1;
  let last: MonthState | undefined;
  // The kept months by month (a Map lookup per row cost as much as the row's sums:
  // a subscriber's rows come month after month, so the month changes every row).
  const byMonth = new MonthSlots<MonthState>(asOfMonth);
  const range = opts.range;
  // A range after the first keeps the first rows of the months it stops keeping: they
  // may still count repeats in PartsMerge (the months are dropped there when the
  // earlier ranges' newest month says the file's reader never kept them).
  const retired: { month: number; state: MonthState }[] = [];
  const laterRows = () => (range !== undefined && range.index > 0 ? new LaterRows() : null);
  // Not inside add: a closure there over its month would make every call allocate a context (~40 bytes a row).
  const newMonth = (month: number): MonthState => {
    const state = {
      ...periodArrays(
        n,
        width.map((w) => (month > newest - w ? new Int32Array(n) : null)),
      ),
      later: laterRows(),
    };
    months.set(month, state);
    byMonth.set(month, state);
    return state;
  };
  /** Folds one accepted row of a month before the run month (from the handler or the fast path): v[0] the month, v[1 + j] column j. */
  const add = (idx: number, v: Float64Array): void => {
    // A month is a small whole number: kept as one (a double in a closure's variable or a Map key is a heap number per row).
    const month = v[0]! | 0;
    let state: MonthState | undefined;
    if (month === lastMonth) {
      state = last!;
    } else {
      if (month > newest) {
        newest = month;
        for (const [m, old] of months) {
          if (m <= newest - window) {
            months.delete(m);
            byMonth.delete(m);
            if (old.later !== null) retired.push({ month: m, state: old });
          }
          for (let j = 0; j < width.length; j++) if (m <= newest - width[j]!) old.sums[j] = null;
        }
      }
      if (month <= newest - window) return;
      state = byMonth.get(month) ?? newMonth(month);
      lastMonth = month;
      last = state;
    }
    if (addToSums(state, idx, v)) duplicates++;
  };
  // M0 of a wide layout is the month before the run month.
  const counted = { counts: rowsPerMonth, markSlots: [], from: -Infinity, to: asOfMonth - 1 };
  const stats = await readMeasureRows(path, file, input, rejects, ids, cells, BILL_MONTH, add, counted, opts, asOfMonth - 1);
  if (range !== undefined) {
    const states = [...retired.map((r) => part(r.month, r.state, true)), ...[...months].map(([m, st]) => part(m, st, false))];
    return { part: { states, counts: rowsPerMonth.toMap(), marked: new Map(), duplicates, newest }, stats };
  }
  const out = new Map<number, MeasureSums>();
  for (const [m, { sums }] of months) out.set(m, finished(folds, sums));
  return { fold: { months: out, rowsPerMonth: rowsPerMonth.toMap() }, stats: { ...stats, duplicates } };
}

/** The sums by measure name, with their divisor into units (made in units of 10^-scale). */
function finished(folds: FoldColumn[], sums: (Sums | null)[]): MeasureSums {
  const out: MeasureSums = {};
  folds.forEach((f, j) => {
    const a = sums[j];
    if (!a) return;
    // The doubles are let go as each is narrowed: one measure's copy at a time.
    sums[j] = null;
    out[f.measure] = scaledSums(a, unitOf(f.scale));
  });
  return out;
}

// ---------------------------------------------------------------- usage

const USAGE_DERIVED = DERIVED_MEASURES.filter((d) => d.extract === 'usage_daily');

export interface UsageFold {
  /** Accepted rows per usage day over the whole extract (the day-completeness gate reads it). */
  rowsPerDay: Map<number, number>;
  /** Of those, rows whose activity (calls, SMS and data) is above 0 (the dead-feed gate reads it). */
  activeRowsPerDay: Map<number, number>;
  /** Per day offset k (day D-k), per measure: sums (made exactly in units of the scale, divided at the end). */
  days: Map<number, MeasureSums>;
}

/**
 * Sums for one wanted day, per fold column and per derived measure (null where no
 * feature reads the measure), with each subscriber's first row of the day (see isRepeat).
 */
type DayState = PeriodArrays & { derived: (Sums | null)[] };

export async function readUsage(...args: Parameters<typeof foldUsage>): Promise<{ fold: UsageFold; stats: FileStats }> {
  const r = await foldUsage(...args);
  return { fold: r.fold!, stats: r.stats };
}

/** readUsage, or with opts.range one range's MeasurePart (see usageMerge). */
export async function foldUsage(
  path: string,
  file: string,
  input: InputOptions,
  subs: SubscriberKeys,
  rejects: RejectLog,
  asOf: number,
  wanted: Map<number, Set<string>>,
  opts: FactReadOptions = {},
): Promise<{ fold?: UsageFold; part?: MeasurePart; stats: FileStats }> {
  const range = opts.range;
  const rowsPerDay = new KeyCounts(asOf - 1000, 1024 + 64);
  // Looked for on the days the run reads, where a repeat would change a sum.
  let duplicates = 0;
  const cells = new MeasureCells('usage_daily', input);
  const folds = cells.folds;
  const derivedOf = USAGE_DERIVED;
  // Values slots of each derived measure's parts, and of the activity that marks a row active.
  const slotOf = (measure: string) => 1 + folds.findIndex((f) => f.measure === measure);
  const partSlots = derivedOf.map((d) => Int32Array.from(d.sumOf, slotOf));
  const activeSlots = partSlots[derivedOf.findIndex((d) => d.name === ACTIVITY_MEASURE)]!;
  const days = new Map<number, MeasureSums>();
  const states = new Map<number, DayState>();
  // byOffset[k - kMin] = the sums for day D-k.
  const kMin = Math.min(0, ...wanted.keys());
  const kMax = Math.max(0, ...wanted.keys());
  const byOffset: (DayState | null)[] = new Array(kMax - kMin + 1).fill(null);
  for (const [k, measures] of wanted) {
    const array = (m: string) => (measures.has(m) ? new Int32Array(subs.n) : null);
    const state: DayState = {
      ...periodArrays(
        subs.n,
        folds.map((f) => array(f.measure)),
      ),
      derived: derivedOf.map((d) => array(d.name)),
      later: range !== undefined && range.index > 0 ? new LaterRows() : null,
    };
    states.set(k, state);
    byOffset[k - kMin] = state;
  }
  const ids = subs.idTable;
  /** Folds one accepted row of a day the run reads (from the handler or the fast path): v[0] the day, v[1 + j] column j. */
  const add = (idx: number, v: Float64Array): void => {
    const day = v[0]!;
    const k = asOf - day - kMin;
    if (k >= 0 && k < byOffset.length) {
      const state = byOffset[k]!;
      if (state !== null) {
        if (addToSums(state, idx, v)) duplicates++;
        const derived = state.derived;
        for (let d = 0; d < derived.length; d++) {
          const a = derived[d]!;
          if (a === null) continue;
          const parts = partSlots[d]!;
          let sum = 0;
          for (let p = 0; p < parts.length; p++) sum += v[parts[p]!]!;
          addSum(derived, d, idx, a, sum);
        }
      }
    }
  };
  // Rows with activity are marked (the dead-feed gate counts them); only days D-kMax..D-kMin are folded.
  const counted = { counts: rowsPerDay, markSlots: [...activeSlots], from: asOf - kMax, to: asOf - kMin };
  const stats = await readMeasureRows(path, file, input, rejects, ids, cells, USAGE_DATE, add, counted, opts, asOf);
  if (range !== undefined) {
    const parts = [...states].map(([k, st]) => part(k, st, false));
    return { part: { states: parts, counts: rowsPerDay.toMap(), marked: rowsPerDay.toMap(true), duplicates, newest: -Infinity }, stats };
  }
  for (const [k, state] of states) days.set(k, finishedDay(folds, state, input));
  return { fold: { rowsPerDay: rowsPerDay.toMap(), activeRowsPerDay: rowsPerDay.toMap(true), days }, stats: { ...stats, duplicates } };
}

/** A day's sums by measure name, derived measures included, divided into units. */
function finishedDay(folds: FoldColumn[], state: Pick<DayState, 'sums' | 'derived'>, input: InputOptions): MeasureSums {
  const sums = finished(folds, state.sums);
  USAGE_DERIVED.forEach((d, j) => {
    const a = state.derived[j];
    if (!a) return;
    state.derived[j] = null;
    sums[d.name] = scaledSums(a, unitOf(measureScale(d, input.measures)));
  });
  return sums;
}

// ---------------------------------------------------------------- tickets

export type TicketRequest = Extract<FeatureRequest, { source: 'tickets' }>;

const TICKET_KIND_BYTES = enumBytes(TICKET_KINDS);
/** One row per ticket: the contract's unique key of the extract. */
const TICKET_ID = extractSpec('tickets').uniqueKey!;

export async function readTickets(
  path: string,
  file: string,
  input: InputOptions,
  subs: SubscriberKeys,
  rejects: RejectLog,
  asOf: number,
  requests: TicketRequest[],
  opts: FactReadOptions = {},
): Promise<{ counts: Map<string, CountColumn>; stats: FileStats }> {
  const plans = requests.map((r) => ({
    key: featureKey(r),
    kind: r.kind === 'any' ? -1 : (TICKET_KINDS as readonly string[]).indexOf(r.kind),
    from: asOf + r.from,
    to: asOf + r.to,
    a: new Counts(subs.n),
  }));
  const ids = subs.idTable;
  const seen = new SeenIds();
  const stats = await readTable(
    path,
    file,
    'tickets',
    input,
    rejects,
    (c) => {
      const cTicket = c[TICKET_ID]!,
        cId = c.subscriber_id!,
        cCreated = c.created_at!,
        cKind = c.kind!;
      return (rec, reject) => {
        if (fieldIsEmpty(rec, cTicket)) return reject(TICKET_ID, 'CW_ROW_EMPTY_FIELD', `${TICKET_ID} is empty`, '');
        const idx = subscriberOf(ids, rec, cId, reject);
        if (idx < 0) return false;
        const day = parseDayField(rec, cCreated);
        if (day !== day)
          return reject('created_at', 'CW_ROW_BAD_DATE', 'created_at is not a date or date-time', fieldString(rec, cCreated));
        let kind = -1;
        for (let k = 0; k < TICKET_KIND_BYTES.length; k++)
          if (fieldEquals(rec, cKind, TICKET_KIND_BYTES[k]!)) {
            kind = k;
            break;
          }
        if (kind < 0) {
          kind = fieldEnum(rec, cKind, TICKET_KINDS, TICKET_KIND_BYTES);
          if (kind < 0) return reject('kind', 'CW_ROW_BAD_ENUM', `kind must be one of ${TICKET_KINDS.join(', ')}`, fieldString(rec, cKind));
        }
        if (!seen.accept(rec, cTicket, TICKET_ID, reject)) return false;
        for (let j = 0; j < plans.length; j++) {
          const p = plans[j]!;
          if ((p.kind < 0 || p.kind === kind) && day >= p.from && day <= p.to) p.a.add(idx);
        }
        return true;
      };
    },
    { onRows: opts.onRows },
  );
  const counts = new Map(plans.map((p) => [p.key, p.a.a]));
  return { counts, stats: { ...stats, duplicates: seen.repeats } };
}

// ---------------------------------------------------------------- contracts

export type ContractRequest = Extract<FeatureRequest, { source: 'contracts' }>;

/** How many of the first kinds KindCodes compares byte by byte. */
const KNOWN_KINDS = 8;

/**
 * Contract kinds (a field's trimmed text) → codes in order of first appearance, as
 * IdTable.insertField numbers them. An export has a handful of kinds in no order, so
 * the first few are compared byte by byte before the table is asked: its hash and
 * probe, every row, cost more than all the row's other checks but the scan.
 */
export class KindCodes {
  private readonly table = new IdTable(64);
  private readonly known: Uint8Array[] = [];

  /** The code of field `col`'s kind, ID_EMPTY when it is empty after trimming. */
  codeOf(rec: RecordView, col: number): number {
    const t = fieldKey(rec, col);
    if (t === null) return ID_EMPTY;
    const { b, s, e } = t;
    const known = this.known;
    for (let k = 0; k < known.length; k++) {
      const w = known[k]!;
      if (w.length !== e - s) continue;
      let i = 0;
      while (i < w.length && w[i] === b[s + i]) i++;
      if (i === w.length) return k;
    }
    const k = this.table.insert(b, s, e);
    if (k === known.length && k < KNOWN_KINDS) known.push(b.slice(s, e));
    return k;
  }
}

/** renewed: `trim().toLowerCase()` of one of the contract's values, 1 for those that mean yes. */
const RENEWED_BYTES = enumBytes(RENEWED_VALUES);
const RENEWED_VALUE = RENEWED_VALUES.map((v) => (RENEWED_TRUE.includes(v) ? 1 : 0));

/** One row per contract. */
const CONTRACT_ID = extractSpec('contracts').uniqueKey!;

export async function readContracts(
  path: string,
  file: string,
  input: InputOptions,
  subs: SubscriberKeys,
  rejects: RejectLog,
  asOf: number,
  requests: ContractRequest[],
  opts: FactReadOptions = {},
): Promise<{ counts: Map<string, CountColumn>; stats: FileStats }> {
  const expiring = requests
    .filter((r) => r.which === 'expiring')
    .map((r) => ({ key: featureKey(r), from: asOf + r.from, to: asOf + r.to, a: new Counts(subs.n) }));
  const lapsedReqs = requests.filter((r) => r.which === 'lapsed');
  // Contract kinds (trimmed text) → small codes, 0 for an empty kind.
  const kinds = new KindCodes();
  // (subscriber, kind) pairs with a contract ending on or after D: a flag per
  // subscriber for each of the first few kinds, a set beyond them.
  const runningByKind: Uint8Array[] = [];
  const runningOther = new Set<string>();
  const RUNNING_ARRAYS = 16;
  const isRunning = (idx: number, kind: number) =>
    kind < RUNNING_ARRAYS ? runningByKind[kind]?.[idx] === 1 : runningOther.has(`${idx}:${kind}`);
  const candidates: { idx: number; kind: number; end: number }[] = [];
  const lapsedFrom = Math.min(...lapsedReqs.map((r) => asOf + r.from));
  const lapsedTo = Math.max(...lapsedReqs.map((r) => asOf + r.to));
  const ids = subs.idTable;
  const seen = new SeenIds();

  const stats = await readTable(
    path,
    file,
    'contracts',
    input,
    rejects,
    (c) => {
      const cContract = c[CONTRACT_ID]!,
        cId = c.subscriber_id!,
        cStart = c.start_date!,
        cEnd = c.end_date!,
        cRenewed = c.renewed!,
        cKind = c.kind!;
      return (rec, reject) => {
        if (fieldIsEmpty(rec, cContract)) return reject(CONTRACT_ID, 'CW_ROW_EMPTY_FIELD', `${CONTRACT_ID} is empty`, '');
        const idx = subscriberOf(ids, rec, cId, reject);
        if (idx < 0) return false;
        const start = parseDayField(rec, cStart);
        if (start !== start) return reject('start_date', 'CW_ROW_BAD_DATE', 'start_date is not a date', fieldString(rec, cStart));
        const end = parseDayField(rec, cEnd);
        if (end !== end) return reject('end_date', 'CW_ROW_BAD_DATE', 'end_date is not a date', fieldString(rec, cEnd));
        if (end < start) return reject('end_date', 'CW_ROW_END_BEFORE_START', 'end_date is before start_date', fieldString(rec, cEnd));
        const r = fieldEnum(rec, cRenewed, RENEWED_VALUES, RENEWED_BYTES);
        if (r < 0) return reject('renewed', 'CW_ROW_BAD_ENUM', `renewed must be ${oneOf(RENEWED_VALUES)}`, fieldString(rec, cRenewed));
        if (!seen.accept(rec, cContract, CONTRACT_ID, reject)) return false;
        const renewed = RENEWED_VALUE[r]!;
        if (renewed === 0) for (const e of expiring) if (end >= e.from && end <= e.to) e.a.add(idx);
        if (lapsedReqs.length > 0) {
          const k = cKind >= 0 ? kinds.codeOf(rec, cKind) : ID_EMPTY;
          const kind = k === ID_EMPTY ? 0 : k + 1;
          if (end >= asOf) {
            if (kind < RUNNING_ARRAYS) (runningByKind[kind] ??= new Uint8Array(subs.n))[idx] = 1;
            else runningOther.add(`${idx}:${kind}`);
          } else if (renewed === 0 && end >= lapsedFrom && end <= lapsedTo) {
            candidates.push({ idx, kind, end });
          }
        }
        return true;
      };
    },
    { onRows: opts.onRows },
  );
  const counts = new Map<string, CountColumn>(expiring.map((e) => [e.key, e.a.a]));
  for (const r of lapsedReqs) {
    const a = new Counts(subs.n);
    const from = asOf + r.from,
      to = asOf + r.to;
    for (const cand of candidates) {
      if (cand.end >= from && cand.end <= to && !isRunning(cand.idx, cand.kind)) a.add(cand.idx);
    }
    counts.set(featureKey(r), a.a);
  }
  return { counts, stats: { ...stats, duplicates: seen.repeats } };
}

// ---------------------------------------------------------------- do-not-call and contact history

/** Bits of the do-not-call filter (readDoNotCall): 2^20 bits, 128 KB, about 1% of unlisted numbers pass it at 10k listed. */
const TAIL_BITS = 20;

/** The bytes of a phone key's tail (tailOf). */
const TAIL = 6;

/** A phone key's filter bit: its last TAIL bytes (the number's last digits, which tell numbers apart best) mixed into TAIL_BITS. */
function tailOf(b: Uint8Array, s: number, e: number): number {
  let v = 0;
  for (let k = Math.max(s, e - TAIL); k < e; k++) v = v * 16 + b[k]!;
  return Math.imul(v, 0x9e3779b1) >>> (32 - TAIL_BITS);
}

/** b[s..e) ends in TAIL digits. */
function endsInDigits(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < TAIL) return false;
  for (let k = e - TAIL; k < e; k++) if (b[k]! < 0x30 || b[k]! > 0x39) return false;
  return true;
}

export async function readDoNotCall(
  path: string,
  file: string,
  input: InputOptions,
  subs: Pick<SubscriberTable, 'n' | 'msisdn'>,
  rejects: RejectLog,
  opts: FactReadOptions = {},
): Promise<{ flags: Uint8Array; stats: FileStats }> {
  // Numbers are compared by their E.164 form (phoneKeyBytes), as bytes: no string per subscriber.
  const cc = encoder.encode(input.defaultCountryCode ?? DEFAULT_COUNTRY_CODE);
  const scratch = new Uint8Array(PHONE_KEY_BYTES),
    key = new Uint8Array(PHONE_KEY_BYTES);
  const listed = new IdTable(1024);
  // The listed keys' tails as bits: nearly every subscriber is not listed, and the bit
  // says so in one read, where a lookup in `listed` would hash the key and probe (1M
  // subscribers against a 10k-number list: ~80 ms before, most of it misses).
  const tails = new Int32Array(1 << (TAIL_BITS - 5));
  // When every listed key ends in TAIL digits, a number written so ends in its key's
  // tail (the key is what is left after a prefix and the separators are taken off):
  // the filter is then asked before the key is made.
  let writtenTails = true;
  const stats = await readTable(
    path,
    file,
    'do_not_call',
    input,
    rejects,
    (c) => {
      const cPhone = c.msisdn!;
      return (rec, reject) => {
        const ok = fieldPhone(rec, cPhone);
        if (ok !== 1)
          return reject(
            'msisdn',
            ok === 0 ? 'CW_ROW_EMPTY_FIELD' : 'CW_ROW_BAD_PHONE',
            'msisdn is not a phone number',
            fieldTrimmed(rec, cPhone),
          );
        const phone = encoder.encode(fieldTrimmed(rec, cPhone));
        const n = phoneKeyBytes(phone, 0, phone.length, cc, scratch, key);
        const kb = n === 0 ? phone : key,
          kn = n === 0 ? phone.length : n;
        listed.insert(kb, 0, kn);
        const t = tailOf(kb, 0, kn);
        tails[t >>> 5]! |= 1 << (t & 31);
        writtenTails &&= endsInDigits(kb, 0, kn);
        return true;
      };
    },
    { mayBeEmpty: true, onRows: opts.onRows },
  );
  // Every subscriber with a listed number is flagged: numbers are recycled, so several may share one.
  const flags = new Uint8Array(subs.n);
  const msisdn = subs.msisdn;
  const listedTail = (t: number) => (tails[t >>> 5]! & (1 << (t & 31))) !== 0;
  if (listed.n > 0) {
    for (let i = 0; i < subs.n; i++) {
      const s = msisdn.start(i),
        e = msisdn.end(i);
      if (writtenTails && endsInDigits(msisdn.bytes, s, e) && !listedTail(tailOf(msisdn.bytes, s, e))) continue;
      const n = phoneKeyBytes(msisdn.bytes, s, e, cc, scratch, key);
      if (n < 0) continue;
      const b = n === 0 ? msisdn.bytes : key,
        ks = n === 0 ? s : 0,
        ke = n === 0 ? e : n;
      if (listedTail(tailOf(b, ks, ke)) && listed.find(b, ks, ke) >= 0) flags[i] = 1;
    }
  }
  return { flags, stats };
}

export interface ContactFold {
  /** Day of the latest earlier contact, NaN where none (Float32: exact for day numbers below 2^24, as the subscribers' dates). */
  lastContact: Float32Array;
  /** Outcome code of that contact (index into CONTACT_OUTCOMES), 255 where none. */
  lastOutcome: Uint8Array;
  /** Unreachable contacts in the ATTEMPT_WINDOW_DAYS days before D (the attempts of the contact policy). */
  attempts: Uint8Array;
  /** Earlier contacts that name the task they answer (task_id not empty), for the outcomes of earlier tasks. */
  taskContacts: { taskId: string[]; outcome: number[]; day: number[] };
}

/** Unreachable contacts older than this no longer count as attempts: an episode that old is over. */
export const ATTEMPT_WINDOW_DAYS = 30;

const OUTCOME_BYTES = enumBytes(CONTACT_OUTCOMES);
const UNREACHABLE = CONTACT_OUTCOMES.indexOf('unreachable');
/**
 * Which of two contacts at the same moment (or on the same day, written without a time)
 * counts as the latest: the more final outcome, so that the answer does not depend on
 * the rows' order in the export. A churn or a retention ends an episode; a refusal
 * outranks a promise to call back, which outranks no answer.
 */
const OUTCOME_FINALITY = Uint8Array.from(CONTACT_OUTCOMES, (o) =>
  ['unreachable', 'callback', 'declined', 'retained', 'churned'].indexOf(o),
);

export async function readContactHistory(
  path: string,
  file: string,
  input: InputOptions,
  subs: SubscriberKeys,
  rejects: RejectLog,
  asOf: number,
  opts: FactReadOptions = {},
): Promise<{ fold: ContactFold; stats: FileStats }> {
  const lastContact = new Float32Array(subs.n).fill(NaN);
  const lastOutcome = new Uint8Array(subs.n).fill(255);
  // The time of day of each latest contact, only while reading: the latest is the latest
  // moment, not the last row of its day.
  const lastTime = new Int32Array(subs.n);
  const attempts = new Uint8Array(subs.n);
  const taskContacts: ContactFold['taskContacts'] = { taskId: [], outcome: [], day: [] };
  const ids = subs.idTable;
  const stats = await readTable(
    path,
    file,
    'contact_history',
    input,
    rejects,
    (c) => {
      const cId = c.subscriber_id!,
        cAt = c.contacted_at!,
        cOutcome = c.outcome!,
        cTask = c.task_id ?? -1;
      return (rec, reject) => {
        const idx = subscriberOf(ids, rec, cId, reject);
        if (idx < 0) return false;
        const day = parseDayField(rec, cAt);
        if (day !== day) return reject('contacted_at', 'CW_ROW_BAD_DATE', 'contacted_at is not a date or date-time', fieldString(rec, cAt));
        const outcome = fieldEnum(rec, cOutcome, CONTACT_OUTCOMES, OUTCOME_BYTES);
        if (outcome < 0)
          return reject('outcome', 'CW_ROW_BAD_ENUM', `outcome must be one of ${CONTACT_OUTCOMES.join(', ')}`, fieldString(rec, cOutcome));
        if (day < asOf) {
          const last = lastContact[idx]!;
          if (!(last >= day)) {
            lastContact[idx] = day;
            lastOutcome[idx] = outcome;
            lastTime[idx] = timeOfDayField(rec, cAt);
          } else if (last === day) {
            const time = timeOfDayField(rec, cAt);
            const was = lastTime[idx]!;
            if (time > was || (time === was && OUTCOME_FINALITY[outcome]! > OUTCOME_FINALITY[lastOutcome[idx]!]!)) {
              lastOutcome[idx] = outcome;
              lastTime[idx] = time;
            }
          }
          if (outcome === UNREACHABLE && day >= asOf - ATTEMPT_WINDOW_DAYS && attempts[idx]! < 255) attempts[idx]!++;
          if (cTask >= 0 && !fieldIsEmpty(rec, cTask)) {
            taskContacts.taskId.push(fieldTrimmed(rec, cTask));
            taskContacts.outcome.push(outcome);
            taskContacts.day.push(day);
          }
        }
        return true;
      };
    },
    { mayBeEmpty: true, onRows: opts.onRows },
  );
  return { fold: { lastContact, lastOutcome, attempts, taskContacts }, stats };
}
