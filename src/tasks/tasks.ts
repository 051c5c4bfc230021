/**
 * Task files, rendered: the decisions of the plan (plan.ts) turned into one tier's
 * CSV bytes, header and rows in rank order. Pure: values in, bytes out to the
 * writer it is handed (the caller owns the file).
 *
 * The columns are TASK_COLUMN_SPEC, one entry each: its name, whether it is free
 * text (neutralised against formulas), and where its cell comes from. Adding a
 * column is adding an entry (and its test); the renderer turns the entries into
 * cell operations once per file.
 */
import type { RuleDef, RulePack, TemplatePart } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { CONTACT_OUTCOMES, TIERS } from '../contract/contract.js';
import { columnsFor, type Evaluation } from '../evaluate/evaluate.js';
import { formatDay } from '../util/dates.js';
import { CodedText, TextColumn, TextColumnBuilder } from '../util/text-column.js';
import type { Scores } from '../score/score.js';
import type { ContactFold } from '../ingest/facts.js';
import { ChurnwatchError } from '../errors.js';
import { maskName, maskPhone } from '../util/mask.js';
import {
  ByteBuffer,
  cellBytes,
  cellRoom,
  copyBytes,
  needsQuotes,
  NUMBER_ROOM,
  putAscii,
  putBytes,
  putCell,
  putDecimal,
  putFixed,
  putPadded,
  putScaled,
  putUint,
  startsLikeFormula,
  viewOf,
  type CsvBytesWriter,
} from '../util/bytes.js';
import type { Column, CompiledNumber, FeatureColumn } from '../rules/compile.js';
import { TASK_ID_WIDTH } from './ledger.js';
import { deltaRows, maskingOf, planTasks, type HitSetPlan, type Masking, type TaskPlan, type TaskProfile } from './plan.js';

export { DEFAULT_TASK_PROFILE, dueAt, type TaskProfile } from './plan.js';

export interface TaskInput {
  pack: RulePack;
  D: number;
  subscribers: SubscriberTable;
  features: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
  contacts: ContactFold | null;
  /** Per subscriber, the contact policy's task type (index into TASK_TYPES); absent: every task is a retention task. */
  taskType?: Uint8Array;
  /** Per tier (TIERS order), the ledger's ids and states of the rows (and their reasons' numbers); absent: ids by rank, every task new. */
  ledger?: { taskIds: Uint8Array[]; states: Uint8Array[]; reasons?: Int32Array[] };
}

/**
 * What rendering reads besides the plan, made from a TaskInput by renderInput(), or
 * rebuilt on a worker thread from the same columns in shared memory (output/task-files.ts).
 */
export interface RenderInput {
  D: number;
  /** Per TASK_COLUMN_SPEC entry (by name) that reads a subscriber column or a number column: that column. */
  columns: ReadonlyMap<string, TextColumn | CodedText | Float64Array>;
  /** At least the feature columns the rules' reason texts read. */
  features: FeatureTable;
  contacts: Pick<ContactFold, 'lastContact' | 'lastOutcome'> | null;
  /** The cells of one tier's subscribers rendered ahead (SubscriberCells), for the file of that tier. */
  cells?: SubscriberCells;
}

/** The columns TASK_COLUMN_SPEC's cells read, looked up in `input` once. */
export function renderInput(input: TaskInput): RenderInput {
  const columns = new Map<string, TextColumn | CodedText | Float64Array>();
  for (const c of TASK_COLUMN_SPEC) {
    if (c.cell.from === 'subscriber') columns.set(c.name, input.subscribers[c.cell.column]);
    else if (c.cell.from === 'number') columns.set(c.name, c.cell.column(input));
  }
  return { D: input.D, columns, features: input.features, contacts: input.contacts };
}

/** The feature columns (their keys) that the reason texts of `rules` read, in every locale they carry. */
export function reasonFeatures(rules: readonly RuleDef[]): string[] {
  const keys = new Set<string>();
  for (const r of rules)
    for (const reason of [r.reason, ...Object.values(r.texts).map((t) => t.reason)])
      for (const p of reason) if (typeof p !== 'string') for (const k of p.compiled.columns) keys.add(k);
  return [...keys];
}

/** Where a cell comes from. Closures here run once per file or per hit set, never per row. */
export type CellSource =
  /** The plan's task id. */
  | { from: 'taskId' }
  | { from: 'rank' }
  /** The same in every row of a file. */
  | { from: 'file'; value: (plan: TaskPlan) => string }
  /** A text attribute of the subscriber, shown as the plan's masking says for personal ones. */
  | { from: 'subscriber'; column: 'ids' | 'msisdn' | 'name' | 'region' | 'managerId'; personal?: 'phone' | 'maskedPhone' | 'name' }
  /** A per-subscriber number, as toFixed(digits) gives it. */
  | { from: 'number'; column: (input: TaskInput) => Float64Array; digits: 2 | 4 }
  /** The same for every row with the same hit rules (see HitSetPlan). */
  | { from: 'decision'; value: (hits: HitSetPlan) => string }
  /** The hit rules' reason texts with their evidence, joined by '; '. */
  | { from: 'reason' }
  /** The primary rule's channel, or the file's when a tier's rows are written to one file per channel. */
  | { from: 'channel' }
  /** The last contact's day, and its outcome; empty without one. */
  | { from: 'lastContact' }
  | { from: 'lastOutcome' };

export interface TaskColumnSpec {
  name: string;
  /** Text from the extracts or the rule pack: neutralised against formulas on output. */
  freeText: boolean;
  /** Present only when this holds for the file's masking (absent: always). */
  only?: (masking: Masking) => boolean;
  cell: CellSource;
}

/**
 * The task file's columns, in order. subscriber_id is an identifier, but the
 * contract lets it be any text, so it is free text: a real id never starts with
 * = + - @. msisdn is not free text: it is validated instead (digits, an optional
 * leading +), and never altered. test/tasks checks the files against csvLine() over
 * these names and the free-text set.
 */
