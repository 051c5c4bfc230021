/**
 * The loop every extract reader shares: stream the file, resolve the header, check
 * each record's field count, hand the record to the extract's row handler, and count
 * what was read, accepted and rejected.
 */
import { ChurnwatchError } from '../errors.js';
import { fieldString, type RecordView } from './csv-scan.js';
import { readExtract, type ByteRange, type FastHolder } from './read-extract.js';
import { encodingOf, resolveColumns, type ExtractName, type InputOptions } from './layout.js';
import type { RejectLog, RejectCode } from './rejects.js';
import type { FastRows } from './plain-rows.js';

export interface FileStats {
  extract: ExtractName;
  file: string;
  path: string;
  bytes: number;
  records: number;
  accepted: number;
  rejected: number;
  ms: number;
  sha256: string;
  /** Rows repeating an earlier one (see facts.ts); absent for a file not checked for them. */
  duplicates?: number;
  /** Size and modification time before reading. */
  before: { size: number; mtimeMs: number };
  /**
   * Set when one byte range of the file was read (see ranges.ts, which merges the ranges' stats).
   * `hashed`: the bytes of the whole file that `sha256` was made over, for the first range read with hashWhole.
   */
  range?: { lines: number; between: boolean; startedAt: number; endedAt: number; hashed?: number };
}

/** Rejects the current row; returns false so handlers can `return reject(...)`. */
export type Reject = (column: string, code: RejectCode, reason: string, raw: string) => false;
export type RowHandler = (rec: RecordView, reject: Reject) => boolean;

/** Progress callbacks come about every this many records. */
export const ROWS_PER_PROGRESS = 1 << 20;

export interface TableReadOptions {
  /** Optional extracts (do-not-call, contact history) may legitimately have no rows. */
  mayBeEmpty?: boolean;
  /** Progress: called about every ROWS_PER_PROGRESS records, and once at the end, with the records and bytes read so far. */
  onRows?: (rows: number, bytes: number) => void;
  /**
   * A fast path for the plain records of the file (see plain-rows.ts), made once the
   * header is known; the records it takes count as read and accepted.
   */
  fast?: (columns: Record<string, number>, width: number) => FastRows | null;
  /** Bytes per read (tests use small ones to cut records everywhere). */
  chunkSize?: number;
  /** The header's columns by name, when the file is not laid out as the contract says (a wide export). */
  columns?: (header: string[]) => Record<string, number>;
  /**
   * Read only this byte range of the file (see ranges.ts). `header` is the file's
   * header for a range after the first (its bytes are not in the range); line numbers
   * then count from the range's start, and ranges.ts adds the lines before it.
   */
  range?: ByteRange & { header: string[] | null };
  /** With the range that starts the file: its stats carry the whole file's sha256 (see readExtract's hashWhole). */
  hashWhole?: boolean;
}

/** The reason of CW_ROW_FIELD_COUNT; `count` is text so that an SQL engine can pass an expression. */
export function fieldCountReason(count: string, width: number): string {
  return `the record has ${count} fields but the header has ${width}`;
}

export async function readTable(
  path: string,
  file: string,
  extract: ExtractName,
  input: InputOptions,
  rejects: RejectLog,
  makeHandler: (columns: Record<string, number>) => RowHandler,
  opts: TableReadOptions = {},
): Promise<FileStats> {
  const started = performance.now();
  let handler: RowHandler | undefined;
  let width = 0;
  const range = opts.range;
  let records = 0,
    accepted = 0,
    rejected = 0;
  let line = 0;
  const onRows = opts.onRows;
  let nextProgress = ROWS_PER_PROGRESS;
  const fast: FastHolder = { current: null, settled: opts.fast === undefined };
  const progress = {
    bytes: 0,
    onChunk:
      onRows &&
      (() => {
        const total = records + (fast.current?.records ?? 0);
        if (total < nextProgress) return;
        while (nextProgress <= total) nextProgress += ROWS_PER_PROGRESS;
        onRows(total, progress.bytes);
      }),
  };
  const reject: Reject = (column, code, reason, raw) => {
    rejects.add(file, line, column, code, reason, raw);
    rejected++;
    return false;
  };
  const useHeader = (header: string[]) => {
    const columns = opts.columns ? opts.columns(header) : resolveColumns(extract, header, input, file);
    handler = makeHandler(columns);
    width = header.length;
    fast.current = opts.fast?.(columns, width) ?? null;
    fast.settled = true;
  };
  if (range?.header) useHeader(range.header);
  const info = await readExtract(
    path,
    {
      file,
      delimiter: input.delimiter,
      encoding: encodingOf(input, extract),
      progress,
      fast: opts.fast ? fast : undefined,
      chunkSize: opts.chunkSize,
      range,
      hashWhole: opts.hashWhole,
    },
    (rec) => {
      if (handler === undefined) {
        const header: string[] = [];
        for (let i = 0; i < rec.count; i++) header.push(fieldString(rec, i));
        useHeader(header);
        return;
      }
      records++;
      line = rec.line;
      if (rec.count !== width) {
        reject('*', 'CW_ROW_FIELD_COUNT', fieldCountReason(String(rec.count), width), '');
      } else if (handler(rec, reject)) {
        accepted++;
      }
    },
  );
  if (fast.current !== null) {
    records += fast.current.records;
    accepted += fast.current.records;
  }
  // A range may hold no rows; ranges.ts checks the whole file once they are merged.
  if (handler === undefined || (records === 0 && !opts.mayBeEmpty && !range)) throw noDataRows(file);
  onRows?.(records, info.bytesRead);
  const ended = performance.now();
  return {
    extract,
    file,
    path,
    bytes: info.bytesRead,
    records,
    accepted,
    rejected,
    ms: ended - started,
    sha256: info.sha256,
    before: info.before,
    ...(range
      ? {
          range: {
            lines: info.lines,
            between: info.between,
            startedAt: performance.timeOrigin + started,
            endedAt: performance.timeOrigin + ended,
            ...(info.sha256 !== '' ? { hashed: info.hashedBytes } : {}),
          },
        }
      : {}),
  };
}

/** The non-empty-files gate's error. */
export function noDataRows(file: string): ChurnwatchError {
  return new ChurnwatchError(
    'CW_EXTRACT_EMPTY',
    `gate non-empty-files failed: ${file} has no data rows; check the export job that writes it`,
    { file, gate: 'non-empty-files' },
  );
}
