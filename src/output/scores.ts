/**
 * scores.csv and scores.arrow: one row per subscriber with value, tier, risk,
 * expected loss and one 0/1 column per enabled rule, named by rule id; with
 * `run --with-measures`, then one column per measure the pack reads (measures.ts). In the CSV
 * a subscriber_id that starts like a formula is quoted as in the task files (the
 * Arrow file keeps it as it is: no spreadsheet evaluates it).
 *
 * Both are written from the flat columns alone (typed arrays and the ids' UTF-8
 * bytes), so the same code runs in the main thread or in the score-files worker
 * (score-files.ts) on the same shared memory: the ids' bytes go into the CSV and into
 * the Arrow Utf8 column without being decoded. Numbers hold toFixed's text (it rounds
 * the exact binary value; fixed() writes its digits without a string where the
 * rounding is clear). A CSV row is made in one buffer with room for the whole row, its
 * flags eight at a time from a table of patterns.
 */
import { createRequire } from 'node:module';
import type { Float64 as Float64Type, Utf8 as Utf8Type, Vector } from 'apache-arrow';
import { TIERS } from '../contract/contract.js';
import type { TextColumn } from '../util/text-column.js';
import { NUMBER_ROOM, cellRoom, putAscii, putBytes, putCell, putFixedPoint, putScaled } from '../util/bytes.js';
import { csvLine } from './csv.js';
import type { ChunkedFile, OutputRecord } from './publish.js';
import { ENUM_MISSING } from '../rules/compile.js';
import { formatDay } from '../util/dates.js';
import { SCORE_FILES, scoresHeader, type MeasureColumn, type ScoreRules, type ScoreValues } from './scores-protocol.js';
import { writablePages } from '../util/pages.js';
import { binOfRule, stepColumn, type StepBins } from '../evaluate/step-columns.js';

/**
 * apache-arrow from the one-file build the package ships beside its modules: the same
 * classes, loaded in ~10 ms of CPU instead of ~110 for its ~160 ES modules, which the
 * score-files worker paid at every start. The files are the same bytes (the tests build
 * their reference files with the modules).
 */
const {
  AsyncByteQueue,
  DateDay,
  Dictionary,
  Field,
  Float64,
  Int32,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Uint8,
  Utf8,
  makeData,
  makeVector,
  Table,
} = createRequire(import.meta.url)('apache-arrow/Arrow.esnext.min') as typeof import('apache-arrow');

export type { ScoreRules, ScoreValues };

export { scoresHeader };

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const TIER_BYTES = TIERS.map(ascii);
const COMMA = 0x2c,
  ZERO = 0x30,
  ONE = 0x31,
  EQUALS = 0x3d,
  AT = 0x40,
  LF = 0x0a;

/** A measure's cell, after its comma: written into dst at p for subscriber i, returning the end. */
type PutCell = (dst: Uint8Array, p: number, i: number) => number;

/**
 * The cells of measure columns and the most bytes one row of them takes. A value is
 * written from the whole number of its smallest unit (fen for money), so its text is
 * exact at the measure's scale whatever the binary fraction.
 */
function measureCells(measures: readonly MeasureColumn[]): { cells: PutCell[]; room: number } {
  let room = 0;
  const cells = measures.map((m): PutCell => {
    const data = m.data;
    if (m.kind === 'enum') {
      const bytes = (m.values ?? []).map((v) => encoder.encode(v));
      room += 1 + Math.max(0, ...bytes.map((b) => b.length));
      return (dst, p, i) => {
        const code = data[i]!;
        if (code === ENUM_MISSING) return p;
        const b = bytes[code];
        return b ? putBytes(dst, p, b, 0, b.length) : p;
      };
    }
    room += 1 + NUMBER_ROOM;
    if (m.kind === 'day') {
      const dates = new Map<number, Uint8Array>();
      return (dst, p, i) => {
        const v = data[i]!;
        if (!Number.isFinite(v)) return p;
        let b = dates.get(v);
        if (b === undefined) dates.set(v, (b = ascii(formatDay(v))));
        // Within NUMBER_ROOM whatever the day: a year is at most a double's String() (25 bytes), then -MM-DD.
        return putBytes(dst, p, b, 0, b.length);
      };
    }
    if (data instanceof Int32Array) return (dst, p, i) => putScaled(dst, p, data[i]!, 0, true);
    const unit = 10 ** m.scale,
      scale = m.scale,
      trim = m.kind !== 'money';
    return (dst, p, i) => {
      const v = data[i]!;
      if (v !== v) return p; // not given
      const n = Math.round(v * unit);
      if (Number.isSafeInteger(n)) return putScaled(dst, p, n, scale, trim);
      return Number.isFinite(v) ? putAscii(dst, p, v.toFixed(scale)) : p;
    };
  });
  return { cells, room };
}

