/**
 * subscribers.csv → the subscriber table: one index per subscriber, enum and date
 * attributes in typed arrays, text attributes (needed only for task rows and the
 * outputs) as TextColumns: their bytes are copied from the file, never decoded.
 * plan_id is not kept: nothing reads it (95 MB at 10M subscribers).
 * Subscriber ids also go into a byte-keyed IdTable, which the fact readers use to
 * find a row's subscriber without making a string of its id.
 *
 * Rules (as the contract says): a row with an empty id, a bad phone, status, member
 * level, balance or date is rejected; a row whose id an earlier *accepted* row has is
 * rejected as a duplicate (checked before the other fields). Accepted rows are
 * numbered in file order.
 *
 * The file is read in one pass that validates each row's fields and keeps the ids of
 * the valid rows in file order; the hash index over them is built afterwards in one
 * go (see IdTable.buildIndex), and only then are duplicates taken out. That gives the
 * same rows, rejects and indices as checking each id on arrival, and lets the two
 * halves of the work run apart: scanSubscribers({ keys }) builds only the ids (a
 * worker thread does that to start on the fact files early), scanSubscribers({ values })
 * only the attributes (the main thread, meanwhile), and applyKeys() joins them.
 *
 * Plain records (no quotes, nothing to trim, values in their usual form) skip the
 * record view and the handler: a fast path generated for the file's columns
 * (subscriber-rows.ts) checks them as the handler would and folds them with the
 * spans and values it read; the handler takes every record it refuses.
 */
import { statSync } from 'node:fs';
import { MEMBER_LEVELS, STATUS_VALUES } from '../contract/contract.js';
import { ENUM_MISSING } from '../rules/compile.js';
import { fieldIsEmpty, parseDayField, parseScaled, type RecordView } from './csv-scan.js';
import { enumBytes, fieldEnum, fieldPhone, fieldTrimmed, pushPhone, pushTrimmed } from './fields.js';
import { type CodedText, CodedTextBuilder, TEXT_COLUMN_MAX_BYTES, TextColumn, TextColumnBuilder } from '../util/text-column.js';
import { IdTable, fieldKey } from './id-table.js';
import type { InputOptions } from './layout.js';
import { maskRaw, RejectLog, type RejectRow } from './rejects.js';
import { readTable, type FileStats, type Reject } from './table-reader.js';
import type { ByteRange } from './read-extract.js';
import { fastDelimiter } from './plain-rows.js';
import { SubKind, SubscriberRows, type SubColumn } from './subscriber-rows.js';

/** The attributes of the valid rows, in file order (duplicates not yet taken out); their ids are the id table's keys. */
export interface SubscriberValues {
  msisdn: TextColumn;
  name: TextColumn;
  /** Few distinct values: dictionary coded, from the read to the task files. */
  region: CodedText;
  managerId: CodedText;
  status: Uint8Array;
  memberLevel: Uint8Array;
  /** Yuan; NaN where not given. */
  prepaidBalance: Float64Array;
  /**
   * Day numbers; NaN where not given. Float32 holds every day number of a four-digit
   * year (below 2^24) and NaN exactly, in half the memory of Float64.
   */
  activationDate: Float32Array;
  statusSince: Float32Array;
}

/** The subscriber table: region and manager dictionary coded (see sharedTable). */
export interface SubscriberTable extends SubscriberValues {
  n: number;
  /**
   * subscriber_id, trimmed: the id table's keys and offsets themselves (idColumn), not
   * a copy, in shared memory when the table is (the score-files worker reads them there).
   */
  ids: TextColumn;
  /**
   * subscriber_id (trimmed, as UTF-8 bytes) → index. ingest() drops it once the
   * extracts are read (it is a few hundred MB at 10M subscribers) unless
   * IngestPlan.keepIdTable asks to keep it.
   */
  idTable?: IdTable;
}

const STATUS_BYTES = enumBytes(STATUS_VALUES);
const LEVEL_BYTES = enumBytes(MEMBER_LEVELS);
const DUPLICATE_REASON = 'subscriber_id appears earlier in the file; the first row is kept';

export interface SubscriberScan {
  /** Rows that passed the field checks (some may still be duplicates). */
  valid: number;
  /** The valid rows' ids in file order, not indexed (with `keys`). */
  keys: IdTable | null;
  /** Line of each valid row (with `keys`). */
  lines: Float64Array | null;
  values: SubscriberValues | null;
  /** Rejects of the pass in line order, before duplicates are known. */
  rejects: RejectRow[];
  /** For rejects of rows with a non-empty id (position in `rejects`): that id, to tell whether it was a duplicate. */
  rejectedIds: Map<number, Uint8Array>;
  stats: FileStats;
}

