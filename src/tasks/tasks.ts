/**
 * Flagged subscribers → callback task rows, per tier, in rank order: who to call,
 * why (reason codes and a readable text with the evidence), what to offer, by which
 * channel and by when. Pure: values in, CSV bytes out to the writer it is handed
 * (the caller owns the file).
 */
import type { RulePack, RuleDef, TemplatePart } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { CONTACT_OUTCOMES } from '../rules/catalogue.js';
import { columnsFor, type Evaluation } from '../rules/evaluate.js';
import { formatDay, utcOffsetOf } from '../util/dates.js';
import type { TextColumn } from '../util/text-column.js';
import { isPhoneBytes } from '../util/phone.js';
import type { Scores } from '../score/score.js';
import type { ContactFold } from '../ingest/facts.js';
import { ChurnwatchError } from '../errors.js';
import { maskName, maskPhone } from '../output/mask.js';
import { csvLine } from '../output/csv.js';
import {
  ByteBuffer, cellBytes, decimalDigits, needsQuotes, NUMBER_ROOM, putAscii, putBytes, putCell, putDecimal, putFixed, putUint,
  startsLikeFormula, type CsvBytesWriter,
} from '../util/bytes.js';
import type { Column, CompiledNumber } from '../rules/compile.js';

export const TASK_COLUMNS = [
  'task_id', 'tier', 'rank', 'subscriber_id', 'msisdn', 'name', 'region', 'manager_id', 'assignee',
  'value', 'risk_score', 'expected_loss', 'reason_codes', 'reason_text', 'action', 'channel', 'due_at',
  'last_contact', 'last_outcome',
] as const;

/**
 * Columns that carry text from the extracts or the rule pack (neutralised against
 * formulas on output). subscriber_id is an identifier, but the contract lets it be
 * any text, so it is treated as text: a real id never starts with = + - @.
 * msisdn is not here: it is validated instead (digits, an optional leading +).
 * writeTaskFile writes the cells in this order with these choices built in;
 * test/tasks checks its files against csvLine() over TASK_COLUMNS and this set.
 */
export const TASK_FREE_TEXT = new Set(['subscriber_id', 'name', 'region', 'manager_id', 'reason_text', 'action', 'assignee', 'channel', 'msisdn_masked']);

/**
 * Which personal data the task files carry (run configuration output.mask and
 * output.dialer_full_number).
 * - mask false (default): msisdn and name as in the extract, the columns above.
 * - mask true: a column msisdn_masked (138****1234) follows msisdn, for the agent's
 *   screen; name is cut to its first character; msisdn keeps the full number for
 *   the dialer when dialerFullNumber is true, and is left empty when false (a
 *   consumer that never dials). The columns are the same either way, so one import
 *   template serves both.
 */
export interface TaskProfile {
  mask: boolean;
  dialerFullNumber: boolean;
}

export const DEFAULT_TASK_PROFILE: TaskProfile = { mask: false, dialerFullNumber: true };

export function taskColumns(profile: TaskProfile = DEFAULT_TASK_PROFILE): readonly string[] {
  if (!profile.mask) return TASK_COLUMNS;
  const cols: string[] = [...TASK_COLUMNS];
  cols.splice(cols.indexOf('msisdn') + 1, 0, 'msisdn_masked');
  return cols;
}

export function formatNumber(v: number, unit: string, isPercent: boolean): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (isPercent) {
    const r = Math.round(v * 10) / 10;
    return `${r < 0 ? '−' : r > 0 ? '+' : ''}${Math.abs(r)}%`;
  }
  switch (unit) {
    case 'money': return v.toFixed(2);
    case 'count': return String(Math.round(v));
    case 'day': return formatDay(v);
    default: return String(Math.round(v * 100) / 100);
  }
}

export function renderReason(parts: TemplatePart[], table: FeatureTable, i: number, D: number): string {
  return reasonRenderer(parts, table, D)(i);
}

