/**
 * subscribers.csv read as byte ranges, one per reading thread (cut as ranges.ts cuts
 * the measure extracts, and checked the same way): each range is scanned for its
 * ids and attributes (scanSubscribers with a range), and the scans are joined here
 * in range order into the scan one reader of the whole file would have made. The ids
 * are indexed and their duplicates found only after the join (resolveKeys), so a
 * repeat of an id in another range is found as in one file.
 *
 * A range's scan crosses threads as plain arrays (packScan/unpackScan), its buffers
 * transferred, not copied. The ranges hash nothing: the file's sha256 comes from a
 * hash job (a cut measure extract's comes from its first range, see ranges.ts).
 */
import { ChurnwatchError } from '../errors.js';
import { CodedText, TextColumn } from '../util/text-column.js';
import { IdTable, type IdKeys } from './id-table.js';
import type { InputOptions } from './layout.js';
import type { RangePlan } from './ranges.js';
import type { RejectRow } from './rejects.js';
import { scanSubscribers, type SubscriberScan, type SubscriberValues } from './subscribers.js';
import { noDataRows, type FileStats } from './table-reader.js';

type Column = SubscriberValues[keyof SubscriberValues];
type NumberColumn = Exclude<Column, TextColumn | CodedText>;
type PackedText = { bytes: Uint8Array; offsets: Int32Array; length: number };
type PackedColumn = NumberColumn | PackedText | { codes: Uint16Array | Uint32Array; dict: PackedText };

/** A range's scan as structured-clone data (the id table unindexed, text columns as their arrays). */
export interface PackedScan {
  valid: number;
  keys: IdKeys;
  lines: Float64Array;
  values: Record<string, PackedColumn>;
  rejects: RejectRow[];
  rejectedIds: Map<number, Uint8Array>;
  stats: FileStats;
}

/** A keys-and-values scan of one range as data to post, and the buffers to transfer with it. */
export function packScan(scan: SubscriberScan): { packed: PackedScan; transfer: ArrayBuffer[] } {
  const transfer = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView) => {
    if (a.buffer instanceof ArrayBuffer) transfer.add(a.buffer);
  };
  const values: Record<string, PackedColumn> = {};
  for (const [name, col] of Object.entries(scan.values!) as [string, Column][]) {
    if (col instanceof TextColumn) {
      values[name] = { bytes: col.bytes, offsets: col.offsets, length: col.length };
      add(col.bytes);
      add(col.offsets);
    } else if (col instanceof CodedText) {
      values[name] = { codes: col.codes, dict: { bytes: col.dict.bytes, offsets: col.dict.offsets, length: col.dict.length } };
      add(col.codes);
    } else {
      values[name] = col;
      add(col);
    }
  }
  const keys = scan.keys!.keyParts();
  add(keys.keys);
  add(keys.offsets);
  add(scan.lines!);
  const packed = {
    valid: scan.valid,
    keys,
    lines: scan.lines!,
    values,
    rejects: scan.rejects,
    rejectedIds: scan.rejectedIds,
    stats: scan.stats,
  };
  return { packed, transfer: [...transfer] };
}

/** The scan packScan posted. */
export function unpackScan(p: PackedScan): SubscriberScan {
  const values: Record<string, Column> = {};
  const text = (t: PackedText) => new TextColumn(t.bytes, t.offsets, t.length);
  for (const [name, col] of Object.entries(p.values))
    values[name] = ArrayBuffer.isView(col) ? col : 'codes' in col ? new CodedText(col.codes, text(col.dict)) : text(col);
  return {
    valid: p.valid,
    keys: keysOf(p.keys),
    lines: p.lines,
    values: values as unknown as SubscriberValues,
    rejects: p.rejects,
    rejectedIds: p.rejectedIds,
    stats: p.stats,
  };
}

function keysOf(k: IdKeys): IdTable {
  const t = new IdTable(k.n, k.offsets[k.n]!, 0);
  t.appendKeys(k);
  return t;
}

/**
 * The columns one after another. When the first column's buffers have room for all
 * (the first range's scan is sized for the whole file, its pages untouched until
 * written), the others are copied into them: no second copy of the first range.
 */