/** The ids resolved: the table, which valid rows were duplicates, the final rejects. */
export interface SubscriberKeys {
  table: IdTable;
  /** Positions among the valid rows of the duplicates, ascending. */
  dups: Int32Array;
  /** Every reject of subscribers.csv, in line order. */
  rejects: RejectRow[];
  stats: FileStats;
}

function growF64(a: Float64Array, size: number): Float64Array {
  const b = new Float64Array(size);
  b.set(a);
  return b;
}
function growF32(a: Float32Array, size: number): Float32Array {
  const b = new Float32Array(size);
  b.set(a);
  return b;
}
function growU8(a: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set(a);
  return b;
}

export interface ScanSubscribersOptions {
  keys: boolean;
  values: boolean;
  onRows?: (rows: number, bytes: number) => void;
  /** Use the fast path for plain records (subscriber-rows.ts); default true. Tests turn it off to compare. */
  plain?: boolean;
  /** Bytes per read (tests). */
  chunkSize?: number;
  /** Read only this byte range of the file (subscriber-ranges.ts joins the ranges' scans). */
  range?: ByteRange & { header: string[] | null };
  /**
   * Size the arrays for this many bytes of file rather than the range's (the range
   * that the others are joined to): they are returned as views of those arrays, with
   * the room after them, and the id table is made in shared memory (the workers read it).
   */
  sizeFor?: number;
}

// Slots of the fast path's spans (text fields) and values (the others).
const T_ID = 0,
  T_PHONE = 1,
  T_NAME = 2,
  T_REGION = 3,
  T_MANAGER = 4;
const V_STATUS = 0,
  V_LEVEL = 1,
  V_BALANCE = 2,
  V_ACTIVATION = 3,
  V_SINCE = 4;

/**
 * The fast path's columns for a header: null when two contract columns share a field
 * (a rename can do that) or the delimiter can occur in a value.
 */
function fastColumns(c: Record<string, number>, width: number, delim: number): SubColumn[] | null {
  if (!fastDelimiter(delim)) return null;
  const columns: SubColumn[] = Array.from({ length: width }, () => ({ kind: SubKind.Skip, slot: 0 }));
  const put = (col: number | undefined, column: SubColumn): boolean => {
    if (col === undefined || col < 0) return true;
    if (col >= width || columns[col]!.kind !== SubKind.Skip) return false;
    columns[col] = column;
    return true;
  };
  const ok =
    put(c.subscriber_id, { kind: SubKind.Id, slot: T_ID }) &&
    put(c.msisdn, { kind: SubKind.Phone, slot: T_PHONE }) &&
    put(c.name, { kind: SubKind.Text, slot: T_NAME }) &&
    put(c.region, { kind: SubKind.Text, slot: T_REGION }) &&
    put(c.manager_id, { kind: SubKind.Text, slot: T_MANAGER }) &&
    put(c.status, { kind: SubKind.Enum, slot: V_STATUS, values: STATUS_BYTES }) &&
    put(c.member_level, { kind: SubKind.OptionalEnum, slot: V_LEVEL, values: LEVEL_BYTES, missing: ENUM_MISSING }) &&
    put(c.prepaid_balance, { kind: SubKind.Amount, slot: V_BALANCE }) &&
    put(c.activation_date, { kind: SubKind.Day, slot: V_ACTIVATION }) &&
    put(c.status_since, { kind: SubKind.Day, slot: V_SINCE });
  return ok ? columns : null;
}