/** scores.csv goes to the file in pieces of about this many bytes, whole rows only. */
const CSV_PIECE = 1 << 20;

/** Rule flags go out eight at a time: one 16-byte pattern of ",0"/",1" cells per combination. */
const FLAG_GROUP = 8;

/**
 * The cells of eight flags for every combination, as two doubles each (read and
 * written little-endian, so the bytes are these whatever the machine): entry 2k and
 * 2k + 1 for combination k, flag j set when bit j of k is. Bytes 7 and 15 are digits
 * (0x30, 0x31), so neither double is a NaN, whose bits a copy might not keep.
 */
const FLAG_PATTERNS = (() => {
  const bytes = new Uint8Array(256 * 2 * FLAG_GROUP);
  for (let k = 0; k < 256; k++) {
    for (let j = 0; j < FLAG_GROUP; j++) {
      bytes[k * 16 + 2 * j] = COMMA;
      bytes[k * 16 + 2 * j + 1] = k & (1 << j) ? ONE : ZERO;
    }
  }
  const view = new DataView(bytes.buffer);
  return Float64Array.from({ length: 512 }, (_, e) => view.getFloat64(8 * e, true));
})();

/**
 * Per group of eight rules, each subscriber's combination of flags, computed column by
 * column the way the flags lie. Flags are 0/1: shifted by j they stay in their byte, so
 * four subscribers are or-ed at once where the column is aligned for it (a shift, not a
 * branch: a scorecard's steps hit at random, and a branch per cell mispredicts). The
 * steps of a measure in `bins` are read off its bin instead (their flags columns are
 * not read, so not made): per group, one pass per measure through a table of its bins'
 * bits in the group.
 */
export function flagKeys(flags: readonly (Uint8Array | null)[], n: number, bins: readonly StepBins[] = []): Uint8Array[] {
  const groups = Array.from({ length: Math.ceil(flags.length / FLAG_GROUP) }, () => writablePages(new Uint8Array(n)));
  flagKeysInto(flags, bins, 0, n, groups);
  return groups;
}

/** flagKeys of subscribers [from, to) into `keys`, one zeroed array per group starting at byte 0 of its buffer. */
function flagKeysInto(
  flags: readonly (Uint8Array | null)[],
  bins: readonly StepBins[],
  from: number,
  to: number,
  keys: readonly Uint8Array[],
): void {
  const rows = to - from,
    words = rows >> 2;
  const binOf = binOfRule(bins, flags.length);
  keys.forEach((out, g) => {
    const base = g * FLAG_GROUP;
    const keyWords = new Uint32Array(out.buffer, 0, words);
    const tables = new Map<number, Uint8Array>();
    for (let j = 0; j < FLAG_GROUP && base + j < flags.length; j++) {
      const b = binOf[base + j]!;
      if (b >= 0) {
        const table = tables.get(b) ?? new Uint8Array(256);
        tables.set(b, table);
        table[base + j - bins[b]!.first + 1] = 1 << j;
        continue;
      }
      const f = flags[base + j]!.subarray(from, to);
      let i = 0;
      if (f.byteOffset % 4 === 0) {
        const fw = new Uint32Array(f.buffer, f.byteOffset, words);
        for (let w = 0; w < words; w++) keyWords[w]! |= fw[w]! << j;
        i = words << 2;
      }
      for (; i < rows; i++) out[i]! |= f[i]! << j;
    }
    for (const [b, table] of tables) orBinBits(out, bins[b]!.bin, from, to, table);
  });
}