/** A reason text's renderer with its feature columns looked up once, for one subscriber after another. */
export function reasonRenderer(parts: TemplatePart[], table: FeatureTable, D: number): (i: number) => string {
  const resolved = parts.map((p) => (typeof p === 'string' ? p : { p, cols: columnsFor(table, p.compiled.columns) }));
  return (i) => {
    let s = '';
    for (const r of resolved) s += typeof r === 'string' ? r : formatNumber(r.p.compiled.at(r.cols, i, D), r.p.unit, r.p.isPercent);
    return s;
  };
}

/** "2026-11-25T08:00+08:00": the issue time on D plus some hours, in the pack's zone. */
export function dueAt(D: number, issueTime: string, hours: number, timeZone: string): string {
  const [hh, mm] = issueTime.split(':').map(Number) as [number, number];
  const minutes = hh * 60 + mm + Math.round(hours * 60);
  const day = D + Math.floor(minutes / 1440);
  const rest = minutes % 1440;
  const hhmm = `${String(Math.floor(rest / 60)).padStart(2, '0')}:${String(rest % 60).padStart(2, '0')}`;
  return `${formatDay(day)}T${hhmm}${utcOffsetOf(timeZone, day)}`;
}

export interface TaskInput {
  pack: RulePack;
  D: number;
  subscribers: SubscriberTable;
  features: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
  contacts: ContactFold | null;
}

/**
 * One tier's task file (header and rows, in rank order) written to `w` as CSV bytes.
 *
 * Rank order visits the subscribers at random, and each row reads some thirty
 * subscriber-indexed columns (rule flags, feature values, text, scores, contacts):
 * at a million subscribers those scattered reads cost more than the formatting. So
 * the rows go in batches: a batch's rows are rendered in subscriber order, where the
 * reads of each column move forward through it, into one buffer (ByteBuffer); then
 * they are handed to the writer in rank order.
 *
 * Every cell gets the quoting and formula neutralising of CsvBytesWriter.cell (text
 * from the TextColumns as bytes, the rule pack's text encoded and quoted once per
 * file), so the file is the same, byte for byte, as csvLine() over formatted strings
 * gives; test/tasks holds such a string-built reference.
 */
export function writeTaskFile(w: CsvBytesWriter, input: TaskInput, tierName: string, order: number[], profile: TaskProfile): void {
  w.rawString(csvLine(taskColumns(profile)));
  const file = new TaskFile(input, tierName, order.length, profile);
  for (let from = 0; from < order.length; from += ROWS_PER_BATCH) {
    const to = Math.min(order.length, from + ROWS_PER_BATCH);
    file.renderBatch(order, from, to);
    file.writeBatch(w, from, to);
  }
}

/**
 * Rows per batch. The more rows, the closer together a batch's reads fall in each
 * column (at 1M subscribers, 2^16 rows touch about every 15th); the buffer holds
 * the batch's rendered rows, about 300 bytes each.
 */
const ROWS_PER_BATCH = 1 << 16;

/** rowStart of a row that must stop the run instead of being written (see writeBatch). */
const NO_RULE_HIT = -1, NOT_A_PHONE_NUMBER = -2;

/** formatDay of an absurd day number (a reason's 'day' part) can be longer. */
const DAY_ROOM = 96;

/** Rows whose reads prefetch() makes at once: few enough that all they read stays in the nearest caches. */
const PREFETCH_ROWS = 64;

const APOSTROPHE = 0x27, SEMICOLON = 0x3b, SPACE = 0x20, PLUS = 0x2b, MINUS = 0x2d, PERCENT = 0x25, COMMA = 0x2c;
const utf8 = new TextEncoder();
const NO_BYTES = new Uint8Array(0);
const REASON_SEPARATOR = utf8.encode('; ');
/** The '−' (U+2212) formatNumber puts before a falling percentage. */
const MINUS_SIGN = utf8.encode('−');
const NOT_AVAILABLE = utf8.encode('n/a');

/** An enabled rule as the task rows need it, its text encoded once per file. */
interface RulePlan {
  flags: Uint8Array;
  id: Uint8Array;
  weight: number;
  dueHours: number;
  reason: ReasonPart[];
  /** A literal part of the reason has a byte that makes the cell need quotes (numbers never do). */
  reasonNeedsQuotes: boolean;
  /** The most bytes the reason takes, with the separator before it. */
  reasonRoom: number;
  /** The action and channel cells and the comma between them, quoted and neutralised as the file has them. */
  actionAndChannel: Uint8Array;
}

