/**
 * The task ledger: which retention episode each task belongs to, night after night.
 * A task's id names its episode (subscriber id and the day the episode began), so
 * the same subscriber in the same episode keeps the same id; dialers and CRMs upsert
 * by it. Pure: last night's ledger and tonight's policy in, tonight's ledger out.
 *
 * An episode goes on while the subscriber keeps getting a task (or waits: over
 * capacity, a retry or callback not yet due) and no contact closed it; it closes on
 * a contact outcome that ends it (retained, declined, churned), after expireDays
 * without one, or when the subscriber is no longer flagged or a policy stops the
 * task. A later task starts a new episode with a new id.
 */
import type { ContactPolicy, RuleDef } from '../config/rulepack.js';
import type { ContactFold } from '../ingest/facts.js';
import { IdTable } from '../ingest/id-table.js';
import { HitBits } from '../evaluate/hit-bits.js';
import { CONTACT_OUTCOMES } from '../contract/contract.js';
import { formatDay } from '../util/dates.js';
import { fmix32 } from '../util/hash.js';
import { sharedUint8 } from '../util/worker.js';
import type { TextColumn } from '../util/text-column.js';
import { TextTable } from '../util/text-table.js';
import { ChurnwatchError } from '../errors.js';
import { OVERFLOW, SUPPRESSED, SUPPRESSION_CODES, TASK, type PolicyPlan } from './policy.js';

export const TASK_STATES = ['new', 'open', 'escalated', 'waiting', 'closed'] as const;
export type TaskState = (typeof TASK_STATES)[number];
const NEW = 0,
  OPEN = 1,
  ESCALATED = 2,
  WAITING = 3,
  CLOSED = 4;

/** Task ids: "CW", the episode's first day as YYYYMMDD, "-", 16 hex digits of a hash of the subscriber id and that day: 27 characters. */
export const TASK_ID_WIDTH = 27;

export const LEDGER_COLUMNS = [
  'task_id',
  'subscriber_id',
  'tier',
  'first_seen',
  'last_seen',
  'reason_codes',
  'attempts',
  'state',
  'closed_by',
] as const;

const utf8 = new TextEncoder();
const decoder = new TextDecoder();

/** The cells of a prior ledger row kept as bytes. */
const TASK_ID_CELL = 0,
  SUBSCRIBER_CELL = 1;

/**
 * Last night's ledger, as read back, in typed columns: a quarter of a million rows
 * on a large night, so no string or map entry per row. Rows are numbered in file
 * order, closed ones included (the outcomes of earlier tasks look those up by task
 * id); `open` lists the episodes still going. The task and subscriber ids lie end to
 * end in one slab; the few distinct tiers and reason lists are numbered.
 */
export class PriorLedger {
  rows = 0;
  /** How many of `open` are filled. */
  openCount = 0;
  /** Row numbers of the episodes still going (state not closed), in file order. */
  open = new Int32Array(1024);
  tier = new Int32Array(1024);
  reasons = new Int32Array(1024);
  firstSeen = new Float64Array(1024);
  attempts = new Float64Array(1024);
  readonly tierTexts: string[] = [];
  readonly reasonTexts: string[] = [];
  /** Cell c of row r is bytes[cells[4r + 2c] .. cells[4r + 2c + 1]). */
  private cells = new Int32Array(4096);
  private bytes = new Uint8Array(1 << 16);
  private used = 0;
  private readonly tierTable = new IdTable(16);
  private readonly reasonTable = new IdTable(64);
  /** Task id → its last row, made at the first lookup (only a night whose contacts name earlier tasks asks). */
  private taskIndex: { table: IdTable; row: Int32Array } | null = null;

  /** @param asOf the day of the run that wrote it */
  constructor(readonly asOf: number) {}