/** keys[i − from] |= table[bin[i]] over subscribers [from, to). */
function orBinBits(keys: Uint8Array, bin: Uint8Array, from: number, to: number, table: Uint8Array): void {
  for (let i = from; i < to; i++) keys[i - from]! |= table[bin[i]!]!;
}

/**
 * Rows of scores.csv whose flag combinations are made together when they were not made
 * beforehand (flagKeys): a few arrays this long instead of one per group as long as the
 * file (at 10M subscribers, 14 groups of a calibrated pack were 140 MB at the run's peak).
 */
const KEY_ROWS = 1 << 16;

/**
 * Up to this many subscribers the score-files worker makes the flag combinations ahead,
 * while the score stage leaves it a core (at 1M, 14 groups are 14 MB); above, scores.csv
 * makes them as it goes, where they would be a large share of the run's peak.
 */
export const KEYS_AHEAD_MAX_ROWS = 1 << 21;

/**
 * putCell(…, true) of an id. Ids are digits in practice: an id whose bytes are all
 * from '0' (0x30) up, whose first is ASCII and neither '=' nor '@', holds nothing to
 * quote and does not start like a formula, so it is copied while its bytes are looked
 * at; any other id is written again by putCell.
 */
function idCell(dst: Uint8Array, p: number, b: Uint8Array, s: number, e: number): number {
  let low = 0;
  let q = p;
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    dst[q++] = c;
    low |= c - ZERO; // negative once a byte is below '0'
  }
  if (low >= 0 && (s === e || (b[s]! < 0x80 && b[s] !== EQUALS && b[s] !== AT))) return q;
  return putCell(dst, p, b, s, e, true);
}

export function writeScoresCsv(
  out: ChunkedFile,
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[] = [],
  keys?: readonly Uint8Array[],
): void {
  out.write(csvLine(scoresHeader(ev, measures)));
  const n = ids.length;
  const { bytes, offsets } = ids;
  const { value, flags } = ev;
  const { risk, expectedLoss, tier } = s;
  let longestId = 0;
  for (let i = 0; i < n; i++) longestId = Math.max(longestId, offsets[i + 1]! - offsets[i]!);
  const groups = Math.ceil(flags.length / FLAG_GROUP);
  const lastWidth = 2 * (flags.length - (groups - 1) * FLAG_GROUP);
  const { cells, room: measureRoom } = measureCells(measures);
  const tierRoom = Math.max(...TIER_BYTES.map((t) => t.length));
  // A group's pattern is written whole (16 bytes), even the last group's shorter one: the next cell overwrites the rest.
  const rowRoom = cellRoom(longestId) + 3 * NUMBER_ROOM + tierRoom + 4 + 16 * groups + measureRoom + 1;
  const buf = new Uint8Array(CSV_PIECE + rowRoom);
  const view = new DataView(buf.buffer);
  const block = keys === undefined ? Array.from({ length: groups }, () => new Uint8Array(Math.min(n, KEY_ROWS))) : null;
  let p = 0;
  for (let from = 0; from < n; from += KEY_ROWS) {
    const to = Math.min(n, from + KEY_ROWS);
    // The combinations of rows [from, to): those made beforehand, or made now into the block's arrays (row i at i − from).
    let rowKeys = keys!,
      first = 0;
    if (block !== null) {
      for (const b of block) b.fill(0);
      flagKeysInto(flags, ev.bins ?? [], from, to, block);
      rowKeys = block;
      first = from;
    }
    for (let i = from; i < to; i++) {
      const s0 = offsets[i]!,
        e0 = offsets[i + 1]!;
      p = idCell(buf, p, bytes, s0, e0);
      buf[p++] = COMMA;
      const v = value[i]!;
      if (Number.isFinite(v)) p = fixed(buf, p, v, 2); // a value the pack cannot compute (NaN) is an empty cell
      buf[p++] = COMMA;
      const t = TIER_BYTES[tier[i]!]!;
      for (let k = 0; k < t.length; k++) buf[p++] = t[k]!;
      buf[p++] = COMMA;
      p = fixed(buf, p, risk[i]!, 4);
      buf[p++] = COMMA;
      p = fixed(buf, p, expectedLoss[i]!, 2);
      for (let g = 0; g < groups; g++) {
        const at = 2 * rowKeys[g]![i - first]!;
        view.setFloat64(p, FLAG_PATTERNS[at]!, true);
        view.setFloat64(p + 8, FLAG_PATTERNS[at + 1]!, true);
        p += g === groups - 1 ? lastWidth : 16;
      }
      for (let k = 0; k < cells.length; k++) {
        buf[p++] = COMMA;
        p = cells[k]!(buf, p, i);
      }
      buf[p++] = LF;
      if (p >= CSV_PIECE) {
        out.writeBytes(buf.subarray(0, p));
        p = 0;
      }
    }
  }
  if (p > 0) out.writeBytes(buf.subarray(0, p));
}