/** What a set of hit rules decides for a row (see TaskFile.hitSet). */
interface HitSet {
  /** The reason codes cell: the rule ids joined by ';'. */
  codes: Uint8Array;
  /** ",action,channel,due_at," of the heaviest rule and the earliest due time. */
  tail: Uint8Array;
  /** The most bytes the reason text takes, and whether a literal in it makes the cell need quotes. */
  reasonRoom: number;
  reasonNeedsQuotes: boolean;
}

/** A piece of a reason template: literal text, or a number computed per subscriber (one shape for both keeps the loop over them monomorphic). */
interface ReasonPart {
  literal: Uint8Array;
  number: CompiledNumber | null;
  columns: Column[];
  unit: string;
  isPercent: boolean;
}

function planRule(r: RuleDef, flags: Uint8Array, features: FeatureTable): RulePlan {
  const action = cellBytes(r.action, true), channel = cellBytes(r.channel, true);
  const actionAndChannel = new Uint8Array(action.length + 1 + channel.length);
  actionAndChannel.set(action);
  actionAndChannel[action.length] = COMMA;
  actionAndChannel.set(channel, action.length + 1);
  const reason = r.reason.map((p): ReasonPart => (typeof p === 'string'
    ? { literal: utf8.encode(p), number: null, columns: [], unit: '', isPercent: false }
    : { literal: NO_BYTES, number: p.compiled, columns: columnsFor(features, p.compiled.columns), unit: p.unit, isPercent: p.isPercent }));
  const id = utf8.encode(r.id);
  return {
    flags, id, weight: r.weight, dueHours: r.dueHours,
    reason, reasonNeedsQuotes: reason.some((p) => needsQuotes(p.literal, 0, p.literal.length)),
    reasonRoom: reason.reduce((n, p) => n + (p.number === null ? p.literal.length : p.unit === 'day' ? DAY_ROOM : NUMBER_ROOM), REASON_SEPARATOR.length),
    actionAndChannel,
  };
}

/** One tier's file: what stays the same from row to row, encoded once, and the batches of rows. */
class TaskFile {
  private readonly rules: RulePlan[];
  private readonly D: number;
  private readonly issueTime: string;
  private readonly timeZone: string;
  private readonly profile: TaskProfile;
  private readonly tierName: string;
  /** "CW-20261123-H-": the task id up to its rank. */
  private readonly taskIdPrefix: Uint8Array;
  private readonly width: number;
  /** ",high," and the like: the comma after the task id, the tier cell, the comma before the rank. */
  private readonly tierCell: Uint8Array;
  private readonly assignee: Uint8Array;
  private readonly dueCells = new Map<number, Uint8Array>();
  private readonly dayCells = new Map<number, Uint8Array>();
  private readonly outcomeCells: Uint8Array[];
  private readonly ids: TextColumn;
  private readonly msisdn: TextColumn;
  private readonly name: TextColumn;
  private readonly region: TextColumn;
  private readonly managerId: TextColumn;
  private readonly value: Float64Array;
  private readonly risk: Float64Array;
  private readonly expectedLoss: Float64Array;
  private readonly lastContact: Float64Array | null;
  private readonly lastOutcome: Uint8Array | null;
  /** The batch in subscriber order: subscriber index × 2^16 + row, exact doubles that a numeric sort orders. */
  private readonly sortKeys: Float64Array;
  /** The batch's rendered rows, each without its line end: row r is rows.bytes[rowStart[r] .. rowEnd[r]). */
  private readonly rows = new ByteBuffer(1 << 16);
  private readonly rowStart: Int32Array;
  private readonly rowEnd: Int32Array;
  /** The batch in subscriber order: each one's subscriber and row. */
  private readonly subscriberAt: Int32Array;
  private readonly rowAt: Int32Array;
  /** What prefetch() reads: the per-subscriber numbers, the text columns, each rule's reason features. */
  private readonly prefetchNumbers: Float64Array[];
  private readonly prefetchText: TextColumn[];
  private readonly reasonColumns: Column[][];
  /** The sum of what prefetch() read: written so that the reads are not optimised away. */
  prefetchSink = 0;
  /** The hit bits of the rows prefetched, hitBits.length words a row. */
  private readonly chunkHits: Int32Array;
  /** The current row's hits: bit j % 32 of word j / 32 for enabled rule j. */
  private readonly hitBits: Int32Array;
  /** HitSets by the hit bits (the one word, or all of them joined). */
  private readonly hitSets = new Map<number | string, HitSet>();
  /** Room a row needs besides what varies from row to row: task id, rank twice, tier, assignee, numbers, commas and quotes. */
  private readonly rowRoom: number;