export const TASK_COLUMN_SPEC: readonly TaskColumnSpec[] = [
  { name: 'task_id', freeText: false, cell: { from: 'taskId' } },
  { name: 'tier', freeText: false, cell: { from: 'file', value: (plan) => plan.tier } },
  { name: 'rank', freeText: false, cell: { from: 'rank' } },
  { name: 'subscriber_id', freeText: true, cell: { from: 'subscriber', column: 'ids' } },
  { name: 'msisdn', freeText: false, cell: { from: 'subscriber', column: 'msisdn', personal: 'phone' } },
  {
    name: 'msisdn_masked',
    freeText: true,
    only: (m) => m.maskedPhoneColumn,
    cell: { from: 'subscriber', column: 'msisdn', personal: 'maskedPhone' },
  },
  { name: 'name', freeText: true, cell: { from: 'subscriber', column: 'name', personal: 'name' } },
  { name: 'region', freeText: true, cell: { from: 'subscriber', column: 'region' } },
  { name: 'manager_id', freeText: true, cell: { from: 'subscriber', column: 'managerId' } },
  { name: 'assignee', freeText: true, cell: { from: 'file', value: (plan) => plan.assignee } },
  { name: 'value', freeText: false, cell: { from: 'number', column: (x) => x.evaluation.value, digits: 2 } },
  { name: 'risk_score', freeText: false, cell: { from: 'number', column: (x) => x.scores.risk, digits: 4 } },
  { name: 'expected_loss', freeText: false, cell: { from: 'number', column: (x) => x.scores.expectedLoss, digits: 2 } },
  { name: 'reason_codes', freeText: false, cell: { from: 'decision', value: (h) => h.codes } },
  { name: 'reason_text', freeText: true, cell: { from: 'reason' } },
  { name: 'action', freeText: true, cell: { from: 'decision', value: (h) => h.action } },
  { name: 'channel', freeText: true, cell: { from: 'channel' } },
  { name: 'due_at', freeText: false, cell: { from: 'decision', value: (h) => h.dueAt } },
  { name: 'last_contact', freeText: false, cell: { from: 'lastContact' } },
  { name: 'last_outcome', freeText: false, cell: { from: 'lastOutcome' } },
  { name: 'step', freeText: false, cell: { from: 'decision', value: (h) => h.taskType } },
  { name: 'state', freeText: false, cell: { from: 'decision', value: (h) => h.state } },
];

/** The columns of a file without masking. */
export const TASK_COLUMNS: readonly string[] = TASK_COLUMN_SPEC.filter((c) => c.only === undefined).map((c) => c.name);

export const TASK_FREE_TEXT: ReadonlySet<string> = new Set(TASK_COLUMN_SPEC.filter((c) => c.freeText).map((c) => c.name));

function specFor(masking: Masking): TaskColumnSpec[] {
  return TASK_COLUMN_SPEC.filter((c) => c.only === undefined || c.only(masking));
}

export function taskColumns(profile: TaskProfile): readonly string[] {
  return specFor(maskingOf(profile)).map((c) => c.name);
}

export function formatNumber(v: number, unit: string, isPercent: boolean): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (isPercent) {
    const r = Math.round(v * 10) / 10;
    return `${r < 0 ? '−' : r > 0 ? '+' : ''}${Math.abs(r)}%`;
  }
  switch (unit) {
    case 'money':
      return v.toFixed(2);
    case 'count':
      return String(Math.round(v));
    case 'day':
      return formatDay(v);
    default:
      return String(Math.round(v * 100) / 100);
  }
}

export function renderReason(parts: TemplatePart[], table: FeatureTable, i: number, D: number): string {
  return reasonRenderer(parts, table, D)(i);
}

/** A reason text's renderer with its feature columns looked up once, for one subscriber after another. */
export function reasonRenderer(parts: TemplatePart[], table: FeatureTable, D: number): (i: number) => string {
  const resolved = parts.map((p) => (typeof p === 'string' ? p : { p, cols: columnsFor(table, p.compiled.columns) }));
  const rows = table.rows;
  return (i) => {
    const at = rows === undefined ? i : rows[i]!;
    let s = '';
    for (const r of resolved) s += typeof r === 'string' ? r : formatNumber(r.p.compiled.at(r.cols, at, D), r.p.unit, r.p.isPercent);
    return s;
  };
}

/**
 * One tier's task file (header and rows, in rank order) written to `w`: planned by
 * planTasks, then rendered. With `delta`, the tier's delta file goes to it in the
 * same pass: the rows the plan marks for it (new and escalated tasks), each the same
 * bytes as its row in the full file (its tier rank and task id included), so a team
 * can sort the delta by rank and find each row again in the full file.
 */
export function writeTaskFile(
  w: CsvBytesWriter,
  input: TaskInput,
  tierName: string,
  order: readonly number[],
  profile: TaskProfile,
  delta?: CsvBytesWriter,
): void {
  const tierIndex = TIERS.indexOf(tierName as (typeof TIERS)[number]);
  if (tierIndex < 0) throw new ChurnwatchError('CW_INTERNAL', `no tier ${tierName}`);
  const plan = planTasks(
    {
      pack: input.pack,
      D: input.D,
      evaluation: input.evaluation,
      msisdn: input.subscribers.msisdn,
      taskType: input.taskType,
      ledger: input.ledger && { taskIds: input.ledger.taskIds[tierIndex]!, states: input.ledger.states[tierIndex]! },
    },
    TIERS,
    tierIndex,
    order,
    profile,
  );
  const targets: TaskFileTarget[] = [{ w, rows: null, channel: null }];
  if (delta !== undefined) targets.push({ w: delta, rows: deltaRows(plan), channel: null });
  renderTaskFiles(renderInput(input), plan, targets);
}

/** One file that a tier's rows go to. */
export interface TaskFileTarget {
  w: CsvBytesWriter;
  /** The plan rows it takes, ascending (rank order); null: every row. */
  rows: Int32Array | null;
  /** The channel every row's channel cell names (the file's); null: each row's primary rule's. */
  channel: string | null;
}

/**
 * A tier's rows written to several files in one pass (its channel files, their
 * deltas), in rank order: each row is rendered once, straight into the first file
 * that takes it, then copied into every other file that takes it, its channel cell
 * replaced by the file's. A row's other cells do not depend on the file (its rank
 * and id are the tier's), so each file is, byte for byte, what rendering its rows
 * alone would give.
 *
 * Rank order visits the subscribers at random, and each row reads some thirty
 * subscriber-indexed columns (rule features, text, scores, contacts): at a million
 * subscribers each read would wait for its cache miss. So the reads of the next few
 * rows are made first, all at once (TaskFile.prefetch), and rendering finds them in
 * cache. (Rendering batches of rows in subscriber order into a buffer, then copying
 * them out in rank order, costs as much in sorting and copying as it saves.)
 *
 * Every cell gets the quoting and neutralising of util/bytes.ts putCell, so the file
 * is the same, byte for byte, as csvLine() over formatted strings gives; test/tasks
 * holds such a string-built reference.
 */
export function renderTaskFiles(input: RenderInput, plan: TaskPlan, targets: readonly TaskFileTarget[]): void {
  const spec = specFor(plan.masking);
  for (const { w: out } of targets) {
    spec.forEach((c, k) => {
      if (k > 0) out.comma();
      out.cellString(c.name, false);
    });
    out.endLine();
  }
  new TaskFile(input, plan, spec).render(targets);
}

/** formatDay of an absurd day number (a reason's 'day' part) can be longer than NUMBER_ROOM. */
const DAY_ROOM = 96;

/** Rows whose reads prefetch() makes at once: few enough that all they read stays in the nearest caches. */
const PREFETCH_ROWS = 32;

const LF = 0x0a,
  QUOTE = 0x22,
  APOSTROPHE = 0x27,
  PLUS = 0x2b,
  PERCENT = 0x25,
  COMMA = 0x2c;