/**
 * x.toFixed(digits) into dst at p (NUMBER_ROOM bytes at most), the text these files
 * have always held, without making a string when the rounding is clear: a logistic
 * pack gives every subscriber a risk and a loss, and toFixed was a string per cell.
 * x · 10^digits is within half an ulp of the exact product; away from a tie (.5
 * within 1e-6, far wider than that ulp below 1e9) its nearest integer is toFixed's.
 * Ties, negatives, large and non-finite values take toFixed.
 */
export function fixed(dst: Uint8Array, p: number, x: number, digits: 2 | 4): number {
  const v = x * (digits === 2 ? 100 : 10000);
  if (v >= 0 && v < 1e9) {
    const whole = Math.floor(v),
      f = v - whole;
    if (Math.abs(f - 0.5) > 1e-6) return putFixedPoint(dst, p, f > 0.5 ? whole + 1 : whole, digits);
  }
  return putAscii(dst, p, x.toFixed(digits));
}

/** A Utf8 vector built straight into one byte buffer and its offsets (no per-string builder objects). */
export function utf8Vector(strings: readonly string[]): Vector<Utf8Type> {
  const n = strings.length;
  const offsets = new Int32Array(n + 1);
  let data = new Uint8Array(Math.max(64, n * 12));
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const str = strings[i]!;
    if (pos + str.length * 3 > data.length) {
      const grown = new Uint8Array(Math.max(data.length * 2, pos + str.length * 3));
      grown.set(data.subarray(0, pos));
      data = grown;
    }
    pos += encoder.encodeInto(str, data.subarray(pos)).written;
    offsets[i + 1] = pos;
  }
  return makeVector(makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data: data.subarray(0, pos) }));
}

const encoder = new TextEncoder();

/** A text column as an Arrow Utf8 vector over its own buffers (the same layout: UTF-8 bytes, Int32 offsets). */
export function textColumnVector(col: TextColumn): Vector<Utf8Type> {
  const n = col.length;
  const offsets = col.offsets.subarray(0, n + 1);
  return makeVector(
    makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data: col.bytes.subarray(0, offsets[n]!) }),
  );
}

/**
 * A column of scores.arrow: a vector over every subscriber, or one made a record batch at
 * a time for subscribers [from, to) (a scorecard step's flags, read off its bin; the
 * value, whose nulls need a copy of the values).
 */
type ScoresColumn = { name: string; vector: Vector } | { name: string; make: (from: number, to: number) => Vector };