  constructor(input: TaskInput, tierName: string, rowCount: number, profile: TaskProfile) {
    const { pack, D } = input;
    this.rules = input.evaluation.rules.map((r, j) => planRule(r, input.evaluation.flags[j]!, input.features));
    this.D = D;
    this.issueTime = pack.tasks.issueTime;
    this.timeZone = pack.timeZone;
    this.profile = profile;
    this.tierName = tierName;
    this.taskIdPrefix = utf8.encode(`CW-${formatDay(D).replaceAll('-', '')}-${tierName[0]!.toUpperCase()}-`);
    this.width = Math.max(6, String(rowCount).length);
    const tier = cellBytes(tierName, false);
    this.tierCell = new Uint8Array(tier.length + 2);
    this.tierCell.set(tier, 1);
    this.tierCell[0] = this.tierCell[tier.length + 1] = COMMA;
    this.assignee = cellBytes(pack.assignees[tierName as 'high' | 'mid' | 'mass'], true);
    this.outcomeCells = CONTACT_OUTCOMES.map((o) => cellBytes(o, false));
    ({ ids: this.ids, msisdn: this.msisdn, name: this.name, region: this.region, managerId: this.managerId } = input.subscribers);
    this.value = input.evaluation.value;
    ({ risk: this.risk, expectedLoss: this.expectedLoss } = input.scores);
    this.lastContact = input.contacts?.lastContact ?? null;
    this.lastOutcome = input.contacts?.lastOutcome ?? null;
    const batchRows = Math.min(ROWS_PER_BATCH, rowCount);
    this.sortKeys = new Float64Array(batchRows);
    this.rowStart = new Int32Array(batchRows);
    this.rowEnd = new Int32Array(batchRows);
    this.hitBits = new Int32Array(Math.ceil(this.rules.length / 32));
    this.rowRoom = this.taskIdPrefix.length + 3 * this.width + this.tierCell.length + this.assignee.length + 3 * NUMBER_ROOM + 64;
    this.subscriberAt = new Int32Array(batchRows);
    this.rowAt = new Int32Array(batchRows);
    this.prefetchNumbers = [this.value, this.risk, this.expectedLoss];
    if (this.lastContact) this.prefetchNumbers.push(this.lastContact);
    this.reasonColumns = this.rules.map((r) => [...new Set(r.reason.flatMap((part) => part.columns))]);
    this.chunkHits = new Int32Array(PREFETCH_ROWS * this.hitBits.length);
    this.prefetchText = [this.ids, this.msisdn, this.name, this.region, this.managerId];
  }

  /** Renders rows from..to of `order` into the row buffer, in subscriber order. */
  renderBatch(order: number[], from: number, to: number): void {
    const n = to - from;
    const keys = this.sortKeys.subarray(0, n);
    for (let row = 0; row < n; row++) keys[row] = order[from + row]! * ROWS_PER_BATCH + row;
    keys.sort();
    const { subscriberAt, rowAt } = this;
    for (let q = 0; q < n; q++) {
      const key = keys[q]!;
      const i = Math.floor(key / ROWS_PER_BATCH);
      subscriberAt[q] = i;
      rowAt[q] = key - i * ROWS_PER_BATCH;
    }
    this.rows.length = 0;
    const words = this.hitBits.length;
    for (let q0 = 0; q0 < n; q0 += PREFETCH_ROWS) {
      const q1 = Math.min(n, q0 + PREFETCH_ROWS);
      this.prefetch(q0, q1);
      for (let q = q0; q < q1; q++) {
        for (let word = 0; word < words; word++) this.hitBits[word] = this.chunkHits[(q - q0) * words + word]!;
        this.renderRow(subscriberAt[q]!, rowAt[q]!, from + rowAt[q]! + 1);
      }
    }
  }

