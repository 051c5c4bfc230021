/**
 * A monthly or daily extract exported wide: one row per subscriber, a column per
 * period of each measure (`arpu_6, arpu_7, arpu_8` or `bill_m0..bill_m3`; `calls_d1..`).
 * The run configuration's `input.wide` says which header is which column and period
 * (contract.ts WideLayout). Each record is folded as the rows of the long extract
 * built from the same numbers: one row per period whose cells are not all empty,
 * parsed and checked as that row's cells would be, so the sums, the rows per month or
 * day (the gates' counts) and the repeats come out the same.
 *
 * What differs from the long extract, and why:
 * - a record with one bad cell is rejected whole (a record is accepted or rejected,
 *   never both), naming the wide header as the column;
 * - a period whose header is missing from the file has no rows: the month or day
 *   gates then say which one is incomplete;
 * - a subscriber can have only one row per period (a long extract may split a month).
 */
import { ChurnwatchError } from '../errors.js';
import { foldHeader, widePeriodKey, type FoldColumn, type MeasureExtract, type WideLayout } from '../contract/contract.js';
import { parseDay, parseMonth } from '../util/dates.js';
import { fieldIsEmpty, type RecordView } from './csv-scan.js';
import type { InputOptions } from './layout.js';
import type { RejectLog } from './rejects.js';
import { readTable, type FileStats, type Reject } from './table-reader.js';

/** The numeric cells of a row as facts.ts parses them (its MeasureCells): values[0] the period, values[1 + j] column j. */
export interface WideCells {
  readonly extract: MeasureExtract;
  readonly folds: readonly FoldColumn[];
  readonly values: Float64Array;
  parse(rec: RecordView, at: number[], reject: Reject): boolean;
}

/** One period of the layout: its number (month or day) and, per fold column, the header holding it ('' where none). */
interface WidePeriod {
  period: number;
  key: string;
  headers: string[];
}

function invalid(path: string, message: string): ChurnwatchError {
  return new ChurnwatchError('CW_CONFIG_INVALID', `configuration: ${path}: ${message}`, { path });
}

/**
 * The layout's periods, oldest first. `latest` is the period of M0 or d0: the month
 * before the run month, or the run date. Refused (78) when a key names no column the
 * run folds, two keys name one period, a header is given twice, a period lacks a
 * required column, or a column the pack reads is not mapped at all.
 */
export function widePeriods(
  extract: MeasureExtract,
  layout: WideLayout,
  folds: readonly FoldColumn[],
  latest: number,
  input: InputOptions,
): WidePeriod[] {
  const base = `input.wide.${extract}`;
  const byPeriod = new Map<number, WidePeriod>();
  const headerUse = new Map<string, string>();
  for (const [column, periods] of Object.entries(layout)) {
    const j = folds.findIndex((f) => f.column === column);
    if (j < 0) {
      const known = folds.map((f) => f.column).join(', ');
      throw invalid(
        `${base}.${column}`,
        `${extract} has no numeric column ${column} that this run reads (it reads ${known}); map those, or declare the measure in the rule pack`,
      );
    }
    for (const [key, header] of Object.entries(periods)) {
      const k = widePeriodKey(extract, key)!;
      const period = 'relative' in k ? latest - k.relative : extract === 'billing_monthly' ? parseMonth(k.absolute) : parseDay(k.absolute);
      const p = byPeriod.get(period) ?? { period, key, headers: folds.map(() => '') };
      byPeriod.set(period, p);
      if (p.headers[j] !== '')
        throw invalid(`${base}.${column}.${key}`, `names the same period as ${p.key}; give each period of a column once`);
      const h = foldHeader(header);
      const other = headerUse.get(h);
      if (other !== undefined)
        throw invalid(`${base}.${column}.${key}`, `the header "${header}" is also ${other}; each header holds one column of one period`);
      headerUse.set(h, `${column}.${key}`);
      p.headers[j] = header;
    }
  }
  const periods = [...byPeriod.values()].sort((a, b) => a.period - b.period);
  folds.forEach((f, j) => {
    for (const p of periods) {
      if (f.required && p.headers[j] === '')
        throw invalid(
          `${base}.${f.column}`,
          `period ${p.key} maps ${periodColumns(p, folds)} but not ${f.column}, which every row has; map its header for ${p.key}`,
        );
    }
    const readers = input.needs?.[extract]?.[f.column];
    if (readers && periods.every((p) => p.headers[j] === ''))
      throw invalid(`${base}.${f.column}`, `is not mapped, and ${readers.join(', ')} read it; map its header for each period`);
  });
  if (periods.length === 0) throw invalid(base, 'maps no column; map at least the required ones for each period');
  return periods;
}