const utf8 = new TextEncoder();
const NO_BYTES = new Uint8Array(0);
const NO_NUMBERS = new Float64Array(0);
const NO_CODES = new Uint16Array(0);
const REASON_SEPARATOR = utf8.encode('; ');
/** The '−' (U+2212) formatNumber puts before a falling percentage. */
const MINUS_SIGN = utf8.encode('−');
const NOT_AVAILABLE = utf8.encode('n/a');

/** Cell operations: TASK_COLUMN_SPEC's sources as the renderer's switch takes them. */
const TASK_ID = 0,
  RANK = 1,
  CONSTANT = 2,
  TEXT = 3,
  MASKED_PHONE = 4,
  MASKED_NAME = 5,
  FIXED = 6,
  DECISION = 7,
  REASON = 8,
  LAST_CONTACT = 9,
  LAST_OUTCOME = 10,
  CHANNEL = 11,
  CODED = 12,
  /** A number of the reason text written in place (see rowSteps). */
  NUMBER = 13,
  /** The same, first in a free-text reason: neutralised if it starts like a formula. */
  LEADING_NUMBER = 14,
  /** The row's end (its line end is the literal before). */
  END = 15,
  /** A run of the subscriber's own cells, copied from SubscriberCells (its op: the run's index). */
  RUN = 16;

/** One cell operation; every field is present in each, so the loop over them sees one shape. */
interface CellOp {
  kind: number;
  freeText: boolean;
  /** CONSTANT: the cell's bytes. */
  bytes: Uint8Array;
  /**
   * TEXT, MASKED_*: the column (null: the cell stays empty, as a phone the plan leaves
   * out). CODED: each dictionary entry's cell, as written (see codedCells).
   */
  text: TextColumn | null;
  /** CODED: the row's dictionary entry. */
  codes: Uint16Array | Uint32Array;
  /** FIXED: the numbers and their digits. */
  numbers: Float64Array;
  digits: 2 | 4;
  /** DECISION: the index into a hit set's decision cells. */
  decision: number;
}

/** An empty constant cell: what a step without a cell of its own holds, and where each cell's operation starts. */
const NO_OP: CellOp = {
  kind: CONSTANT,
  freeText: false,
  bytes: NO_BYTES,
  text: null,
  codes: NO_CODES,
  numbers: NO_NUMBERS,
  digits: 2,
  decision: -1,
};

/** A piece of a reason template: literal text, or a number computed per subscriber (one shape for both keeps the loop over them monomorphic). */
interface ReasonPart {
  literal: Uint8Array;
  number: CompiledNumber | null;
  columns: FeatureColumn[];
  /** The arrays of `columns` (a measure's scaled sums: their values), which prefetch() reads. */
  values: Column[];
  unit: string;
  isPercent: boolean;
}

/**
 * A tier's hit sets as the renderer needs them, indexed by hit set. A calibrated
 * pack's largest tier has thousands of hit sets: held as an array and a few objects
 * each, they were tens of thousands of small arrays that every garbage collection of
 * the rendering thread walked; packed into a few typed arrays, they are a handful.
 */
interface HitSetCells {
  /** The channel cell: the primary rule's channel (hit sets with the same channel share it). */
  channel: Uint8Array[];
  /** Room the row needs for this hit set's cells. */
  room: Int32Array;
  /** The feature columns the reason reads (hit sets with the same reasons share them). */
  reasonColumns: Column[][];
  /** The row as this hit set writes it: its steps (see RowSteps) from here to the next END. */
  firstStep: Int32Array;
  steps: RowSteps;
}

/**
 * Rows, as the cells of each hit set make them: a run of bytes that are the same in
 * every row of the hit set (constant and decision cells, commas, the reason text's
 * literals), then one cell (or reason number) computed per row, and so on, up to
 * END. A row is then a dozen copies and computed cells instead of a dispatch per
 * cell and per reason part. Step s writes literals[literalStart[s]..literalStart[s + 1]),
 * then its kind's cell.
 */
interface RowSteps {
  literals: Uint8Array;
  literalStart: Int32Array;
  kind: Uint8Array;
  /** TASK_ID, RANK, TEXT, CODED, MASKED_*, FIXED, LAST_*: the cell's operation (index into TaskFile.ops). */
  op: Uint8Array;
  /** NUMBER: the reason part (index into HitSetCells' parts). */
  part: Int32Array;
  parts: ReasonPart[];
}

function reasonParts(parts: TemplatePart[], features: FeatureTable): ReasonPart[] {
  return parts.map((p) =>
    typeof p === 'string'
      ? reasonPart(utf8.encode(p), null, [], '', false)
      : reasonPart(NO_BYTES, p.compiled, columnsFor(features, p.compiled.columns), p.unit, p.isPercent),
  );
}

/** Every ReasonPart made here: one shape for literals and numbers alike. */
function reasonPart(
  literal: Uint8Array,
  number: CompiledNumber | null,
  columns: FeatureColumn[],
  unit: string,
  isPercent: boolean,
): ReasonPart {
  return { literal, number, columns, values: columns.map((c) => ('unit' in c ? c.values : c)), unit, isPercent };
}

const SEPARATOR_PART = reasonPart(REASON_SEPARATOR, null, [], '', false);
const NO_PART = reasonPart(NO_BYTES, null, [], '', false);

/** One tier's file: its cell operations, and what each hit set puts in the row. */
class TaskFile {
  private readonly plan: TaskPlan;
  private readonly D: number;
  private readonly ops: CellOp[];
  private readonly hitSets: HitSetCells;
  private readonly taskIdPrefix: Uint8Array;
  /** Room a row needs besides its text cells and its hit set's. */
  private readonly fixedRoom: number;
  private readonly textOps: CellOp[];
  private readonly subscriberCells: SubscriberCellWriter;
  /** The tier's subscriber cells rendered ahead, when they are this file's (else null: rendered per row). */
  private readonly cells: SubscriberCells | null;
  private readonly featureRows: Int32Array | undefined;
  /** Where the last row rendered has its channel cell (in the writer it went to). */
  private channelStart = 0;
  private channelEnd = 0;
  /** And the channel cell of its hit set. */
  private rowChannel: Uint8Array = NO_BYTES;
  /** Whether the channel column is free text (how a file's own channel cell is written). */
  private readonly channelFreeText: boolean;
  /** What prefetch() reads. */
  private readonly prefetchNumbers: (Float64Array | Float32Array)[];
  private readonly prefetchText: TextColumn[];
  /** The coded columns' codes (their dictionaries' cells are few, and stay in cache). */
  private readonly prefetchCodes: (Uint16Array | Uint32Array)[];
  private readonly prefetchOutcome: Uint8Array | null;
  /** The sum of what prefetch() read: written so that the reads are not optimised away. */
  prefetchSink = 0;
  /** Views (viewOf) of what rows are copied from: the hit sets' literals, the subscriber cells, the task ids. */
  private readonly literalView: DataView;
  private readonly cellsView: DataView;
  private readonly idsView: DataView;
  /** Per target, its writer's buffer as last seen and its view: made again only when the writer grows its buffer. */
  private targetBytes: Uint8Array[] = [];
  private targetViews: DataView[] = [];