  /**
   * Appends a row from its cells b[start[c] .. end[c]) in LEDGER_COLUMNS order (as the
   * scanner hands them, unquoted); the subscriber id starts at `subscriberFrom` (past
   * the writer's formula guard).
   */
  add(b: Uint8Array, start: Int32Array, end: Int32Array, subscriberFrom: number, firstSeen: number, attempts: number, open: boolean): void {
    const r = this.rows++;
    if (r >= this.tier.length) this.growRows();
    if (4 * r + 4 > this.cells.length) this.cells = grown(this.cells, 2 * this.cells.length);
    this.cells[4 * r + 2 * TASK_ID_CELL] = this.used;
    this.putBytes(b, start[0]!, end[0]!);
    this.cells[4 * r + 2 * TASK_ID_CELL + 1] = this.used;
    this.cells[4 * r + 2 * SUBSCRIBER_CELL] = this.used;
    this.putBytes(b, subscriberFrom, end[1]!);
    this.cells[4 * r + 2 * SUBSCRIBER_CELL + 1] = this.used;
    this.tier[r] = numbered(this.tierTable, this.tierTexts, b, start[2]!, end[2]!);
    this.reasons[r] = numbered(this.reasonTable, this.reasonTexts, b, start[5]!, end[5]!);
    this.firstSeen[r] = firstSeen;
    this.attempts[r] = attempts;
    if (open) this.open[this.openCount++] = r;
  }

  private growRows(): void {
    const n = 2 * this.tier.length;
    this.open = grown(this.open, n);
    this.tier = grown(this.tier, n);
    this.reasons = grown(this.reasons, n);
    this.firstSeen = grown(this.firstSeen, n);
    this.attempts = grown(this.attempts, n);
  }

  private putBytes(b: Uint8Array, s: number, e: number): void {
    if (this.used + e - s > this.bytes.length) this.bytes = grown(this.bytes, 2 * (this.used + e - s));
    this.bytes.set(b.subarray(s, e), this.used);
    this.used += e - s;
  }

  /** The slab that cellStart and cellEnd index. */
  get cellBytes(): Uint8Array {
    return this.bytes;
  }
  taskIdStart(r: number): number {
    return this.cells[4 * r + 2 * TASK_ID_CELL]!;
  }
  taskIdEnd(r: number): number {
    return this.cells[4 * r + 2 * TASK_ID_CELL + 1]!;
  }
  subscriberStart(r: number): number {
    return this.cells[4 * r + 2 * SUBSCRIBER_CELL]!;
  }
  subscriberEnd(r: number): number {
    return this.cells[4 * r + 2 * SUBSCRIBER_CELL + 1]!;
  }

  taskId(r: number): string {
    return decoder.decode(this.bytes.subarray(this.taskIdStart(r), this.taskIdEnd(r)));
  }

  /**
   * Row r's task id into dst at `at` (TASK_ID_WIDTH bytes), as TextEncoder.encodeInto would
   * put it: cut at the width, the rest left as it is.
   */
  copyTaskId(r: number, dst: Uint8Array, at: number): void {
    const b = this.bytes,
      s = this.taskIdStart(r),
      e = Math.min(this.taskIdEnd(r), s + TASK_ID_WIDTH);
    for (let p = s; p < e; p++) if (b[p]! >= 0x80) return void utf8.encodeInto(this.taskId(r), dst.subarray(at, at + TASK_ID_WIDTH));
    for (let p = s, q = at; p < e; p++, q++) dst[q] = b[p]!;
  }

  /** The last row whose task id is `id`, or -1. */
  rowOfTask(id: string): number {
    if (this.taskIndex === null) {
      const table = new IdTable(Math.max(1024, this.rows));
      const row = new Int32Array(this.rows);
      for (let r = 0; r < this.rows; r++) row[table.insert(this.bytes, this.taskIdStart(r), this.taskIdEnd(r))] = r;
      this.taskIndex = { table, row };
    }
    const b = utf8.encode(id);
    const i = this.taskIndex.table.find(b, 0, b.length);
    return i < 0 ? -1 : this.taskIndex.row[i]!;
  }
}

function grown<T extends Int32Array | Float64Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a as never);
  return b;
}

/** The number of the text b[s..e) in a small table of distinct texts, numbered as first seen. */
function numbered(table: IdTable, texts: string[], b: Uint8Array, s: number, e: number): number {
  const i = table.insert(b, s, e);
  if (i === texts.length) texts.push(decoder.decode(b.subarray(s, e)));
  return i;
}

/**
 * Tonight's ledger, one entry per row in typed columns (an object per row would be
 * millions of them at 10M subscribers). A row's texts come from last night's ledger
 * where it continues an episode (prior ≥ 0), else from tonight's columns; the text
 * accessors below say which.
 */