function concatText(cols: TextColumn[]): TextColumn {
  const length = cols.reduce((a, c) => a + c.length, 0);
  const size = cols.reduce((a, c) => a + c.offsets[c.length]!, 0);
  const head = cols[0]!;
  const room =
    head.bytes.buffer.byteLength - head.bytes.byteOffset >= size &&
    head.offsets.buffer.byteLength - head.offsets.byteOffset >= (length + 1) * 4;
  // The ids live in shared memory (subscribers.ts): so does their join.
  const shared = head.bytes.buffer instanceof SharedArrayBuffer;
  const bytes = room
    ? new Uint8Array(head.bytes.buffer, head.bytes.byteOffset, size)
    : new Uint8Array(shared ? new SharedArrayBuffer(Math.max(1, size)) : new ArrayBuffer(size));
  const offsets = room
    ? new Int32Array(head.offsets.buffer, head.offsets.byteOffset, length + 1)
    : new Int32Array(shared ? new SharedArrayBuffer((length + 1) * 4) : new ArrayBuffer((length + 1) * 4));
  let n = room ? head.length : 0;
  let used = room ? head.offsets[head.length]! : 0;
  for (const c of room ? cols.slice(1) : cols) {
    const end = c.offsets[c.length]!;
    bytes.set(c.bytes.subarray(0, end), used);
    for (let k = 1; k <= c.length; k++) offsets[n + k] = used + c.offsets[k]!;
    n += c.length;
    used += end;
  }
  return new TextColumn(bytes.subarray(0, size), offsets, length);
}

/** The columns one after another: in the first column's buffer when it has room (see concatText), else in a new one. */
function concatNumbers<T extends NumberColumn | Float64Array>(cols: T[], shift?: (k: number) => number): T {
  const length = cols.reduce((a, c) => a + c.length, 0);
  const head = cols[0]!;
  const Type = head.constructor as { new (n: number): T; new (b: ArrayBufferLike, at: number, n: number): T };
  const room = head.buffer.byteLength - head.byteOffset >= length * head.BYTES_PER_ELEMENT;
  const out = room ? new Type(head.buffer, head.byteOffset, length) : new Type(length);
  let at = 0;
  for (const [k, c] of cols.entries()) {
    if (!(room && k === 0)) {
      const d = shift?.(k) ?? 0;
      if (d === 0) out.set(c as never, at);
      else for (let i = 0; i < c.length; i++) out[at + i] = c[i]! + d;
    }
    at += c.length;
  }
  return out;
}

/**
 * A cut subscribers.csv's scan: this thread scans the ranges that `fromWorker` does
 * not give (the first, sized for the whole file, and any without a worker), the
 * workers the others, joined in range order (joinScans); null when a range failed or
 * a cut fell inside a record (the file is then read again whole).
 *
 * A function of its own so that the ranges' scans go with its frame: an async
 * function keeps what its locals last held until it returns, even out of their
 * block, and ingest() lasts the whole read; the last range's columns, left there
 * once joined, stayed through every fact file (0.6 GB at 10M).
 */
export async function scanRanges(
  path: string,
  file: string,
  input: InputOptions,
  cut: RangePlan,
  fromWorker: (range: number) => Promise<{ scan: SubscriberScan | null; error: Error | null }> | undefined,
  onRows?: (rows: number, bytes: number) => void,
): Promise<SubscriberScan | null> {
  const parts: SubscriberScan[] = [];
  let base: [number, number] = [0, 0];
  try {
    for (const [r, range] of cut.ranges.entries()) {
      const got = r > 0 ? fromWorker(r) : undefined;
      if (got !== undefined) {
        parts.push(scanOrThrow(await got));
        continue;
      }
      const at = base;
      const scanned = await scanSubscribers(path, file, input, {
        keys: true,
        values: true,
        range: { ...range, header: r === 0 ? null : cut.header },
        // The other ranges are joined into the first: room for all of them, in pages not touched before.
        ...(r === 0 ? { sizeFor: cut.ranges[cut.ranges.length - 1]!.end } : {}),
        onRows: onRows && ((rows, bytes) => onRows(at[0] + rows, at[1] + bytes)),
      });
      parts.push(scanned);
      base = [at[0] + scanned.stats.records, at[1] + scanned.stats.bytes];
    }
    const joined = joinScans(parts);
    if (joined !== null) onRows?.(joined.stats.records, joined.stats.bytes);
    return joined;
  } catch {
    return null;
  }
}