  constructor(input: RenderInput, plan: TaskPlan, spec: readonly TaskColumnSpec[]) {
    this.plan = plan;
    this.D = input.D;
    this.featureRows = input.features.rows;
    this.taskIdPrefix = utf8.encode(plan.taskIdPrefix);
    const decisions: { value: (h: HitSetPlan) => string; freeText: boolean }[] = [];
    this.ops = spec.map((c) => cellOp(c, input, plan, plan.masking, decisions));
    const cells = input.cells;
    this.cells = cells !== undefined && cells.tier === plan.tier && sameMasking(cells.masking, plan.masking) ? cells : null;
    const runs = subscriberRuns(this.ops);
    if (this.cells !== null && this.cells.runs !== runs.ops.length)
      throw new ChurnwatchError('CW_INTERNAL', `the ${plan.tier} tier's subscriber cells were rendered for other columns`);
    // With the subscriber cells rendered ahead, a row reads none of their columns.
    const own = this.cells === null ? this.ops : this.ops.filter((_, k) => runs.start[k] === NOT_IN_RUN);
    this.textOps = own.filter((op) => op.text !== null && op.kind !== CODED);
    const rules = plan.rules.map((r) => reasonParts(r.reason, input.features));
    this.channelFreeText = spec.find((c) => c.cell.from === 'channel')?.freeText ?? false;
    this.hitSets = hitSetCells(plan.hitSets, rules, decisions, this.channelFreeText, this.ops, this.cells === null ? null : runs.start);
    this.literalView = viewOf(this.hitSets.steps.literals);
    this.cellsView = viewOf(this.cells === null ? NO_BYTES : this.cells.bytes);
    this.idsView = viewOf(plan.taskIdBytes ?? NO_BYTES);
    this.fixedRoom = this.ops.length + own.reduce((n, op) => n + (op.kind === TASK_ID ? this.taskIdPrefix.length + 16 : cellOpRoom(op)), 0);
    this.subscriberCells = new SubscriberCellWriter(input.contacts);
    const { lastContact, lastOutcome } = this.subscriberCells;
    this.prefetchNumbers = own.filter((op) => op.kind === FIXED).map((op) => op.numbers);
    const contactsRead = own.some((op) => op.kind === LAST_CONTACT || op.kind === LAST_OUTCOME);
    if (lastContact && contactsRead) this.prefetchNumbers.push(lastContact);
    this.prefetchOutcome = contactsRead ? lastOutcome : null;
    this.prefetchText = [...new Set(this.textOps.map((op) => op.text!))];
    this.prefetchCodes = [...new Set(own.filter((op) => op.kind === CODED).map((op) => op.codes))];
  }

  /** Every row of the plan, in rank order, into each target that takes it (see renderTaskFiles). */
  render(targets: readonly TaskFileTarget[]): void {
    const rows = this.plan.subscriber.length;
    const channels = targets.map((t) => (t.channel === null ? null : this.channelCell(t.channel)));
    this.targetBytes = targets.map(() => NO_BYTES);
    this.targetViews = targets.map(() => NO_VIEW);
    // Per target, the next of its rows to write.
    const next = new Int32Array(targets.length);
    for (let r0 = 0; r0 < rows; r0 += PREFETCH_ROWS) {
      const r1 = Math.min(rows, r0 + PREFETCH_ROWS);
      this.prefetch(r0, r1);
      for (let r = r0; r < r1; r++) {
        let into: CsvBytesWriter | null = null,
          from = 0,
          start = 0,
          end = 0;
        for (let k = 0; k < targets.length; k++) {
          const list = targets[k]!.rows;
          if (list !== null) {
            const q = next[k]!;
            if (q >= list.length || list[q] !== r) continue;
            next[k] = q + 1;
          }
          const w = targets[k]!.w;
          if (into === null) {
            into = w;
            from = k;
            start = this.renderRow(r, w, k, channels[k]!);
            end = w.length;
          } else this.copyRow(into.bytes, this.viewOf(from, into.bytes), start, end, w, k, channels[k]!);
        }
        into?.lineTaken();
      }
    }
  }

  /**
   * Reads what rows r0..r1 will read, ahead of rendering them. A row reads many
   * columns, much of it at addresses known only from an earlier read (text bytes
   * from offsets) and between unpredictable branches, so rendering would wait for
   * each cache miss in turn; here the reads are independent of each other, the
   * misses overlap, and rendering finds the data in cache.
   */
  private prefetch(r0: number, r1: number): void {
    const at = this.plan.subscriber,
      hitSet = this.plan.hitSet,
      reasonColumns = this.hitSets.reasonColumns;
    let sum = 0;
    for (let r = r0; r < r1; r++) {
      const columns = reasonColumns[hitSet[r]!]!,
        i = this.featureRow(at[r]!);
      for (let k = 0; k < columns.length; k++) sum += columns[k]![i]!;
    }
    for (const column of this.prefetchNumbers) for (let r = r0; r < r1; r++) sum += column[at[r]!]!;
    let bits = 0;
    const cells = this.cells;
    if (cells !== null) {
      // A row's runs lie together: their first and last bytes.
      const runsAt = cells.at,
        bytes = cells.bytes,
        stride = cells.runs + 1;
      for (let r = r0; r < r1; r++) {
        const base = this.featureRow(at[r]!) * stride;
        bits ^= bytes[runsAt[base]!]! ^ bytes[runsAt[base + stride - 1]! - 1]!;
      }
    }
    const outcome = this.prefetchOutcome;
    if (outcome) for (let r = r0; r < r1; r++) bits ^= outcome[at[r]!]!;
    for (const text of this.prefetchText) {
      const offsets = text.offsets,
        bytes = text.bytes;
      for (let r = r0; r < r1; r++) bits ^= bytes[offsets[at[r]!]!]!;
    }
    for (const codes of this.prefetchCodes) for (let r = r0; r < r1; r++) bits ^= codes[at[r]!]!;
    // Kept, so that the reads are not optimised away.
    this.prefetchSink = sum + bits;
  }

  /** A file's own channel cell. */
  channelCell(channel: string): Uint8Array {
    return cellBytes(channel, this.channelFreeText);
  }

  /** Target k's writer's buffer `bytes`, viewed (viewOf). */
  private viewOf(k: number, bytes: Uint8Array): DataView {
    if (this.targetBytes[k] !== bytes) {
      this.targetBytes[k] = bytes;
      this.targetViews[k] = viewOf(bytes);
    }
    return this.targetViews[k]!;
  }