function scoresColumns(
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[],
  layout: BatchLayout,
): ScoresColumn[] {
  const n = ids.length;
  // tier as a dictionary column: one byte per subscriber over ['high', 'mid', 'mass'].
  // An explicit dictionary id: the default comes from a process-wide counter, and the file must not depend on what ran before.
  const tierType = new Dictionary(new Utf8(), new Uint8(), 0);
  const bins = ev.bins ?? [],
    binOf = binOfRule(bins, ev.flags.length);
  // A step's array is taken by the next batch: the writer hands a batch's bytes on before write() returns.
  const rows = Math.min(n, layout.batchRows);
  return [
    { name: 'subscriber_id', vector: textColumnVector(ids) },
    { name: 'value', make: (from, to) => valueVector(ev.value.subarray(from, to)) },
    {
      name: 'tier',
      vector: makeVector(makeData({ type: tierType, length: n, nullCount: 0, data: s.tier, dictionary: utf8Vector(TIERS) })),
    },
    { name: 'risk_score', vector: makeVector({ type: new Float64(), data: s.risk }) },
    { name: 'expected_loss', vector: makeVector({ type: new Float64(), data: s.expectedLoss }) },
    ...ev.ruleIds.map((name, j): ScoresColumn => {
      const b = binOf[j]!;
      if (b < 0) return { name, vector: makeVector({ type: new Uint8(), data: ev.flags[j]! }) };
      const { bin, first } = bins[b]!;
      const reused = n <= layout.oneBatchRows ? null : new Uint8Array(rows);
      return {
        name,
        make: (from, to) => makeVector({ type: new Uint8(), data: stepColumn(bin, j - first, from, to, reused ?? undefined) }),
      };
    }),
    ...measures.map((m, k) => ({ name: m.name, vector: measureVector(m, k + 1) })),
  ];
}

/**
 * How scores.arrow is cut into record batches: a file of up to `oneBatchRows`
 * subscribers is one batch; a larger one, batches of `batchRows`. A scorecard step's
 * column is made per batch from its measure's bin, into arrays reused by the next batch,
 * so the file never needs all of them at once (94 steps at 10M subscribers were 0.9 GB,
 * and a batch of 2^20 rows still 0.1 GB).
 */
export interface BatchLayout {
  oneBatchRows: number;
  batchRows: number;
}

export const ARROW_BATCHES: BatchLayout = { oneBatchRows: 1 << 20, batchRows: 1 << 18 };

/**
 * Takes the Arrow writer's pieces as it makes them (the message headers, padding and
 * views of the columns' own buffers) and hands each on at once. tableToIPC instead
 * queues them and joins them into one buffer the size of the whole file, which at
 * 10M subscribers is about 50 bytes a subscriber on top of the columns it copies.
 */
class PieceSink extends AsyncByteQueue {
  constructor(private readonly put: (piece: Uint8Array) => void) {
    super();
  }

  override write(value: ArrayBufferView | ArrayBuffer | string): void {
    const piece =
      value instanceof Uint8Array
        ? value
        : ArrayBuffer.isView(value)
          ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
          : typeof value === 'string'
            ? encoder.encode(value)
            : new Uint8Array(value);
    if (piece.byteLength > 0) this.put(piece);
  }
}

/**
 * The Arrow IPC file of the scores, piece by piece in file order: the same bytes as
 * tableToIPC(table, 'file'), without the file ever held whole.
 */
export function writeScoresArrow(
  put: (piece: Uint8Array) => void,
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[] = [],
  layout: BatchLayout = ARROW_BATCHES,
): void {
  const n = ids.length;
  const columns = scoresColumns(ids, ev, s, measures, layout);
  const writer = new RecordBatchFileWriter();
  if (n <= layout.oneBatchRows) {
    const table = new Table(Object.fromEntries(columns.map((c) => [c.name, 'vector' in c ? c.vector : c.make(0, n)])));
    // A sink given to reset() is written to as is (writeAll(table) would replace it with a queue).
    writer.reset(new PieceSink(put), table.schema);
    for (const batch of table.batches) writer.write(batch);
    writer.finish();
    return;
  }
  // The fields as a table of whole vectors has them (a made column's as its vector of no rows has it).
  const schema = new Schema(
    columns.map((c) => {
      const v = 'vector' in c ? c.vector : c.make(0, 0);
      return new Field(c.name, v.type, v.nullable);
    }),
  );
  writer.reset(new PieceSink(put), schema);
  for (let from = 0; from < n; from += layout.batchRows) {
    const to = Math.min(n, from + layout.batchRows),
      rows = to - from;
    const children = columns.map((c) => ('vector' in c ? c.vector.data[0]!.slice(from, rows) : c.make(from, to).data[0]!));
    writer.write(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows, nullCount: 0, children })));
  }
  writer.finish();
}