  /**
   * Reads what rows q0..q1 of the batch will read, ahead of rendering them. A row
   * reads some thirty columns, much of it at addresses known only from an earlier
   * read (text bytes from offsets) and between unpredictable branches, so rendering
   * would wait for each cache miss in turn; here the reads are independent of each
   * other, the misses overlap, and rendering finds the data in cache. The rule flags
   * are combined on the way (chunkHits), and the reason numbers' features are read
   * only for the rules a row hits.
   */
  private prefetch(q0: number, q1: number): void {
    const { subscriberAt: at, rules, chunkHits } = this;
    const words = this.hitBits.length;
    chunkHits.fill(0, 0, (q1 - q0) * words);
    for (let j = 0; j < rules.length; j++) {
      const flags = rules[j]!.flags, word = j >>> 5, shift = j & 31;
      for (let q = q0; q < q1; q++) chunkHits[(q - q0) * words + word] |= ((flags[at[q]!]! + 255) >> 8) << shift;
    }
    let sum = 0;
    for (let j = 0; j < rules.length; j++) {
      const word = j >>> 5, bit = 1 << (j & 31);
      for (const column of this.reasonColumns[j]!) {
        for (let q = q0; q < q1; q++) if (chunkHits[(q - q0) * words + word]! & bit) sum += column[at[q]!]!;
      }
    }
    for (const column of this.prefetchNumbers) for (let q = q0; q < q1; q++) sum += column[at[q]!]!;
    let bits = 0;
    if (this.lastOutcome) for (let q = q0; q < q1; q++) bits ^= this.lastOutcome[at[q]!]!;
    for (const text of this.prefetchText) {
      const offsets = text.offsets, bytes = text.bytes;
      for (let q = q0; q < q1; q++) bits ^= bytes[offsets[at[q]!]!]!;
    }
    // Kept, so that the reads are not optimised away.
    this.prefetchSink = sum + bits;
  }

  /** Rows from..to (ranks from + 1 .. to), in rank order. */
  writeBatch(w: CsvBytesWriter, from: number, to: number): void {
    const bytes = this.rows.bytes;
    for (let row = 0; row < to - from; row++) {
      const start = this.rowStart[row]!;
      if (start < 0) {
        const rank = from + row + 1;
        if (start === NO_RULE_HIT) throw new ChurnwatchError('CW_INTERNAL', `a subscriber without a rule hit reached the ${this.tierName} task file (rank ${rank})`);
        throw new ChurnwatchError('CW_INTERNAL', `a phone number that is not digits reached the ${this.tierName} task file (rank ${rank})`);
      }
      w.raw(bytes, start, this.rowEnd[row]!);
      w.endLine();
    }
  }