export class LedgerRows {
  length = 0;
  /** The subscriber, -1 for an episode of one no longer in the extract. */
  readonly subscriber: Int32Array;
  /** The row of last night's ledger whose episode this continues or closes, -1 for a new episode. */
  readonly prior: Int32Array;
  /** TIERS index; PRIOR_TEXT: last night's tier text. */
  readonly tier: Uint8Array;
  /** A new episode's place in its tier's task list: its id is there (LedgerPlan.taskIds). */
  readonly slot: Int32Array;
  readonly firstSeen: Float64Array;
  /** Index into reasonTexts; -1: last night's reason codes. */
  readonly reasons: Int32Array;
  readonly attempts: Float64Array;
  /** Index into TASK_STATES. */
  readonly state: Uint8Array;
  /** Index into closedByTexts. */
  readonly closedBy: Uint8Array;

  constructor(
    capacity: number,
    /** Every row's last_seen: the night. */
    readonly lastSeen: number,
    readonly priorLedger: PriorLedger | null,
    readonly ids: TextColumn,
    readonly taskIds: readonly Uint8Array[],
    readonly reasonTexts: readonly string[],
    readonly closedByTexts: readonly string[],
  ) {
    this.subscriber = new Int32Array(capacity);
    this.prior = new Int32Array(capacity);
    this.tier = new Uint8Array(capacity);
    this.slot = new Int32Array(capacity);
    this.firstSeen = new Float64Array(capacity);
    this.reasons = new Int32Array(capacity);
    this.attempts = new Float64Array(capacity);
    this.state = new Uint8Array(capacity);
    this.closedBy = new Uint8Array(capacity);
  }

  taskId(r: number): string {
    const k = this.prior[r]!;
    if (k >= 0) return this.priorLedger!.taskId(k);
    const ids = this.taskIds[this.tier[r]!]!,
      at = this.slot[r]! * TASK_ID_WIDTH;
    return decoder.decode(ids.subarray(at, at + TASK_ID_WIDTH));
  }

  /** Appends the rows of `other` (which shares this one's texts). */
  append(other: LedgerRows): void {
    const n = this.length,
      m = other.length;
    if (n + m > this.subscriber.length) throw new ChurnwatchError('CW_INTERNAL', 'the ledger has more rows than it made room for');
    const copy = <T extends Int32Array | Uint8Array | Float64Array>(to: T, from: T) => to.set(from.subarray(0, m) as never, n);
    copy(this.subscriber, other.subscriber);
    copy(this.prior, other.prior);
    copy(this.tier, other.tier);
    copy(this.slot, other.slot);
    copy(this.firstSeen, other.firstSeen);
    copy(this.reasons, other.reasons);
    copy(this.attempts, other.attempts);
    copy(this.state, other.state);
    copy(this.closedBy, other.closedBy);
    this.length = n + m;
  }

  /** The first row of subscriber i that is not closed, or -1. */
  openRowOf(i: number): number {
    for (let r = 0; r < this.length; r++) if (this.subscriber[r] === i && this.state[r] !== CLOSED) return r;
    return -1;
  }
}

/** LedgerRows.tier of a row whose tier is last night's text. */
export const PRIOR_TEXT = 255;

export interface LedgerPlan {
  /** Per tier, aligned with PolicyPlan.perTier: each task's id as ASCII (TASK_ID_WIDTH bytes per row) and its state (index into TASK_STATES). */
  taskIds: Uint8Array[];
  states: Uint8Array[];
  /**
   * Per tier, aligned with PolicyPlan.perTier: each task's reason codes by number (into rows.reasonTexts), the
   * same number exactly when the same named rules are hit: the plan's hit sets are found by it.
   */
  reasons: Int32Array[];
  /** Tonight's ledger: the open episodes (tasks, then the waiting ones), then those closed tonight. */
  rows: LedgerRows;
  counts: Record<TaskState, number>;
  /** Outcomes of earlier tasks that came back since the last ledger, per rule then tier then outcome (and 'contacted' for all of them). */
  outcomes: Record<string, Record<string, Record<string, number>>>;
}

/** The end of a task id's hash: the day after the id's bytes, then murmur3's finaliser. */
function finish32(h: number, day: number): number {
  h = Math.imul(h ^ (day & 0xffff), 0x01000193);
  h = Math.imul(h ^ (day >>> 16), 0x01000193);
  return fmix32(h) >>> 0;
}

const HEX_DIGITS = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const dayStamps = new Map<number, Uint8Array>();