  /**
   * The row just rendered (bytes[start..end), its line end included; `view` views
   * bytes) into `w`, target k's writer, with `channel` (null: the row's own) in its
   * channel cell.
   */
  private copyRow(
    bytes: Uint8Array,
    view: DataView,
    start: number,
    end: number,
    w: CsvBytesWriter,
    k: number,
    channel: Uint8Array | null,
  ): void {
    const cell = channel ?? this.rowChannel,
      from = this.channelStart,
      to = this.channelEnd;
    const same = sameBytes(cell, bytes, from, to);
    w.reserve(end - start + (same ? 0 : cell.length));
    const dst = w.bytes,
      dv = this.viewOf(k, dst);
    let p = w.length;
    if (same) p = copyBytes(dst, dv, p, bytes, view, start, end);
    else {
      p = copyBytes(dst, dv, p, bytes, view, start, from);
      p = putBytes(dst, p, cell, 0, cell.length);
      p = copyBytes(dst, dv, p, bytes, view, to, end);
    }
    w.took(p);
    w.lineTaken();
  }

  /**
   * Plan row r, its line end included, written into `w` from where it is (returned)
   * on, with `channel` (null: the row's own) in its channel cell; the caller ends
   * the line (CsvBytesWriter.lineTaken) once it has copied the row elsewhere. Room for
   * the most it can take is made first, then it is written without further checks.
   */
  private renderRow(r: number, w: CsvBytesWriter, k: number, channel: Uint8Array | null): number {
    const i = this.plan.subscriber[r]!;
    const h = this.plan.hitSet[r]!,
      hits = this.hitSets;
    const cell = channel ?? hits.channel[h]!;
    let room = this.fixedRoom + hits.room[h]! + cell.length;
    const textOps = this.textOps;
    for (let k = 0; k < textOps.length; k++) {
      const o = textOps[k]!.text!.offsets;
      room += cellRoom(o[i + 1]! - o[i]!);
    }
    const cells = this.cells;
    let runsAt = -1;
    if (cells !== null) {
      runsAt = this.featureRow(i) * (cells.runs + 1);
      const first = cells.at[runsAt]!;
      if (first < 0)
        throw new ChurnwatchError('CW_INTERNAL', `a subscriber's cells were not rendered ahead (${this.plan.tier} rank ${r + 1})`);
      room += cells.at[runsAt + cells.runs]! - first;
    }
    w.reserve(room);
    const dst = w.bytes,
      dv = this.viewOf(k, dst),
      { literals, literalStart, kind: kinds, op: stepOps, part: stepParts, parts } = hits.steps,
      literalView = this.literalView,
      ops = this.ops;
    const start = w.length;
    let p = start;
    this.channelStart = start;
    this.channelEnd = start;
    this.rowChannel = hits.channel[h]!;
    for (let s = hits.firstStep[h]!; ; s++) {
      p = copyBytes(dst, dv, p, literals, literalView, literalStart[s]!, literalStart[s + 1]!);
      const kind = kinds[s]!;
      if (kind === END) break;
      if (kind === NUMBER || kind === LEADING_NUMBER) {
        const part = parts[stepParts[s]!]!,
          at = p;
        p = putFormattedNumber(dst, p, part.number!.at(part.columns, this.featureRow(i), this.D), part.unit, part.isPercent);
        // A free-text reason that starts with a number: a sign would start a formula.
        if (kind === LEADING_NUMBER && startsLikeFormula(dst, at, p)) {
          dst.copyWithin(at + 1, at, p);
          dst[at] = APOSTROPHE;
          p++;
        }
        continue;
      }
      switch (kind) {
        case RUN: {
          const x = runsAt + stepOps[s]!,
            runs = cells!.at;
          p = copyBytes(dst, dv, p, cells!.bytes, this.cellsView, runs[x]!, runs[x + 1]!);
          break;
        }
        case CHANNEL:
          this.channelStart = p;
          p = putBytes(dst, p, cell, 0, cell.length);
          this.channelEnd = p;
          break;
        case TASK_ID: {
          const ids = this.plan.taskIdBytes;
          if (ids !== null) {
            p = copyBytes(dst, dv, p, ids, this.idsView, r * TASK_ID_WIDTH, (r + 1) * TASK_ID_WIDTH);
            break;
          }
          p = putBytes(dst, p, this.taskIdPrefix, 0, this.taskIdPrefix.length);
          p = putPadded(dst, p, this.rankOf(r), this.plan.rankWidth);
          break;
        }
        case RANK:
          p = putUint(dst, p, this.rankOf(r));
          break;
        default:
          p = this.subscriberCells.put(ops[stepOps[s]!]!, i, dst, p);
      }
    }
    w.took(p);
    return start;
  }

  /** Plan row r's rank in its tier. */
  private rankOf(r: number): number {
    return this.plan.rank === null ? r + 1 : this.plan.rank[r]!;
  }

  /** Subscriber i's row of the feature columns (the duckdb engine brings back only the flagged subscribers' rows). */
  private featureRow(i: number): number {
    return this.featureRows === undefined ? i : this.featureRows[i]!;
  }
}

/** A column's cell operation; `plan` null: the file's own cells are not wanted (SubscriberCells). */
function cellOp(
  c: TaskColumnSpec,
  input: RenderInput,
  plan: TaskPlan | null,
  masking: Masking,
  decisions: { value: (h: HitSetPlan) => string; freeText: boolean }[],
): CellOp {
  const op: CellOp = { ...NO_OP, freeText: c.freeText };
  const cell = c.cell;
  switch (cell.from) {
    case 'taskId':
      op.kind = TASK_ID;
      break;
    case 'rank':
      op.kind = RANK;
      break;
    case 'file':
      op.bytes = cellBytes(plan === null ? '' : cell.value(plan), c.freeText);
      break;
    case 'subscriber': {
      const text = input.columns.get(c.name);
      if (text instanceof CodedText) {
        // Only region and manager_id are coded: nothing masks them.
        if (cell.personal !== undefined) throw new ChurnwatchError('CW_INTERNAL', `task column ${c.name} is personal, yet coded`);
        op.kind = CODED;
        op.text = codedCells(text.dict, c.freeText);
        op.codes = text.codes;
        break;
      }
      if (!(text instanceof TextColumn)) throw new ChurnwatchError('CW_INTERNAL', `no text column for task column ${c.name}`);
      if (cell.personal === 'maskedPhone') {
        op.kind = MASKED_PHONE;
        op.text = text;
      } else if (cell.personal === 'name' && masking.name === 'initial') {
        op.kind = MASKED_NAME;
        op.text = text;
      } else if (cell.personal !== 'phone' || masking.phone === 'full') {
        op.kind = TEXT;
        op.text = text;
      }
      break;
    }
    case 'number': {
      const numbers = input.columns.get(c.name);
      if (!(numbers instanceof Float64Array)) throw new ChurnwatchError('CW_INTERNAL', `no number column for task column ${c.name}`);
      op.kind = FIXED;
      op.numbers = numbers;
      op.digits = cell.digits;
      break;
    }
    case 'decision':
      op.kind = DECISION;
      op.decision = decisions.push({ value: cell.value, freeText: c.freeText }) - 1;
      break;
    case 'reason':
      op.kind = REASON;
      break;
    case 'lastContact':
      op.kind = LAST_CONTACT;
      break;
    case 'lastOutcome':
      op.kind = LAST_OUTCOME;
      break;
    case 'channel':
      op.kind = CHANNEL;
      break;
  }
  return op;
}