const periodColumns = (p: WidePeriod, folds: readonly FoldColumn[]) =>
  folds
    .filter((_, j) => p.headers[j] !== '')
    .map((f) => f.column)
    .join(', ');

/**
 * Reads a wide extract: every period a record has goes to `add` as the long reader's
 * row would (values[0] its period), once all of the record's periods have parsed.
 */
export function readWideRows(
  path: string,
  file: string,
  input: InputOptions,
  rejects: RejectLog,
  cells: WideCells,
  periods: WidePeriod[],
  subscriberOf: (rec: RecordView, col: number, reject: Reject) => number,
  add: (idx: number, values: Float64Array) => void,
  opts: { onRows?: (rows: number, bytes: number) => void; chunkSize?: number },
): Promise<FileStats> {
  const extract = cells.extract;
  const idHeader = input.columns[extract]?.subscriber_id ?? 'subscriber_id';
  // One buffer per period: a record's periods are all parsed before any is added.
  const rows = periods.map(() => new Float64Array(cells.values.length));
  const kept = new Uint8Array(periods.length);
  return readTable(
    path,
    file,
    extract,
    input,
    rejects,
    (c) => {
      const cId = c.subscriber_id!;
      // A period with a header missing from the file has no rows (the gates speak); the others read their headers' fields.
      const present = periods.map((p) => p.headers.every((h) => h === '' || c[foldHeader(h)]! >= 0));
      const at = periods.map((p) => p.headers.map((h) => (h === '' ? -1 : c[foldHeader(h)]!)));
      // The reject of each period, naming the wide header (readTable passes one reject function for the whole file).
      let named: Reject[] | null = null;
      return (rec, reject) => {
        named ??= periods.map(
          (p): Reject =>
            (column, code, reason, raw) =>
              reject(p.headers[cells.folds.findIndex((f) => f.column === column)] || column, code, reason, raw),
        );
        const idx = subscriberOf(rec, cId, reject);
        if (idx < 0) return false;
        for (let q = 0; q < periods.length; q++) {
          kept[q] = 0;
          if (!present[q]) continue;
          const cols = at[q]!;
          let empty = true;
          for (let j = 0; j < cols.length; j++) if (cols[j]! >= 0 && !fieldIsEmpty(rec, cols[j]!)) empty = false;
          if (empty) continue; // no row for this subscriber and period
          if (!cells.parse(rec, cols, named[q]!)) return false;
          rows[q]!.set(cells.values);
          rows[q]![0] = periods[q]!.period;
          kept[q] = 1;
        }
        for (let q = 0; q < periods.length; q++) if (kept[q]) add(idx, rows[q]!);
        return true;
      };
    },
    {
      onRows: opts.onRows,
      chunkSize: opts.chunkSize,
      columns: (header) => wideColumns(header, idHeader, periods, file, extract),
    },
  );
}

/** The positions of the id header and of every header the layout names (-1: absent), by folded name. */
function wideColumns(
  header: string[],
  idHeader: string,
  periods: WidePeriod[],
  file: string,
  extract: MeasureExtract,
): Record<string, number> {
  const firstAt = new Map<string, number>();
  header.forEach((h, i) => {
    const f = foldHeader(h);
    if (f === '') return;
    if (firstAt.has(f)) {
      throw new ChurnwatchError(
        'CW_EXTRACT_DUPLICATE_COLUMN',
        `gate required-columns failed: ${file} line 1 names the column "${h.trim()}" twice (fields ${firstAt.get(f)! + 1} and ${i + 1}); fix the export's header so each name appears once`,
        { file, line: 1, gate: 'required-columns', column: h.trim() },
      );
    }
    firstAt.set(f, i);
  });
  const id = firstAt.get(foldHeader(idHeader)) ?? -1;
  if (id < 0) {
    throw new ChurnwatchError(
      'CW_EXTRACT_MISSING_COLUMN',
      `gate required-columns failed: ${file} line 1 lacks required column subscriber_id${idHeader === 'subscriber_id' ? '' : ` (mapped to "${idHeader}")`}; rename the header or map it under input.columns.${extract} in the configuration`,
      { file, line: 1, gate: 'required-columns', column: 'subscriber_id' },
    );
  }
  const out: Record<string, number> = { subscriber_id: id };
  for (const p of periods) for (const h of p.headers) if (h !== '') out[foldHeader(h)] = firstAt.get(foldHeader(h)) ?? -1;
  return out;
}