/** The id of subscriber b[s..e)'s episode that began on `firstSeen`: independent of rank, tier and night. */
export function taskIdOf(b: Uint8Array, s: number, e: number, firstSeen: number): string {
  const out = new Uint8Array(TASK_ID_WIDTH);
  putTaskId(out, 0, b, s, e, firstSeen);
  return String.fromCharCode(...out);
}

/** taskIdOf's TASK_ID_WIDTH ASCII bytes, into dst at p. */
export function putTaskId(dst: Uint8Array, p: number, b: Uint8Array, s: number, e: number, firstSeen: number): void {
  putStampedTaskId(dst, p, dayStamp(firstSeen), b, s, e, firstSeen);
}

/** The head of the task ids of episodes that began on `day`: "CW", YYYYMMDD, "-". */
function dayStamp(day: number): Uint8Array {
  let stamp = dayStamps.get(day);
  if (stamp === undefined) {
    stamp = Uint8Array.from(`CW${formatDay(day).replaceAll('-', '')}-`, (c) => c.charCodeAt(0));
    dayStamps.set(day, stamp);
  }
  return stamp;
}

/** putTaskId with the day's stamp (dayStamp(firstSeen)) found once by a caller that puts many ids of one day. */
function putStampedTaskId(dst: Uint8Array, p: number, stamp: Uint8Array, b: Uint8Array, s: number, e: number, firstSeen: number): void {
  for (let k = 0; k < stamp.length; k++) dst[p++] = stamp[k]!;
  // Both halves' FNV-1a over the id in one read of its bytes.
  let h1 = 0x811c9dc5,
    h2 = 0x050c5d1f;
  for (let k = s; k < e; k++) {
    const c = b[k]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193);
  }
  p = putHex(dst, p, finish32(h1, firstSeen));
  putHex(dst, p, finish32(h2, firstSeen));
}

/** The 8 lower-case hex digits of h, into dst at p; returns the end. */
function putHex(dst: Uint8Array, p: number, h: number): number {
  for (let shift = 28; shift >= 0; shift -= 4) dst[p++] = HEX_DIGITS[(h >>> shift) & 15]!;
  return p;
}

/** Up to this many rules, startLedger finds a subscriber's reasons by its word of hit bits in a table (2^rules entries). */
const WORD_TABLE_RULES = 16;

const CLOSING = new Set(['retained', 'declined', 'churned']);
const WAITING_CODES = new Set<string>(['callback_pending', 'retry_later']);

export interface LedgerInput {
  prior: PriorLedger | null;
  plan: PolicyPlan;
  D: number;
  policy: ContactPolicy;
  ids: TextColumn;
  rules: readonly RuleDef[];
  flags: readonly Uint8Array[];
  tier: Uint8Array;
  contacts: Pick<ContactFold, 'lastContact' | 'lastOutcome' | 'attempts' | 'taskContacts'> | null;
}

/**
 * Tonight's ledger in two steps, so that a tier's task files need not wait for the
 * whole of it: tier(t) decides tier t's task ids and states (taskIds[t] and
 * states[t] are complete from then on; any tier, in any order, each once), and
 * finish() decides the tiers left, the waiting and the closed episodes, and gives
 * the plan. The ledger is the same whatever the order of the tiers.
 */
export interface LedgerUpdate {
  readonly taskIds: Uint8Array[];
  readonly states: Uint8Array[];
  readonly reasons: Int32Array[];
  tier(t: number): void;
  finish(): LedgerPlan;
}

export function updateLedger(x: LedgerInput): LedgerPlan {
  return startLedger(x).finish();
}