/** The most bytes a cell of `op` takes besides its text (TEXT, MASKED_*: by the row's text) and its comma. */
function cellOpRoom(op: CellOp): number {
  switch (op.kind) {
    case CONSTANT:
      return op.bytes.length;
    case RANK:
    case FIXED:
      return NUMBER_ROOM;
    case LAST_CONTACT:
      return DAY_ROOM;
    case LAST_OUTCOME:
      return 32;
    case CODED:
      return longestCell(op.text!);
    default:
      return 0;
  }
}

function sameMasking(a: Masking, b: Masking): boolean {
  return a.phone === b.phone && a.maskedPhoneColumn === b.maskedPhoneColumn && a.name === b.name;
}

/** runs.start[k] of a cell operation that is in no run, and of one that is in a run but not its first. */
const NOT_IN_RUN = -1,
  IN_RUN = -2;

/**
 * The runs of adjacent cells that come from the subscriber alone (text, coded text,
 * numbers, the last contact): the same in every file, whatever the policy decides.
 * `start[k]` is the index of the run cell operation k starts, else NOT_IN_RUN or IN_RUN.
 */
function subscriberRuns(ops: readonly CellOp[]): { ops: number[][]; start: Int32Array } {
  const runs: number[][] = [];
  const start = new Int32Array(ops.length).fill(NOT_IN_RUN);
  ops.forEach((op, k) => {
    if (!SUBSCRIBER_KINDS.has(op.kind)) return;
    if (k > 0 && start[k - 1] !== NOT_IN_RUN) {
      runs[runs.length - 1]!.push(k);
      start[k] = IN_RUN;
    } else start[k] = runs.push([k]) - 1;
  });
  return { ops: runs, start };
}

const SUBSCRIBER_KINDS: ReadonlySet<number> = new Set([TEXT, CODED, FIXED, MASKED_PHONE, MASKED_NAME, LAST_CONTACT, LAST_OUTCOME]);

/** The cells a row takes from its subscriber alone, as renderRow and SubscriberCells write them. */
class SubscriberCellWriter {
  private readonly dayCells = new Map<number, Uint8Array>();
  private readonly outcomeCells: Uint8Array[] = CONTACT_OUTCOMES.map((o) => cellBytes(o, false));
  readonly lastContact: Float32Array | null;
  readonly lastOutcome: Uint8Array | null;

  constructor(contacts: RenderInput['contacts']) {
    this.lastContact = contacts?.lastContact ?? null;
    this.lastOutcome = contacts?.lastOutcome ?? null;
  }

  /** Subscriber i's cell of `op` (one of SUBSCRIBER_KINDS) into dst at p, with room made; returns the end. */
  put(op: CellOp, i: number, dst: Uint8Array, p: number): number {
    switch (op.kind) {
      case TEXT: {
        const text = op.text!;
        return putCell(dst, p, text.bytes, text.offsets[i]!, text.offsets[i + 1]!, op.freeText);
      }
      case CODED: {
        const cells = op.text!,
          c = op.codes[i]!;
        return putBytes(dst, p, cells.bytes, cells.offsets[c]!, cells.offsets[c + 1]!);
      }
      // The digits toFixed gives: it rounds the exact binary value (see putFixed).
      case FIXED: {
        const v = op.numbers[i]!;
        return Number.isFinite(v) ? putFixed(dst, p, v, op.digits) : p; // not given (NaN): an empty cell
      }
      case MASKED_PHONE:
      case MASKED_NAME: {
        const value = op.text!.get(i);
        const masked = utf8.encode(op.kind === MASKED_PHONE ? maskPhone(value) : maskName(value));
        return putCell(dst, p, masked, 0, masked.length, op.freeText);
      }
      case LAST_CONTACT: {
        const day = this.contactDay(i);
        if (Number.isNaN(day)) return p;
        const cell = this.dayCell(day);
        return putBytes(dst, p, cell, 0, cell.length);
      }
      case LAST_OUTCOME: {
        const day = this.contactDay(i);
        const cell = !Number.isNaN(day) ? this.outcomeCells[this.lastOutcome![i]!] : undefined;
        return cell === undefined ? p : putBytes(dst, p, cell, 0, cell.length);
      }
    }
    return p;
  }