  /**
   * Subscriber i's row (rank `rank`, place `row` in the batch, hit rules in
   * hitBits) appended to the row buffer: room for the most it can take is made
   * first, then it is written without further checks.
   */
  private renderRow(i: number, row: number, rank: number): void {
    const hits = this.hitSet();
    if (hits === null) { this.rowStart[row] = NO_RULE_HIT; return; }
    const { ids, msisdn, name, region, managerId, profile } = this;
    const phoneStart = msisdn.offsets[i]!, phoneEnd = msisdn.offsets[i + 1]!;
    // Ingest validated the number; a phone column is never altered, so anything else stops the run.
    if (!isPhoneBytes(msisdn.bytes, phoneStart, phoneEnd)) { this.rowStart[row] = NOT_A_PHONE_NUMBER; return; }

    const idStart = ids.offsets[i]!, idEnd = ids.offsets[i + 1]!;
    let nameBytes = name.bytes, nameStart = name.offsets[i]!, nameEnd = name.offsets[i + 1]!;
    let maskedPhone = NO_BYTES;
    if (profile.mask) {
      maskedPhone = utf8.encode(maskPhone(msisdn.get(i)));
      nameBytes = utf8.encode(maskName(name.get(i)));
      nameStart = 0;
      nameEnd = nameBytes.length;
    }
    const regionStart = region.offsets[i]!, regionEnd = region.offsets[i + 1]!;
    const managerStart = managerId.offsets[i]!, managerEnd = managerId.offsets[i + 1]!;
    const lastDay = this.lastContact === null ? undefined : this.lastContact[i];
    const hasContact = lastDay !== undefined && !Number.isNaN(lastDay);
    const dayCell = hasContact ? this.dayCell(lastDay) : NO_BYTES;
    const outcomeCell = hasContact ? this.outcomeCells[this.lastOutcome![i]!] ?? NO_BYTES : NO_BYTES;

    const out = this.rows;
    // A cell takes at most twice its bytes and 3 more; the reason is written once as it comes, then perhaps again quoted.
    out.reserve(this.rowRoom + 2 * (idEnd - idStart + maskedPhone.length + nameEnd - nameStart + regionEnd - regionStart + managerEnd - managerStart)
      + (phoneEnd - phoneStart) + hits.codes.length + 3 * hits.reasonRoom + hits.tail.length + dayCell.length + outcomeCell.length);
    const dst = out.bytes;
    const start = out.length;
    let p = putBytes(dst, start, this.taskIdPrefix, 0, this.taskIdPrefix.length);
    for (let zeros = this.width - decimalDigits(rank); zeros > 0; zeros--) dst[p++] = 0x30;
    p = putUint(dst, p, rank);
    p = putBytes(dst, p, this.tierCell, 0, this.tierCell.length);
    p = putUint(dst, p, rank);
    dst[p++] = COMMA;
    p = putCell(dst, p, ids.bytes, idStart, idEnd, true);
    dst[p++] = COMMA;
    if (!profile.mask || profile.dialerFullNumber) p = putBytes(dst, p, msisdn.bytes, phoneStart, phoneEnd);
    dst[p++] = COMMA;
    if (profile.mask) {
      p = putCell(dst, p, maskedPhone, 0, maskedPhone.length, true);
      dst[p++] = COMMA;
    }
    p = putCell(dst, p, nameBytes, nameStart, nameEnd, true);
    dst[p++] = COMMA;
    p = putCell(dst, p, region.bytes, regionStart, regionEnd, true);
    dst[p++] = COMMA;
    p = putCell(dst, p, managerId.bytes, managerStart, managerEnd, true);
    dst[p++] = COMMA;
    p = putBytes(dst, p, this.assignee, 0, this.assignee.length);
    dst[p++] = COMMA;
    // The digits toFixed gives: it rounds the exact binary value (see putFixed).
    if (Number.isFinite(this.value[i])) p = putFixed(dst, p, this.value[i]!, 2); // NaN: not given, an empty cell
    dst[p++] = COMMA;
    p = putFixed(dst, p, this.risk[i]!, 4);
    dst[p++] = COMMA;
    p = putFixed(dst, p, this.expectedLoss[i]!, 2);
    dst[p++] = COMMA;
    p = putBytes(dst, p, hits.codes, 0, hits.codes.length);
    dst[p++] = COMMA;
    p = this.putReason(dst, p, i, hits.reasonNeedsQuotes);
    p = putBytes(dst, p, hits.tail, 0, hits.tail.length);
    p = putBytes(dst, p, dayCell, 0, dayCell.length);
    dst[p++] = COMMA;
    p = putBytes(dst, p, outcomeCell, 0, outcomeCell.length);
    out.length = p;
    this.rowStart[row] = start;
    this.rowEnd[row] = p;
  }