/** scores.arrow as one buffer (tests and small files; writeScoreFiles streams it). */
export function scoresArrow(
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[] = [],
  layout: BatchLayout = ARROW_BATCHES,
): Uint8Array {
  const pieces: Uint8Array[] = [];
  writeScoresArrow((p) => pieces.push(p.slice()), ids, ev, s, measures, layout);
  return Buffer.concat(pieces);
}

/** The value column: a value the pack cannot compute (NaN) is null, not a NaN double; so would be an infinite one. */
function valueVector(value: Float64Array): Vector<Float64Type> {
  return makeVector(makeData({ type: new Float64(), length: value.length, ...withNulls(value, Number.isFinite, zeroUnder) }));
}

/** A double column's values with 0 under each null: no NaN or infinity in the file's bytes either. */
const zeroUnder = (values: Float64Array) => values.map((v) => (Number.isFinite(v) ? v : 0));

/**
 * The null count and bitmap of a column whose cells fail `given`, and its data: without
 * nulls, no bitmap and the values as they are (the file stays what it was before
 * values could be missing); with them, `under(values)`, a harmless value under each null.
 */
function withNulls<A extends Float64Array | Float32Array | Uint8Array, D>(
  values: A,
  given: (v: number) => boolean,
  under: (values: A) => D,
): { nullCount: number; nullBitmap?: Uint8Array; data: A | D } {
  const n = values.length;
  let nullCount = 0;
  const valid = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    if (given(values[i]!)) valid[i >> 3]! |= 1 << (i & 7);
    else nullCount++;
  }
  return nullCount === 0 ? { nullCount, data: values } : { nullCount, nullBitmap: valid, data: under(values) };
}

/** A measure column: money and other sums as doubles, event counts as Int32, dates as DateDay, enums as a dictionary. */
function measureVector(m: MeasureColumn, dictionaryId: number): Vector {
  const { data } = m;
  const length = data.length;
  if (m.kind === 'enum') {
    const given = (c: number) => c !== ENUM_MISSING;
    const codes = withNulls(data as Uint8Array, given, (c) => c.map((v) => (given(v) ? v : 0)));
    const type = new Dictionary(new Utf8(), new Uint8(), dictionaryId);
    return makeVector(makeData({ type, length, ...codes, dictionary: utf8Vector(m.values ?? []) }));
  }
  if (m.kind === 'day') {
    // DateDay holds Int32 days: converted with or without nulls.
    const days = Int32Array.from(data, (v) => (Number.isFinite(v) ? v : 0));
    const nulls = withNulls(data as Float64Array | Float32Array, Number.isFinite, () => days);
    return makeVector(makeData({ type: new DateDay(), length, nullCount: nulls.nullCount, nullBitmap: nulls.nullBitmap, data: days }));
  }
  // Counts are Int32 in the file whatever width the feature stage chose to hold them in.
  if (data instanceof Int32Array) return makeVector({ type: new Int32(), data });
  if (data instanceof Uint8Array) return makeVector({ type: new Int32(), data: Int32Array.from(data) });
  return makeVector(
    makeData({
      type: new Float64(),
      length,
      ...withNulls(data instanceof Float64Array ? data : Float64Array.from(data), Number.isFinite, zeroUnder),
    }),
  );
}

/**
 * Writes scores.csv, then scores.arrow, each into a file from `open`; their records in that order.
 * `keys`: flagKeys(ev.flags, n, ev.bins), when made beforehand; otherwise they are made
 * as the rows are written, KEY_ROWS at a time.
 */
export function writeScoreFiles(
  open: (name: string) => ChunkedFile,
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[] = [],
  keys?: readonly Uint8Array[],
): OutputRecord[] {
  const csv = open(SCORE_FILES[0]);
  writeScoresCsv(csv, ids, ev, s, measures, keys);
  const csvRecord = csv.close();
  const arrow = open(SCORE_FILES[1]);
  writeScoresArrow((piece) => arrow.writeBytes(piece), ids, ev, s, measures);
  return [csvRecord, arrow.close()];
}