function scanOrThrow(got: { scan: SubscriberScan | null; error: Error | null }): SubscriberScan {
  if (got.scan === null) throw got.error;
  return got.scan;
}

/**
 * The scans of a file's ranges (in order, each with keys and values) as one scan of
 * the whole file, or null when a range did not end between records (a cut fell
 * inside a quoted field: the file is then read whole). Line numbers of the ranges
 * after the first get the lines of the ranges before them. `sha256` stays empty: the
 * file's hash job fills it (withHash).
 */
export function joinScans(parts: SubscriberScan[]): SubscriberScan | null {
  for (let i = 0; i + 1 < parts.length; i++) if (!parts[i]!.stats.range!.between) return null;
  const rejects: RejectRow[] = [];
  const rejectedIds = new Map<number, Uint8Array>();
  const lineOffsets: number[] = [];
  let lineOffset = 0;
  let at = 0;
  for (const p of parts) {
    lineOffsets.push(lineOffset);
    for (const [k, id] of p.rejectedIds) rejectedIds.set(rejects.length + k, id);
    for (const row of p.rejects) rejects.push(lineOffset === 0 ? row : { ...row, line: row.line + lineOffset });
    lineOffset += p.stats.range!.lines;
    at += p.valid;
  }
  const lines = concatNumbers(
    parts.map((p) => p.lines!),
    (k) => lineOffsets[k]!,
  );
  const values: Record<string, Column> = {};
  for (const name of Object.keys(parts[0]!.values!) as (keyof SubscriberValues)[]) {
    const cols = parts.map((p) => p.values![name]);
    values[name] =
      cols[0] instanceof TextColumn
        ? concatText(cols as TextColumn[])
        : cols[0] instanceof CodedText
          ? CodedText.concat(cols as CodedText[])
          : concatNumbers(cols as NumberColumn[]);
  }
  const first = parts[0]!.stats;
  const spans = parts.map((p) => p.stats.range!);
  const sum = (f: (s: FileStats) => number) => parts.reduce((a, p) => a + f(p.stats), 0);
  const stats: FileStats = {
    extract: first.extract,
    file: first.file,
    path: first.path,
    bytes: sum((s) => s.bytes),
    records: sum((s) => s.records),
    accepted: sum((s) => s.accepted),
    rejected: sum((s) => s.rejected),
    ms: Math.max(...spans.map((s) => s.endedAt)) - Math.min(...spans.map((s) => s.startedAt)),
    sha256: '',
    before: first.before,
  };
  if (stats.records === 0) throw noDataRows(first.file);
  return {
    valid: at,
    keys: joinKeys(parts),
    lines,
    values: values as unknown as SubscriberValues,
    rejects,
    rejectedIds,
    stats,
  };
}

/** The ids of the ranges in one table: the first range's, with the others' appended. */
function joinKeys(parts: SubscriberScan[]): IdTable {
  const table = parts[0]!.keys!;
  for (const p of parts.slice(1)) table.appendKeys(p.keys!.keyParts());
  return table;
}

/** The joined stats with the file's hash job's sha256, or CW_INPUT_CHANGED when the file changed between the two reads. */
export function withHash(stats: FileStats, hashed: FileStats): FileStats {
  if (stats.bytes !== hashed.bytes || stats.before.size !== hashed.before.size || stats.before.mtimeMs !== hashed.before.mtimeMs) {
    throw new ChurnwatchError('CW_INPUT_CHANGED', `${stats.file} changed while the run read it; rerun when the export has finished`, {
      file: stats.file,
    });
  }
  return { ...stats, sha256: hashed.sha256 };
}