  /**
   * The reason texts of the hit rules joined by '; ', as one free-text cell, into
   * dst at p (with room for 3 × the hit set's reasonRoom); returns the end.
   */
  private putReason(dst: Uint8Array, p: number, i: number, needsQuoting: boolean): number {
    const { rules, hitBits, D } = this;
    const start = p;
    let first = true;
    for (let word = 0; word < hitBits.length; word++) {
      for (let bits = hitBits[word]!; bits !== 0; bits &= bits - 1) {
        const parts = rules[word * 32 + 31 - Math.clz32(bits & -bits)]!.reason;
        if (!first) { dst[p++] = SEMICOLON; dst[p++] = SPACE; }
        first = false;
        for (let k = 0; k < parts.length; k++) {
          const part = parts[k]!;
          if (part.number === null) p = putBytes(dst, p, part.literal, 0, part.literal.length);
          else p = putFormattedNumber(dst, p, part.number.at(part.columns, i, D), part.unit, part.isPercent);
        }
      }
    }
    // Written as it came; now what the cell needs: quotes (rare, so through a copy) or a leading "'".
    if (needsQuoting) {
      const text = dst.slice(start, p);
      return putCell(dst, start, text, 0, text.length, true);
    }
    if (startsLikeFormula(dst, start, p)) {
      dst.copyWithin(start + 1, start, p);
      dst[start] = APOSTROPHE;
      return p + 1;
    }
    return p;
  }

  /**
   * What the current hit rules (hitBits) decide, the same for every row that hits
   * them: the reason codes cell, and the action, channel and due time after the
   * reason. Null when no rule is hit.
   */
  private hitSet(): HitSet | null {
    const { rules, hitBits } = this;
    const key = hitBits.length === 1 ? hitBits[0]! : hitBits.join(',');
    let set = this.hitSets.get(key);
    if (set !== undefined) return set;
    // The heaviest rule (the first of equals) decides the action and channel; the most urgent one the deadline.
    let primary: RulePlan | null = null;
    let due = Infinity, reasonRoom = 0, reasonNeedsQuotes = false;
    const codes = new ByteBuffer(64);
    for (let word = 0; word < hitBits.length; word++) {
      for (let bits = hitBits[word]!; bits !== 0; bits &= bits - 1) {
        const r = rules[word * 32 + 31 - Math.clz32(bits & -bits)]!;
        if (primary !== null) codes.byte(SEMICOLON);
        if (primary === null || r.weight > primary.weight) primary = r;
        due = Math.min(due, r.dueHours);
        codes.append(r.id);
        reasonRoom += r.reasonRoom;
        reasonNeedsQuotes ||= r.reasonNeedsQuotes;
      }
    }
    if (primary === null) return null;
    const tail = new ByteBuffer(256);
    tail.byte(COMMA);
    tail.append(primary.actionAndChannel);
    tail.byte(COMMA);
    tail.append(this.dueCell(due));
    tail.byte(COMMA);
    set = { codes: cellBytes(codes.bytes.subarray(0, codes.length), false), tail: tail.toBytes(), reasonRoom, reasonNeedsQuotes };
    this.hitSets.set(key, set);
    return set;
  }

  private dueCell(hours: number): Uint8Array {
    let cell = this.dueCells.get(hours);
    if (cell === undefined) {
      cell = cellBytes(dueAt(this.D, this.issueTime, hours, this.timeZone), false);
      this.dueCells.set(hours, cell);
    }
    return cell;
  }

  private dayCell(day: number): Uint8Array {
    let cell = this.dayCells.get(day);
    if (cell === undefined) {
      cell = cellBytes(formatDay(day), false);
      this.dayCells.set(day, cell);
    }
    return cell;
  }
}

/**
 * formatNumber(v, unit, isPercent) into dst at p, which must have NUMBER_ROOM bytes
 * of room (DAY_ROOM for a day); returns the end. No string is made for whole
 * numbers and money.
 */
export function putFormattedNumber(dst: Uint8Array, p: number, v: number, unit: string, isPercent: boolean): number {
  if (!Number.isFinite(v)) return putBytes(dst, p, NOT_AVAILABLE, 0, NOT_AVAILABLE.length);
  if (isPercent) {
    const r = Math.round(v * 10) / 10;
    if (r < 0) p = putBytes(dst, p, MINUS_SIGN, 0, MINUS_SIGN.length);
    else if (r > 0) dst[p++] = PLUS;
    p = putDecimal(dst, p, Math.abs(r));
    dst[p++] = PERCENT;
    return p;
  }
  switch (unit) {
    case 'money': return putFixed(dst, p, v, 2);
    case 'count': return putDecimal(dst, p, Math.round(v));
    case 'day': return putAscii(dst, p, formatDay(v));
    default: return putDecimal(dst, p, Math.round(v * 100) / 100);
  }
}