export async function scanSubscribers(
  path: string,
  file: string,
  input: InputOptions,
  opts: ScanSubscribersOptions,
): Promise<SubscriberScan> {
  // Room for about as many rows as the file can hold at 64 bytes a row, so that the
  // arrays rarely grow (pages never written cost no memory).
  let cap = 1024;
  try {
    const bytes = opts.sizeFor ?? (opts.range ? opts.range.end - opts.range.start : statSync(path).size);
    cap = Math.min(1 << 27, Math.max(1024, Math.ceil(bytes / 64)));
  } catch {
    // readTable reports a missing file.
  }
  let status: Uint8Array = new Uint8Array(cap),
    memberLevel: Uint8Array = new Uint8Array(cap);
  let prepaid: Float64Array = new Float64Array(cap),
    since: Float32Array = new Float32Array(cap);
  let activation: Float32Array = new Float32Array(cap);
  let lines: Float64Array = new Float64Array(cap);
  const text = () => new TextColumnBuilder(opts.values ? cap : 16, opts.values ? cap * 10 : 64, true);
  // In shared memory, the columns the output workers read: those the task rows show
  // (output/task-files.ts), handed over without a copy of their own.
  const msisdn = text(),
    name = text(),
    region = new CodedTextBuilder(opts.values ? cap : 16),
    managerId = new CodedTextBuilder(opts.values ? cap : 16);
  // In shared memory when its keys become the table's ids (idColumn; the score files read them): the range the others
  // are joined to, or a whole file read with its attributes. Other ranges' keys are copied into the first's.
  const shareKeys = opts.sizeFor !== undefined || (opts.values && opts.range === undefined);
  const keys = opts.keys ? new IdTable(cap, cap * 12, 0, shareKeys) : null;
  const values = opts.values;
  const log = new RejectLog();
  const rejectedIds = new Map<number, Uint8Array>();
  let valid = 0;
  /** Makes room for valid row i. */
  const room = (i: number) => {
    if (i < cap) return;
    cap *= 2;
    lines = growF64(lines, cap);
    if (values) {
      status = growU8(status, cap);
      memberLevel = growU8(memberLevel, cap);
      prepaid = growF64(prepaid, cap);
      activation = growF32(activation, cap);
      since = growF32(since, cap);
    }
  };

  // The fast path (made with the header): it folds the plain rows as the handler's
  // accepting branch would, with the spans and values it read. Absent columns keep
  // the initial values: empty spans, member level missing, NaN balance and dates.
  let fast: SubscriberRows | null = null;
  const spans = new Int32Array(12);
  const fastValues = Float64Array.of(0, ENUM_MISSING, NaN, NaN, NaN);
  const fold = (b: Uint8Array, line: number) => {
    const i = valid++;
    if (i === cap) room(i);
    if (keys !== null) {
      keys.append(b, spans[2 * T_ID]!, spans[2 * T_ID + 1]!);
      lines[i] = line;
    }
    if (values) {
      msisdn.pushBytes(b, spans[2 * T_PHONE]!, spans[2 * T_PHONE + 1]!);
      name.pushBytes(b, spans[2 * T_NAME]!, spans[2 * T_NAME + 1]!);
      region.pushBytes(b, spans[2 * T_REGION]!, spans[2 * T_REGION + 1]!);
      managerId.pushBytes(b, spans[2 * T_MANAGER]!, spans[2 * T_MANAGER + 1]!);
      status[i] = fastValues[V_STATUS]!;
      memberLevel[i] = fastValues[V_LEVEL]!;
      prepaid[i] = fastValues[V_BALANCE]!;
      activation[i] = fastValues[V_ACTIVATION]!;
      since[i] = fastValues[V_SINCE]!;
    }
  };

  const stats = await readTable(
    path,
    file,
    'subscribers',
    input,
    log,
    (c) => {
      const cId = c.subscriber_id!,
        cPhone = c.msisdn!,
        cStatus = c.status!,
        cLevel = c.member_level!,
        cBalance = c.prepaid_balance!;
      const cName = c.name!,
        cRegion = c.region!,
        cManager = c.manager_id!;
      const cActivation = c.activation_date!,
        cSince = c.status_since!;
      const thousands = input.thousands;
      /** A date column: NaN when absent or empty, undefined when unparsable. */
      const dateOf = (rec: RecordView, col: number): number | undefined => {
        if (col < 0) return NaN;
        const d = parseDayField(rec, col);
        return d === d || fieldIsEmpty(rec, col) ? d : undefined;
      };
      // A row failing a field check keeps its id, to tell later whether it was a duplicate.
      let cur: RecordView;
      let rejectRow: Reject;
      const bad: Reject = (column, code, reason, raw) => {
        const k = fieldKey(cur, cId)!;
        rejectedIds.set(log.rows.length, k.b.slice(k.s, k.e));
        return rejectRow(column, code, reason, raw);
      };
      return (rec, reject) => {
        // The fast path learns from each record the handler sees where the next one starts.
        if (fast !== null) fast.resume(rec);
        if (fieldKey(rec, cId) === null) return reject('subscriber_id', 'CW_ROW_EMPTY_FIELD', 'subscriber_id is empty', '');
        cur = rec;
        rejectRow = reject;
        const phoneOk = fieldPhone(rec, cPhone);
        if (phoneOk !== 1)
          return bad(
            'msisdn',
            phoneOk === 0 ? 'CW_ROW_EMPTY_FIELD' : 'CW_ROW_BAD_PHONE',
            phoneOk === 0
              ? 'msisdn is empty'
              : 'msisdn is not a phone number (digits, optional leading +, spaces or dashes between digits)',
            fieldTrimmed(rec, cPhone),
          );
        const st = fieldEnum(rec, cStatus, STATUS_VALUES, STATUS_BYTES);
        if (st < 0)
          return bad('status', 'CW_ROW_BAD_ENUM', `status must be one of ${STATUS_VALUES.join(', ')}`, fieldTrimmed(rec, cStatus));
        let ml = fieldEnum(rec, cLevel, MEMBER_LEVELS, LEVEL_BYTES);
        if (ml === -2) ml = ENUM_MISSING;
        else if (ml < 0)
          return bad(
            'member_level',
            'CW_ROW_BAD_ENUM',
            `member_level must be one of ${MEMBER_LEVELS.join(', ')} or empty`,
            fieldTrimmed(rec, cLevel),
          );
        let balance = NaN;
        if (cBalance >= 0) {
          const fen = parseScaled(rec, cBalance, 2, thousands);
          if (fen === fen) balance = fen / 100;
          else if (!fieldIsEmpty(rec, cBalance))
            return bad(
              'prepaid_balance',
              'CW_ROW_BAD_NUMBER',
              'prepaid_balance is not an amount with at most 2 decimals',
              fieldTrimmed(rec, cBalance),
            );
        }
        const act = dateOf(rec, cActivation);
        if (act === undefined)
          return bad(
            'activation_date',
            'CW_ROW_BAD_DATE',
            'activation_date is not a date (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD)',
            fieldTrimmed(rec, cActivation),
          );
        const sin = dateOf(rec, cSince);
        if (sin === undefined)
          return bad(
            'status_since',
            'CW_ROW_BAD_DATE',
            'status_since is not a date (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD)',
            fieldTrimmed(rec, cSince),
          );

        const i = valid++;
        if (i === cap) room(i);
        if (keys !== null) {
          keys.appendField(rec, cId);
          lines[i] = rec.line;
        }
        if (values) {
          pushPhone(rec, cPhone, msisdn);
          pushTrimmed(rec, cName, name);
          pushTrimmed(rec, cRegion, region);
          pushTrimmed(rec, cManager, managerId);
          status[i] = st;
          memberLevel[i] = ml;
          prepaid[i] = balance;
          activation[i] = act;
          since[i] = sin;
        }
        return true;
      };
    },
    {
      onRows: opts.onRows,
      chunkSize: opts.chunkSize,
      range: opts.range,
      fast:
        opts.plain === false
          ? undefined
          : (c, width) => {
              const columns = fastColumns(c, width, input.delimiter.charCodeAt(0));
              fast = columns === null ? null : new SubscriberRows(columns, input.delimiter.charCodeAt(0), spans, fastValues, fold);
              return fast;
            },
    },
  );
  // The joined range keeps its room (joinScans fills it); any other scan lets it go.
  const cut = <T extends Uint8Array | Float32Array | Float64Array>(a: T): T =>
    (opts.sizeFor !== undefined ? a.subarray(0, valid) : a.slice(0, valid)) as T;
  return {
    valid,
    keys,
    lines: keys !== null ? cut(lines) : null,
    values: values
      ? {
          msisdn: msisdn.finish(),
          name: name.finish(),
          region: region.finish(),
          managerId: managerId.finish(),
          status: cut(status),
          memberLevel: cut(memberLevel),
          prepaidBalance: cut(prepaid),
          activationDate: cut(activation),
          statusSince: cut(since),
        }
      : null,
    rejects: log.rows,
    rejectedIds,
    stats,
  };
}