export function startLedger(x: LedgerInput): LedgerUpdate {
  const { prior, plan, D, ids } = x;
  const weightOf = new Map(x.rules.map((r) => [r.id, r.weight]));
  // A subscriber's reason codes, made once per distinct set of hit rules (few) and found by its bits.
  const hitBits = HitBits.of(x.flags, ids.length),
    hitBitsWord = hitBits.bits;
  const reasonIndex = new Map<number, number>();
  // With few rules a subscriber's one word of hit bits numbers its set: a table by that word, where a map lookup per
  // task cost more than the rest of its reason's finding.
  const byWord = x.flags.length <= WORD_TABLE_RULES ? new Int32Array(1 << x.flags.length).fill(-1) : null;
  const reasonTexts: string[] = [],
    reasonRules: string[][] = [];
  const reasonsOf = (i: number) => {
    if (byWord !== null) {
      const known = byWord[hitBitsWord[i]!]!;
      if (known >= 0) return known;
    }
    const key = hitBits.key(i);
    let r = reasonIndex.get(key);
    if (byWord !== null && r !== undefined) byWord[key] = r;
    if (r === undefined) {
      const hit = x.rules.filter((_, j) => hitBits.hits(i, j)).map((rule) => rule.id);
      r = reasonTexts.push(hit.join(';')) - 1;
      reasonRules.push(hit);
      reasonIndex.set(key, r);
      if (byWord !== null) byWord[key] = r;
    }
    return r;
  };
  /** Whether tonight's reasons r hold a rule that last night's reasons `before` (a number of prior.reasonTexts) lacked and that outweighs all of those: cached per pair. */
  const escalations: Int8Array[] = [];
  const escalates = (before: number, r: number) => {
    let known = escalations[before];
    if (known === undefined) {
      known = new Int8Array(64).fill(-1);
      escalations[before] = known;
    }
    if (r >= known.length) {
      const grown = new Int8Array(2 * r + 2).fill(-1);
      grown.set(known);
      known = grown;
      escalations[before] = known;
    }
    if (known[r] === -1) {
      const was = prior!.reasonTexts[before]!.split(';');
      const strongest = Math.max(0, ...was.map((id) => weightOf.get(id) ?? 0));
      known[r] = reasonRules[r]!.some((id) => !was.includes(id) && (weightOf.get(id) ?? 0) > strongest) ? 1 : 0;
    }
    return known[r] === 1;
  };
  const closedBy = new TextTable(['']);
  // Last night's open episodes, found by subscriber id bytes.
  // Rows are numbered over the whole file (closed ones too); openRows of them go on.
  const priorRows = prior?.rows ?? 0,
    openRows = prior?.openCount ?? 0;
  const table = new IdTable(Math.max(1024, openRows));
  /** Table entry → the first open row with that subscriber id. */
  const rowOf = new Int32Array(openRows);
  if (prior) {
    const b = prior.cellBytes;
    for (let o = 0; o < openRows; o++) {
      const k = prior.open[o]!;
      const n = table.n;
      if (table.insert(b, prior.subscriberStart(k), prior.subscriberEnd(k)) === n) rowOf[n] = k;
    }
  }
  // One pass over the subscribers, only when there is a ledger: each one's episode, and each episode's subscriber.
  const priorIndex = prior === null ? null : new Int32Array(ids.length);
  const subscriberOf = new Int32Array(priorRows).fill(-1);
  if (priorIndex !== null) {
    for (let i = 0; i < ids.length; i++) {
      const j = table.find(ids.bytes, ids.start(i), ids.end(i));
      const k = j < 0 ? -1 : rowOf[j]!;
      priorIndex[i] = k;
      if (k >= 0) subscriberOf[k] = i;
    }
  }
  const priorOf = (i: number) => (priorIndex === null ? -1 : priorIndex[i]!);
  const seen = new Uint8Array(priorRows);
  const counts: Record<TaskState, number> = { new: 0, open: 0, escalated: 0, waiting: 0, closed: 0 };

  const waiting = [...plan.overflow.subscriber, ...plan.suppressed.filter((i) => WAITING_CODES.has(SUPPRESSION_CODES[plan.code[i]!]!))];
  const taskCount = plan.perTier.reduce((n, list) => n + list.length, 0);
  // In shared memory: a tier's plan, its task ids with it, may be posted to the task-files worker (plan.ts).
  const taskIds = plan.perTier.map((list) => sharedUint8(list.length * TASK_ID_WIDTH)),
    states = plan.perTier.map((list) => new Uint8Array(list.length)),
    tierReasons = plan.perTier.map((list) => new Int32Array(list.length));
  const rows = new LedgerRows(taskCount + waiting.length + openRows, D, prior, ids, taskIds, reasonTexts, closedBy.texts);
  const closed = new LedgerRows(openRows, D, prior, ids, taskIds, reasonTexts, closedBy.texts);

  /** Whether last night's episode k goes on tonight, and if not, what closed it. */
  const ending = (k: number, i: number): string | null => {
    const c = x.contacts;
    if (c !== null && c.lastContact[i]! >= prior!.firstSeen[k]!) {
      const outcome = CONTACT_OUTCOMES[c.lastOutcome[i]!]!;
      if (CLOSING.has(outcome)) return `contact:${outcome}`;
    }
    if (D - prior!.firstSeen[k]! >= x.policy.expireDays) return 'expired';
    return null;
  };
  const attemptsOf = (k: number, i: number) => {
    const c = x.contacts;
    const since = k >= 0 ? prior!.firstSeen[k]! : D;
    return c !== null && c.lastContact[i]! >= since && CONTACT_OUTCOMES[c.lastOutcome[i]!] === 'unreachable'
      ? c.attempts[i]!
      : k >= 0
        ? prior!.attempts[k]!
        : 0;
  };
  const push = (to: LedgerRows, i: number, k: number, tier: number, reasons: number, state: number, closedBy: number) => {
    const r = to.length++;
    to.subscriber[r] = i;
    to.prior[r] = k;
    to.tier[r] = tier;
    to.slot[r] = -1;
    to.firstSeen[r] = k >= 0 ? prior!.firstSeen[k]! : D;
    to.reasons[r] = reasons;
    to.attempts[r] = attemptsOf(k, i);
    to.state[r] = state;
    to.closedBy[r] = closedBy;
    return r;
  };
  const closeRow = (k: number, i: number, by: string) => {
    seen[k] = 1;
    push(closed, i, k, PRIOR_TEXT, -1, CLOSED, closedBy.numberOf(by));
  };
  /** Last night's episode that subscriber i's goes on from tonight, -1 for none (closing the one that ends). */
  const continued = (i: number) => {
    const k = priorOf(i);
    if (k < 0) return -1;
    const end = ending(k, i);
    if (end === null) {
      seen[k] = 1;
      return k;
    }
    closeRow(k, i, end);
    return -1;
  };

  // Each tier's task rows lie together, the tiers in order, before every other row: a row's place is known
  // before the rows above it are made.
  const firstRow: number[] = [];
  for (let t = 0, r = 0; t < plan.perTier.length; r += plan.perTier[t]!.length, t++) firstRow.push(r);
  /** Per subscriber, its task's row and its tier + 1 (0: no task, or its tier not decided yet). */
  const taskRow = new Int32Array(ids.length),
    taskTier = new Uint8Array(ids.length);
  /** Per subscriber with a task, the episode it goes on (rows.prior of its row), read in subscriber order. */
  const taskPrior = prior === null ? null : new Int32Array(ids.length);
  const decided = new Uint8Array(plan.perTier.length);
  const byState = new Int32Array(TASK_STATES.length);
  /** Tier t's rows in rank order: each one's episode, which goes on or is new (the one that ends closes in finish()). */
  const place = (t: number) => {
    decided[t] = 1;
    const list = plan.perTier[t]!;
    for (let slot = 0; slot < list.length; slot++) {
      const i = list[slot]!;
      let k = priorOf(i);
      if (k >= 0 && ending(k, i) !== null) k = -1;
      const r = firstRow[t]! + slot;
      rows.subscriber[r] = i;
      rows.prior[r] = k;
      rows.tier[r] = t;
      rows.slot[r] = k < 0 ? slot : -1;
      rows.firstSeen[r] = k >= 0 ? prior!.firstSeen[k]! : D;
      rows.closedBy[r] = 0;
      taskRow[i] = r;
      taskTier[i] = t + 1;
      if (taskPrior !== null) taskPrior[i] = k;
    }
  };
  /**
   * What a task reads of its subscriber (hit bits, contacts, the id it hashes) for the tiers in `tiers` (a bit
   * each), in subscriber order: those columns read moving forward, where rank order read them at random, a
   * cache miss each (the id hashes took twice as long so).
   */
  const decide = (tiers: number) => {
    // Each row's place is written once per column, at random; its reasons and state go into rows by tier, in order, in finish().
    const stamp = dayStamp(D);
    for (let i = 0; i < ids.length; i++) {
      const tt = taskTier[i]!;
      if (tt === 0 || !(tiers & (1 << (tt - 1)))) continue;
      const r = taskRow[i]!,
        t = tt - 1;
      const k = taskPrior === null ? -1 : taskPrior[i]!,
        slot = r - firstRow[t]!,
        at = slot * TASK_ID_WIDTH;
      const reasons = reasonsOf(i);
      const state = k < 0 ? NEW : escalates(prior!.reasons[k]!, reasons) ? ESCALATED : OPEN;
      // The rows' attempts are 0 until written: most tasks have none.
      const attempts = attemptsOf(k, i);
      if (attempts !== 0) rows.attempts[r] = attempts;
      states[t]![slot] = state;
      tierReasons[t]![slot] = reasons;
      byState[state]!++;
      if (k >= 0) prior!.copyTaskId(k, taskIds[t]!, at);
      else putStampedTaskId(taskIds[t]!, at, stamp, ids.bytes, ids.start(i), ids.end(i), D);
    }
  };
  let finished = false;
  const tier = (t: number) => {
    if (finished || decided[t]) throw new ChurnwatchError('CW_INTERNAL', `the ledger's tier ${t} was asked for twice`);
    place(t);
    decide(1 << t);
  };
  const finish = (): LedgerPlan => {
    if (finished) throw new ChurnwatchError('CW_INTERNAL', 'the ledger was finished twice');
    finished = true;
    let left = 0;
    for (let t = 0; t < plan.perTier.length; t++) {
      if (decided[t]) continue;
      place(t);
      left |= 1 << t;
    }
    if (left !== 0) decide(left);
    for (let t = 0; t < plan.perTier.length; t++) {
      rows.reasons.set(tierReasons[t]!, firstRow[t]!);
      rows.state.set(states[t]!, firstRow[t]!);
    }
    rows.length = taskCount;
    // Last night's episodes of tonight's tasks, in tier and rank order: those that go on are seen, those that end close.
    if (prior) {
      for (let r = 0; r < rows.length; r++) {
        const i = rows.subscriber[r]!,
          k = priorOf(i);
        if (k < 0) continue;
        if (rows.prior[r] === k) seen[k] = 1;
        else closeRow(k, i, ending(k, i)!);
      }
    }
    for (const [state, name] of TASK_STATES.entries()) counts[name] += byState[state]!;
    // Waiting: over capacity tonight, or a retry or callback not yet due; a waiting subscriber without an episode starts none.
    for (const i of waiting) {
      const k = continued(i);
      if (k < 0) continue;
      push(rows, i, k, x.tier[i]!, -1, WAITING, 0);
      counts.waiting++;
    }
    // The rest of last night's episodes close tonight: no longer flagged, held out, or stopped by a policy.
    if (prior) {
      for (let o = 0; o < openRows; o++) {
        const k = prior.open[o]!;
        if (seen[k]) continue;
        const i = subscriberOf[k]!;
        const by =
          i < 0 || plan.outcome[i] === 0
            ? 'not_flagged'
            : plan.outcome[i] === SUPPRESSED
              ? `policy:${SUPPRESSION_CODES[plan.code[i]!]}`
              : plan.outcome[i] === OVERFLOW || plan.outcome[i] === TASK
                ? 'internal'
                : 'held_out';
        closeRow(k, i, (i >= 0 && ending(k, i)) || by);
      }
    }
    counts.closed = closed.length;
    rows.append(closed);
    return { taskIds, states, reasons: tierReasons, rows, counts, outcomes: earlierOutcomes(prior, x.contacts, D) };
  };
  return { taskIds, states, reasons: tierReasons, tier, finish };
}

/**
 * Per rule and tier, the outcomes of earlier tasks that came back since the last
 * ledger: contacts on or after its day that name one of its tasks.
 */
function earlierOutcomes(prior: PriorLedger | null, contacts: Pick<ContactFold, 'taskContacts'> | null, D: number): LedgerPlan['outcomes'] {
  const out: LedgerPlan['outcomes'] = {};
  if (prior === null || contacts === null) return out;
  const t = contacts.taskContacts;
  for (let k = 0; k < t.taskId.length; k++) {
    if (t.day[k]! < prior.asOf || t.day[k]! >= D) continue;
    const row = prior.rowOfTask(t.taskId[k]!);
    if (row < 0) continue;
    const tier = prior.tierTexts[prior.tier[row]!]!;
    for (const rule of prior.reasonTexts[prior.reasons[row]!]!.split(';')) {
      const byOutcome = ((out[rule] ??= {})[tier] ??= { contacted: 0, ...Object.fromEntries(CONTACT_OUTCOMES.map((o) => [o, 0])) });
      byOutcome.contacted!++;
      byOutcome[CONTACT_OUTCOMES[t.outcome[k]!]!]!++;
    }
  }
  return out;
}