  /** The day of subscriber i's last contact, NaN without one. */
  private contactDay(i: number): number {
    return this.lastContact === null ? NaN : this.lastContact[i]!;
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
 * One tier's cells that come from the subscriber alone (subscriberRuns), rendered
 * before the tier is planned: on the task-files worker while the main thread applies
 * the contact policy. In subscriber order, the columns are read front to back; in
 * rank order each read would wait for its cache miss. A row of the tier's file then
 * copies its runs: the same bytes as rendering them there. Rows of other tiers, or
 * files of another masking, do not use them.
 */
export class SubscriberCells {
  private constructor(
    readonly tier: string,
    readonly masking: Masking,
    /** The number of runs. */
    readonly runs: number,
    readonly bytes: Uint8Array,
    /**
     * Run j of feature row k (FeatureTable.rows) is bytes[at[k * (runs + 1) + j]
     * .. at[k * (runs + 1) + j + 1]); at[k * (runs + 1)] is -1 for a row not rendered.
     */
    readonly at: Int32Array,
  ) {}

  /**
   * The cells of `subscribers` (ascending: every subscriber of `tier` who may get a
   * task, and others at worst), in files of `masking`; `featureRows` is the number
   * of rows of the feature columns.
   */
  static render(input: RenderInput, tier: string, masking: Masking, subscribers: Int32Array, featureRows: number): SubscriberCells {
    const ops = specFor(masking).map((c) => cellOp(c, input, null, masking, []));
    const runs = subscriberRuns(ops).ops;
    const stride = runs.length + 1;
    const at = new Int32Array(featureRows * stride).fill(-1);
    const inRuns = runs.flat().map((k) => ops[k]!);
    const texts = inRuns.filter((op) => op.kind !== CODED && op.text !== null).map((op) => op.text!.offsets);
    const fixedRoom = inRuns.reduce((n, op) => n + 1 + cellOpRoom(op), 0);
    const writer = new SubscriberCellWriter(input.contacts);
    const rows = input.features.rows;
    const out = new ByteBuffer(Math.max(256, subscribers.length * 96));
    for (let q = 0; q < subscribers.length; q++) {
      const i = subscribers[q]!,
        base = (rows === undefined ? i : rows[i]!) * stride;
      let room = fixedRoom;
      for (let t = 0; t < texts.length; t++) room += cellRoom(texts[t]![i + 1]! - texts[t]![i]!);
      out.reserve(room);
      const dst = out.bytes;
      let p = out.length;
      for (let j = 0; j < runs.length; j++) {
        at[base + j] = p;
        const run = runs[j]!;
        for (let x = 0; x < run.length; x++) {
          if (x > 0) dst[p++] = COMMA;
          p = writer.put(ops[run[x]!]!, i, dst, p);
        }
      }
      at[base + runs.length] = p;
      out.length = p;
    }
    return new SubscriberCells(tier, masking, runs.length, out.bytes, at);
  }
}

/**
 * Each entry of a coded column's dictionary as its cell is written (quoted and
 * neutralised as putCell does): a row's cell is then a copy of its code's entry.
 * The dictionary is small (regions, managers), so this is once per file.
 */
function codedCells(dict: TextColumn, freeText: boolean): TextColumn {
  const cells = new TextColumnBuilder(dict.length, 2 * dict.offsets[dict.length]! + 3 * dict.length);
  let scratch = new Uint8Array(64);
  for (let k = 0; k < dict.length; k++) {
    const s = dict.start(k),
      e = dict.end(k);
    if (cellRoom(e - s) > scratch.length) scratch = new Uint8Array(cellRoom(e - s));
    cells.pushBytes(scratch, 0, putCell(scratch, 0, dict.bytes, s, e, freeText));
  }
  return cells.finish();
}

/** The longest of a column's values, in bytes. */
function longestCell(cells: TextColumn): number {
  let most = 0;
  for (let k = 0; k < cells.length; k++) most = Math.max(most, cells.byteLength(k));
  return most;
}

/** The cells of a tier's hit sets, and the steps that write their rows (see rowSteps). */
function hitSetCells(
  hitSets: readonly HitSetPlan[],
  rules: ReasonPart[][],
  decisions: readonly { value: (h: HitSetPlan) => string; freeText: boolean }[],
  channelFreeText: boolean,
  ops: readonly CellOp[],
  runStart: Int32Array | null,
): HitSetCells {
  const n = hitSets.length;
  const cells: HitSetCells = {
    channel: new Array<Uint8Array>(n),
    room: new Int32Array(n),
    reasonColumns: new Array<Column[]>(n),
    firstStep: new Int32Array(n),
    steps: { literals: NO_BYTES, literalStart: new Int32Array(0), kind: NO_BYTES, op: NO_BYTES, part: new Int32Array(0), parts: [] },
  };
  // Every part once; a step names its part by its index here.
  const parts: ReasonPart[] = [NO_PART, SEPARATOR_PART];
  const firstPart = rules.map((r) => parts.push(...r) - r.length);
  const quotedLiterals: (Uint8Array | null)[] = parts.map(() => null);
  // Hit sets share few distinct cells (actions, deadlines, states, channels): each is encoded once.
  const decisionCells = decisions.map(() => new Map<string, Uint8Array>());
  const channelCells = new Map<string, Uint8Array>();
  // A scorecard's hit sets run to thousands, their reasons (the three rules that raised the score most) repeat.
  const layouts = new Map<string, ReasonLayout>();
  const decided: Uint8Array[] = decisions.map(() => NO_BYTES);
  const template = rowTemplate(ops, runStart);
  const steps = new StepPacker();
  for (let x = 0; x < n; x++) {
    const h = hitSets[x]!;
    const reasonsKey = h.reasons.join(',');
    let layout = layouts.get(reasonsKey);
    if (layout === undefined) {
      layout = reasonLayout(h.reasons, rules, firstPart, parts, quotedLiterals);
      layouts.set(reasonsKey, layout);
    }
    let room = 0;
    for (let k = 0; k < decisions.length; k++) {
      const d = decisions[k]!;
      decided[k] = encodedCell(decisionCells[k]!, d.value(h), d.freeText);
      room += decided[k]!.length;
    }
    const channel = encodedCell(channelCells, h.channel, channelFreeText);
    cells.channel[x] = channel;
    // The reason quoted (its literals' quotes doubled) and neutralised; and the line end.
    cells.room[x] = room + channel.length + layout.room + 4;
    cells.reasonColumns[x] = layout.columns;
    cells.firstStep[x] = steps.count;
    rowSteps(steps, template, decided, layout, parts);
  }
  cells.steps = steps.finish(parts);
  return cells;
}

/**
 * A reason text as rowSteps writes it: the same for every hit set with the same
 * reasons, so made once for each distinct list of them.
 */
interface ReasonLayout {
  /** The parts in order (indices into the parts), the separators between the rules included. */
  parts: number[];
  /** Each part's literal as it is written: its quotes doubled when the cell is quoted. */
  literals: Uint8Array[];
  /** Whether the cell is quoted: a literal needs it (numbers never do). */
  quoted: boolean;
  /** The index in `parts` of the first part that writes anything, -1 if none. */
  firstAt: number;
  /** Room for the text, twice its literals (quotes doubled). */
  room: number;
  /** The feature columns its numbers read. */
  columns: Column[];
}

function reasonLayout(
  reasons: readonly number[],
  rules: ReasonPart[][],
  firstPart: readonly number[],
  parts: readonly ReasonPart[],
  quotedLiterals: (Uint8Array | null)[],
): ReasonLayout {
  const reason: number[] = [];
  for (const j of reasons) {
    if (reason.length > 0) reason.push(1);
    for (let m = 0; m < rules[j]!.length; m++) reason.push(firstPart[j]! + m);
  }
  const quoted = reason.some((j) => needsQuotes(parts[j]!.literal, 0, parts[j]!.literal.length));
  const literals = reason.map((j) => {
    const literal = parts[j]!.literal;
    if (!quoted) return literal;
    let doubled = quotedLiterals[j];
    if (doubled === null || doubled === undefined) {
      const out = new ByteBuffer(2 * literal.length + 1);
      for (const c of literal) {
        out.byte(c);
        if (c === QUOTE) out.byte(QUOTE);
      }
      doubled = out.toBytes();
      quotedLiterals[j] = doubled;
    }
    return doubled;
  });
  const room = reason.reduce((room, k) => {
    const p = parts[k]!;
    return room + (p.number === null ? p.literal.length : p.unit === 'day' ? DAY_ROOM : NUMBER_ROOM);
  }, 0);
  return {
    parts: reason,
    literals,
    quoted,
    firstAt: reason.findIndex((j) => parts[j]!.number !== null || parts[j]!.literal.length > 0),
    room: 2 * room,
    columns: [...new Set(reason.flatMap((k) => parts[k]!.values))],
  };
}

/** `text` as its cell is written, encoded once per distinct text (`cache`). */
function encodedCell(cache: Map<string, Uint8Array>, text: string, freeText: boolean): Uint8Array {
  let cell = cache.get(text);
  if (cell === undefined) {
    cell = cellBytes(text, freeText);
    cache.set(text, cell);
  }
  return cell;
}

/** RowSteps, step after step. */
class StepPacker {
  readonly literal = new ByteBuffer(4096);
  private readonly literalStart: number[] = [0];
  private readonly kind: number[] = [];
  private readonly op: number[] = [];
  private readonly part: number[] = [];

  get count(): number {
    return this.kind.length;
  }

  /** Ends a step: the literal added since the last, then `kind` with its cell operation or reason part. */
  step(kind: number, op: number, part: number): void {
    this.literalStart.push(this.literal.length);
    this.kind.push(kind);
    this.op.push(op);
    this.part.push(part);
  }

  finish(parts: ReasonPart[]): RowSteps {
    return {
      literals: this.literal.toBytes(),
      literalStart: Int32Array.from(this.literalStart),
      kind: Uint8Array.from(this.kind),
      op: Uint8Array.from(this.op),
      part: Int32Array.from(this.part),
      parts,
    };
  }
}

/**
 * A piece of every row of a file, as rowTemplate finds it: bytes that are the same
 * in every row (CONSTANT), a decision cell (DECISION, index: which), the reason
 * (REASON), or a step of its own (index: its cell operation, or its run for RUN).
 */
interface RowPiece {
  kind: number;
  bytes: Uint8Array;
  index: number;
  freeText: boolean;
}

function rowPiece(kind: number, bytes: Uint8Array, index: number, freeText: boolean): RowPiece {
  return { kind, bytes, index, freeText };
}

/**
 * The cell operations `ops` as rowSteps goes through them for each hit set: the
 * commas, constant cells and the line end merged, a run's cells as one piece. Made
 * once per file: a scorecard's tier has thousands of hit sets, its file one set of
 * cell operations.
 */
function rowTemplate(ops: readonly CellOp[], runStart: Int32Array | null): RowPiece[] {
  const pieces: RowPiece[] = [];
  const literal = new ByteBuffer(256);
  const piece = (kind: number, index: number, freeText = false) => {
    if (literal.length > 0) pieces.push(rowPiece(CONSTANT, literal.toBytes(), 0, false));
    literal.length = 0;
    if (kind !== CONSTANT) pieces.push(rowPiece(kind, NO_BYTES, index, freeText));
  };
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    const run = runStart === null ? NOT_IN_RUN : runStart[k]!;
    // A run's cells after its first, and the commas between them, are in its bytes.
    if (run === IN_RUN) continue;
    if (k > 0) literal.byte(COMMA);
    if (run !== NOT_IN_RUN) piece(RUN, run);
    else if (op.kind === CONSTANT) literal.append(op.bytes);
    else if (op.kind === DECISION) piece(DECISION, op.decision);
    else if (op.kind === REASON) piece(REASON, 0, op.freeText);
    else piece(op.kind, op.kind === CHANNEL ? 0 : k);
  }
  literal.byte(LF);
  piece(CONSTANT, 0);
  return pieces;
}

/**
 * The steps that write a row of a hit set, with its decision cells `decided` and its
 * reason text `reason` (parts indexing `parts`), along the file's rowTemplate.
 * The reason text is written in place, as putCell would write it, its literals
 * merged with the cells around them: numbers never need quotes, so whether the cell
 * is quoted is known from the literals, and they are written with their quotes
 * doubled; only a number at its start decides, per row, whether a free-text cell
 * starts like a formula.
 */
function rowSteps(
  steps: StepPacker,
  template: readonly RowPiece[],
  decided: readonly Uint8Array[],
  reason: ReasonLayout,
  parts: readonly ReasonPart[],
): void {
  const literal = steps.literal;
  for (let x = 0; x < template.length; x++) {
    const piece = template[x]!;
    switch (piece.kind) {
      case CONSTANT:
        literal.append(piece.bytes);
        break;
      case DECISION:
        literal.append(decided[piece.index]!);
        break;
      case REASON:
        reasonSteps(steps, piece.freeText, reason, parts);
        break;
      default:
        steps.step(piece.kind, piece.index, 0);
    }
  }
  steps.step(END, 0, 0);
}

/** The steps of a reason cell (see rowSteps). */
function reasonSteps(steps: StepPacker, freeText: boolean, reason: ReasonLayout, parts: readonly ReasonPart[]): void {
  const literal = steps.literal,
    firstAt = reason.firstAt;
  const first = firstAt < 0 ? undefined : parts[reason.parts[firstAt]!]!;
  if (reason.quoted) literal.byte(QUOTE);
  if (freeText && first !== undefined && first.number === null && startsLikeFormula(first.literal, 0, first.literal.length))
    literal.byte(APOSTROPHE);
  for (let m = 0; m < reason.parts.length; m++) {
    const k = reason.parts[m]!;
    if (parts[k]!.number === null) literal.append(reason.literals[m]!);
    else steps.step(freeText && m === firstAt ? LEADING_NUMBER : NUMBER, 0, k);
  }
  if (reason.quoted) literal.byte(QUOTE);
}

/**
 * formatNumber(v, unit, isPercent) into dst at p, which must have NUMBER_ROOM bytes
 * of room (DAY_ROOM for a day); returns the end. No string is made for whole
 * numbers and money.
 */
export function putFormattedNumber(dst: Uint8Array, p: number, v: number, unit: string, isPercent: boolean): number {
  if (!Number.isFinite(v)) return putBytes(dst, p, NOT_AVAILABLE, 0, NOT_AVAILABLE.length);
  if (isPercent) {
    const tenths = Math.round(v * 10);
    if (tenths < 0) p = putBytes(dst, p, MINUS_SIGN, 0, MINUS_SIGN.length);
    else if (tenths > 0) dst[p++] = PLUS;
    p = putRounded(dst, p, Math.abs(tenths), 1);
    dst[p++] = PERCENT;
    return p;
  }
  switch (unit) {
    case 'money':
      return putFixed(dst, p, v, 2);
    case 'count':
      return putDecimal(dst, p, Math.round(v));
    case 'day':
      return putAscii(dst, p, formatDay(v));
    default:
      return putRounded(dst, p, Math.round(v * 100), 2);
  }
}

/**
 * String(n / 10^places) for a whole n (places 1 or 2), with no string made below
 * SHORT_ROUNDED: there two doubles are less than 0.01 apart, so the shortest
 * decimal that gives the quotient back (what String writes) is n / 10^places itself,
 * its trailing zeros dropped.
 */
function putRounded(dst: Uint8Array, p: number, n: number, places: 1 | 2): number {
  const scale = places === 1 ? 10 : 100;
  if (n < SHORT_ROUNDED * scale && n > -SHORT_ROUNDED * scale) return putScaled(dst, p, n, places, true);
  return putDecimal(dst, p, n / scale);
}

/** 2^46: from there on a double's neighbours are 2^-6 apart or more. */
const SHORT_ROUNDED = 2 ** 46;

const NO_VIEW = viewOf(NO_BYTES);

/** Whether b[s..e) is `cell`. */
function sameBytes(cell: Uint8Array, b: Uint8Array, s: number, e: number): boolean {
  if (e - s !== cell.length) return false;
  for (let k = 0; k < cell.length; k++) if (b[s + k] !== cell[k]) return false;
  return true;
}