/** Indexes the ids of a keys scan, finds the duplicates and writes the final rejects. */
export function resolveKeys(scan: SubscriberScan, file: string): SubscriberKeys {
  const table = scan.keys!;
  const lines = scan.lines!;
  let firstOf = table.buildIndex();
  const dupRows: RejectRow[] = [];
  let dups = new Int32Array(0);
  if (firstOf !== null) {
    const list: number[] = [];
    const keep = new Uint8Array(scan.valid);
    for (let i = 0; i < scan.valid; i++) {
      if (firstOf[i] === i) keep[i] = 1;
      else {
        list.push(i);
        dupRows.push({
          file,
          line: lines[i]!,
          column: 'subscriber_id',
          code: 'CW_ROW_DUPLICATE_SUBSCRIBER',
          reason: DUPLICATE_REASON,
          raw: maskRaw('subscriber_id', table.keyString(i)),
        });
      }
    }
    dups = Int32Array.from(list);
    table.compact(keep);
    firstOf = table.buildIndex();
    if (firstOf !== null) throw new Error('IdTable: duplicates left after compaction');
  }
  // A row that failed a field check but whose id an earlier accepted row holds is a duplicate (that check comes first).
  const rejects = scan.rejects.slice();
  if (scan.rejectedIds.size > 0) {
    const acceptedLine = new Float64Array(table.n);
    for (let i = 0, a = 0, d = 0; i < scan.valid; i++) {
      if (d < dups.length && dups[d] === i) d++;
      else acceptedLine[a++] = lines[i]!;
    }
    for (const [at, key] of scan.rejectedIds) {
      const j = table.find(key, 0, key.length);
      const row = rejects[at]!;
      if (j >= 0 && acceptedLine[j]! < row.line) {
        rejects[at] = {
          file,
          line: row.line,
          column: 'subscriber_id',
          code: 'CW_ROW_DUPLICATE_SUBSCRIBER',
          reason: DUPLICATE_REASON,
          raw: maskRaw('subscriber_id', new TextDecoder().decode(key)),
        };
      }
    }
  }
  if (dupRows.length > 0) {
    rejects.push(...dupRows);
    rejects.sort((a, b) => a.line - b.line);
  }
  const stats = { ...scan.stats, accepted: scan.stats.accepted - dups.length, rejected: scan.stats.rejected + dups.length };
  return { table, dups, rejects, stats };
}

/** The subscriber table from a values scan and the resolved keys of the same file. */
export function applyKeys(values: SubscriberValues, keys: SubscriberKeys): SubscriberTable {
  let v = values;
  if (keys.dups.length > 0) {
    const n = v.msisdn.length;
    const keep = new Uint8Array(n).fill(1);
    for (const d of keys.dups) keep[d] = 0;
    const pick = <T extends TextColumn | CodedText>(a: T): T => a.filter(keep) as T;
    const pickTyped = <T extends Uint8Array | Float32Array | Float64Array>(a: T): T => a.filter((_, i) => keep[i]) as T;
    v = {
      msisdn: pick(v.msisdn),
      name: pick(v.name),
      region: pick(v.region),
      managerId: pick(v.managerId),
      status: pickTyped(v.status),
      memberLevel: pickTyped(v.memberLevel),
      prepaidBalance: pickTyped(v.prepaidBalance),
      activationDate: pickTyped(v.activationDate),
      statusSince: pickTyped(v.statusSince),
    };
  }
  if (v.msisdn.length !== keys.table.n) throw new Error(`subscriber values (${v.msisdn.length}) and keys (${keys.table.n}) disagree`);
  return { n: keys.table.n, idTable: keys.table, ids: idColumn(keys.table), ...v };
}

/**
 * The table's keys as a text column, over the same memory: the ids are held once
 * (134 MB at 10M), and stay when the table's index is dropped after the read.
 */
function idColumn(table: IdTable): TextColumn {
  const k = table.keyParts();
  if (k.keys.length > TEXT_COLUMN_MAX_BYTES) throw new RangeError('TextColumn: more than 2 GiB of text in one column');
  return new TextColumn(k.keys, new Int32Array(k.offsets.buffer, k.offsets.byteOffset, k.n + 1), k.n);
}

/** Reads subscribers.csv in this thread: the table, its stats, and its rejects added to `rejects`. */
export async function readSubscribers(
  path: string,
  file: string,
  input: InputOptions,
  rejects: RejectLog,
  opts: { onRows?: (rows: number, bytes: number) => void } = {},
): Promise<{ table: SubscriberTable; stats: FileStats }> {
  const scan = await scanSubscribers(path, file, input, { keys: true, values: true, onRows: opts.onRows });
  const keys = resolveKeys(scan, file);
  rejects.addRows(keys.rejects);
  return { table: sharedTable(applyKeys(scan.values!, keys)), stats: keys.stats };
}

/**
 * The table with its coded columns in shared memory, as the task-files worker reads
 * them (once the extracts are read: the codes are picked and joined until then).
 */
export function sharedTable(t: SubscriberTable): SubscriberTable {
  return { ...t, region: t.region.shared(), managerId: t.managerId.shared() };
}
