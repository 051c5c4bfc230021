/**
 * Task planning: who gets which task, decided apart from how the file is written.
 * From a tier's subscribers in rank order and the rules each hits, it decides per
 * row the primary rule (action and channel), the deadline, the task id and what
 * the masking shows; the renderer (tasks.ts) only turns the decisions into bytes.
 * Pure: values in, values out, no I/O and no bytes.
 *
 * Columnar, because a tier holds up to millions of rows: per row a subscriber index
 * and a hit-set index (typed arrays); what a hit set decides is worked out once per
 * distinct set of hit rules, which are few.
 */
import { minutesOf, type RuleDef, type RulePack } from '../config/rulepack.js';
import { ChurnwatchError } from '../errors.js';
import { namedFlags, type Evaluation } from '../evaluate/evaluate.js';
import { formatDay, utcOffsetOf } from '../util/dates.js';
import { isPhoneBytes } from '../util/phone.js';
import { sharedInt32 } from '../util/worker.js';
import type { TextColumn } from '../util/text-column.js';
import { HitBits } from '../evaluate/hit-bits.js';
import { TASK_ID_WIDTH, TASK_STATES } from './ledger.js';
import { TASK_TYPES } from './policy.js';

/**
 * Which personal data the task files carry (run configuration output.mask and
 * output.dialer_full_number).
 * - mask false (default): msisdn and name as in the extract.
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

/** The masking decisions of a file, from its profile. */
export interface Masking {
  phone: 'full' | 'empty';
  maskedPhoneColumn: boolean;
  name: 'full' | 'initial';
}

export function maskingOf(profile: TaskProfile): Masking {
  return {
    phone: !profile.mask || profile.dialerFullNumber ? 'full' : 'empty',
    maskedPhoneColumn: profile.mask,
    name: profile.mask ? 'initial' : 'full',
  };
}

/** What one distinct set of hit rules decides, the same for every row that hits exactly those rules. */
export interface HitSetPlan {
  /** Indices into TaskPlan.rules, in pack order. */
  rules: number[];
  /** The heaviest rule (the first of equals): its action and channel. */
  primary: number;
  /** The most urgent deadline of the rules, in hours after the issue time. */
  dueHours: number;
  /** The rules whose reason texts the task shows: all, or in a logistic pack the three that raised the score most. */
  reasons: number[];
  /** The rule ids joined by ';'. */
  codes: string;
  action: string;
  channel: string;
  /** "2026-11-25T08:00+08:00". */
  dueAt: string;
  /** TASK_TYPES of the contact policy. */
  taskType: string;
  /** The ledger's state of the task: new, open or escalated. */
  state: string;
  /** The task goes to the delta file too (for dialers that append): it is new or escalated. */
  delta: boolean;
}

/** One tier's tasks, decided. Row r (rank r + 1) is subscriber[r], with the decisions of hitSets[hitSet[r]]. */
export interface TaskPlan {
  tier: string;
  /** The enabled rules (the evaluation's). */
  rules: readonly RuleDef[];
  subscriber: Int32Array;
  hitSet: Int32Array;
  hitSets: HitSetPlan[];
  assignee: string;
  /**
   * Task ids are taskIdPrefix + the rank zero-padded to rankWidth digits: unique
   * within a run because the prefix names the tier uniquely (taskIdTags).
   */
  taskIdPrefix: string;
  rankWidth: number;
  /** The ledger's episode ids, TASK_ID_WIDTH ASCII bytes per row; null: ids by rank (taskIdPrefix). */
  taskIdBytes: Uint8Array | null;
  /** Each row's rank in the tier; null: row r has rank r + 1 (a whole tier). A part of a tier (subPlan) keeps the tier's ranks. */
  rank: Int32Array | null;
  masking: Masking;
}

export interface PlanInput {
  pack: RulePack;
  D: number;
  evaluation: Evaluation;
  msisdn: TextColumn;
  /** Per subscriber, the contact policy's task type (index into TASK_TYPES); absent: every task is a retention task. */
  taskType?: Uint8Array;
  /**
   * Per row of `order`: the ledger's task id (TASK_ID_WIDTH ASCII bytes each) and state (index into TASK_STATES),
   * and its reason codes' number (LedgerPlan.reasons: equal exactly when the same named rules are hit).
   */
  ledger?: { taskIds: Uint8Array; states: Uint8Array; reasons?: Int32Array };
}

/** Task ids are at most this long (the limit of the dialers and CRMs that upsert by them). */
export const TASK_ID_MAX_LENGTH = 32;

/**
 * Each tier's part of the task id: its name in capitals when every tier's name is
 * 1 to 8 letters or digits and no two are equal ignoring case, else T1, T2, ... by
 * position. Either way the parts differ, so ids never collide across the files of
 * a run (a first letter did: mid and mass), and an id stays within 32 characters of
 * [A-Za-z0-9_-].
 */
export function taskIdTags(tiers: readonly string[]): string[] {
  const upper = tiers.map((t) => t.toUpperCase());
  const fit = upper.every((t) => /^[A-Z0-9]{1,8}$/.test(t)) && new Set(upper).size === upper.length;
  return fit ? upper : tiers.map((_, k) => `T${k + 1}`);
}

export function taskId(plan: TaskPlan, row: number): string {
  if (plan.taskIdBytes) return new TextDecoder().decode(plan.taskIdBytes.subarray(row * TASK_ID_WIDTH, (row + 1) * TASK_ID_WIDTH));
  return plan.taskIdPrefix + String(rankOf(plan, row)).padStart(plan.rankWidth, '0');
}

/** Row r's rank in its tier. */
export function rankOf(plan: TaskPlan, row: number): number {
  return plan.rank === null ? row + 1 : plan.rank[row]!;
}

/**
 * The rows `rows` of a plan (in the order given) as a plan of their own that keeps
 * each row's tier rank and task id: one channel's file, or the night's delta. With
 * `channel`, every row's channel cell is that channel (the file's).
 */
export function subPlan(plan: TaskPlan, rows: Int32Array, channel?: string): TaskPlan {
  const ids = plan.taskIdBytes;
  let taskIdBytes: Uint8Array | null = null;
  if (ids !== null) {
    taskIdBytes = new Uint8Array(rows.length * TASK_ID_WIDTH);
    for (let q = 0; q < rows.length; q++)
      taskIdBytes.set(ids.subarray(rows[q]! * TASK_ID_WIDTH, (rows[q]! + 1) * TASK_ID_WIDTH), q * TASK_ID_WIDTH);
  }
  const rank = new Int32Array(rows.length);
  const subscriber = new Int32Array(rows.length),
    hitSet = new Int32Array(rows.length);
  for (let q = 0; q < rows.length; q++) {
    const r = rows[q]!;
    rank[q] = rankOf(plan, r);
    subscriber[q] = plan.subscriber[r]!;
    hitSet[q] = plan.hitSet[r]!;
  }
  const hitSets = channel === undefined ? plan.hitSets : plan.hitSets.map((h) => ({ ...h, channel }));
  return { ...plan, subscriber, hitSet, hitSets, taskIdBytes, rank };
}

/**
 * The rows among `rows` (ascending; default: every row of the plan) whose task is new
 * or escalated tonight, in the same order: a delta file's rows.
 */
export function deltaRows(plan: TaskPlan, rows?: Int32Array): Int32Array {
  const n = rows === undefined ? plan.subscriber.length : rows.length;
  // A flag per hit set: the rows read it in rank order, at random among thousands of hit set objects.
  const inDelta = Uint8Array.from(plan.hitSets, (h) => (h.delta ? 1 : 0)),
    hitSet = plan.hitSet;
  const out = new Int32Array(n);
  let m = 0;
  for (let q = 0; q < n; q++) {
    const r = rows === undefined ? q : rows[q]!;
    if (inDelta[hitSet[r]!] === 1) out[m++] = r;
  }
  return m === n ? out : out.slice(0, m);
}

/**
 * "2026-11-25T08:00+08:00": the issue time on D plus some hours, in the pack's zone,
 * moved into that day's callable window when given: to its start when earlier, to
 * its end when later (a deadline is never set at an hour nobody may be called).
 */
export function dueAt(D: number, issueTime: string, hours: number, timeZone: string, callable?: { from: string; to: string }): string {
  const minutes = minutesOf(issueTime) + Math.round(hours * 60);
  const day = D + Math.floor(minutes / 1440);
  let rest = minutes - (day - D) * 1440;
  if (callable !== undefined) rest = Math.min(Math.max(rest, minutesOf(callable.from)), minutesOf(callable.to));
  const hhmm = `${String(Math.floor(rest / 60)).padStart(2, '0')}:${String(rest % 60).padStart(2, '0')}`;
  return `${formatDay(day)}T${hhmm}${utcOffsetOf(timeZone, day)}`;
}

/**
 * The tasks of tier `tiers[tierIndex]`, whose subscribers `order` lists in rank
 * order. A row without a rule hit, or with a phone number that is not one (ingest
 * validated them; nothing alters them), stops the run: the first such row in rank
 * order is named by its rank.
 */
export function planTasks(
  input: PlanInput,
  tiers: readonly string[],
  tierIndex: number,
  order: readonly number[],
  profile: TaskProfile,
): TaskPlan {
  const { pack, D, evaluation: ev, msisdn } = input;
  const tier = tiers[tierIndex]!;
  const rows = order.length;
  // In shared memory: the plan of a tier the task-files worker may write is posted to it, and a plain array
  // would be copied there (0.1 GB at 10M subscribers, the largest tier's, held by both threads).
  const subscriber = sharedInt32(rows);
  subscriber.set(order);
  const { hits, words, bits, badPhones } = hitBitsOf(ev, msisdn);
  const types = input.taskType,
    states = input.ledger?.states,
    reasons = input.ledger?.reasons;
  const hitSet = sharedInt32(rows);
  const hitSets: HitSetPlan[] = [];
  const byKey = new Map<number, number>();
  // A deadline's text by its hours: a scorecard's hit sets run to thousands, their deadlines to a few.
  const dueTimes = new Map<number, string>();
  // The task type and the ledger state vary the decisions too: the key is the hit set's number times the variants
  // plus the variant, a small integer (a map's fastest key) with up to 24 rules in one word, and for more than one
  // word HitBits' pattern number (a string per row cost far more); else an exact double.
  const variants = TASK_TYPES.length * TASK_STATES.length,
    smallWord = words === 1 && ev.rules.length <= 24;
  for (let r = 0; r < rows; r++) {
    const i = subscriber[r]!;
    const variant = (types === undefined ? 0 : types[i]!) + TASK_TYPES.length * (states === undefined ? 0 : states[r]!);
    // The ledger's number of the row's hit set, where it gave one: no read of the subscriber's bits (at random,
    // in rank order) but for a hit set's first row, and no walk of the pattern maps of a scorecard's words.
    const key =
      reasons !== undefined
        ? reasons[r]! * variants + variant
        : smallWord
          ? bits[i]! * variants + variant
          : words === 1
            ? (bits[i]! >>> 0) + variant * 2 ** 32
            : hits.key(i) * variants + variant;
    let h = byKey.get(key);
    if (h === undefined) {
      const rules: number[] = [];
      for (let j = 0; j < ev.rules.length; j++) if (bits[i * words + (j >>> 5)]! & (1 << (j & 31))) rules.push(j);
      h =
        rules.length === 0
          ? -1
          : hitSets.push(decide(pack, D, ev.rules, rules, variant % TASK_TYPES.length, Math.floor(variant / TASK_TYPES.length), dueTimes)) -
            1;
      byKey.set(key, h);
    }
    if (h < 0) throw new ChurnwatchError('CW_INTERNAL', `a subscriber without a rule hit reached the ${tier} task file (rank ${r + 1})`);
    if (badPhones.size > 0 && badPhones.has(i)) {
      throw new ChurnwatchError('CW_INTERNAL', `a phone number that is not digits reached the ${tier} task file (rank ${r + 1})`);
    }
    hitSet[r] = h;
  }
  const rankWidth = Math.max(6, String(rows).length);
  const taskIdPrefix = `CW-${formatDay(D).replaceAll('-', '')}-${taskIdTags(tiers)[tierIndex]!}-`;
  if (taskIdPrefix.length + rankWidth > TASK_ID_MAX_LENGTH)
    throw new ChurnwatchError('CW_INTERNAL', `task ids of the ${tier} tier would pass ${TASK_ID_MAX_LENGTH} characters`);
  return {
    tier,
    rules: ev.rules,
    subscriber,
    hitSet,
    hitSets,
    assignee: pack.assignees[tier as keyof RulePack['assignees']],
    taskIdPrefix,
    rankWidth,
    taskIdBytes: input.ledger?.taskIds ?? null,
    rank: null,
    masking: maskingOf(profile),
  };
}

/** Each evaluation's flagged subscribers whose phone numbers are not ones, found once for all its tiers. */
const badPhonesCache = new WeakMap<Evaluation, Set<number>>();

/** The hit bits of every subscriber, and the flagged subscribers whose phone numbers are not ones. */
function hitBitsOf(ev: Evaluation, msisdn: TextColumn): { hits: HitBits; words: number; bits: Int32Array; badPhones: Set<number> } {
  const n = msisdn.length;
  const hits = HitBits.of(namedFlags(ev), n);
  let badPhones = badPhonesCache.get(ev);
  if (badPhones === undefined) {
    badPhones = new Set<number>();
    for (let i = 0; i < n; i++) {
      if (hits.none(i)) continue;
      if (!isPhoneBytes(msisdn.bytes, msisdn.offsets[i]!, msisdn.offsets[i + 1]!)) badPhones.add(i);
    }
    badPhonesCache.set(ev, badPhones);
  }
  return { hits, words: hits.words, bits: hits.bits, badPhones };
}

/**
 * What a hit set decides for a task of one type: a win-back gets the pack's win-back
 * action and deadline, a follow-up the follow-up action, a retry is due at the
 * retry time (another time of day than the first attempt), a callback on its day;
 * all due times fall in the callable window.
 */
function decide(
  pack: RulePack,
  D: number,
  enabled: readonly RuleDef[],
  rules: number[],
  type: number,
  state: number,
  dueTimes: Map<number, string>,
): HitSetPlan {
  let primary = rules[0]!,
    dueHours = Infinity;
  for (const j of rules) {
    if (enabled[j]!.weight > enabled[primary]!.weight) primary = j;
    dueHours = Math.min(dueHours, enabled[j]!.dueHours);
  }
  const p = enabled[primary]!,
    policy = pack.policy,
    taskType = TASK_TYPES[type]!;
  let action = p.action;
  if (taskType === 'win_back') {
    action = policy.winBack.action;
    dueHours = policy.winBack.dueHours;
  } else if (taskType === 'follow_up') action = policy.retained.action;
  else if (taskType === 'retry') {
    const wait = minutesOf(policy.unreachable.retryTime) - minutesOf(pack.tasks.issueTime);
    dueHours = (wait > 0 ? wait : wait + 1440) / 60;
  } else if (taskType === 'callback') {
    // The customer asked to be called back on this day: due by the end of its callable window, not days later.
    dueHours = Math.max(0, minutesOf(policy.callable.to) - minutesOf(pack.tasks.issueTime)) / 60;
  }
  let due = dueTimes.get(dueHours);
  if (due === undefined) dueTimes.set(dueHours, (due = dueAt(D, pack.tasks.issueTime, dueHours, pack.timeZone, policy.callable)));
  return {
    rules,
    reasons: pack.score === 'logistic' ? byPoints(enabled, rules) : rules,
    primary,
    dueHours,
    codes: rules.map((j) => enabled[j]!.id).join(';'),
    action,
    channel: p.channel,
    dueAt: due,
    taskType,
    state: TASK_STATES[state]!,
    delta: TASK_STATES[state] === 'new' || TASK_STATES[state] === 'escalated',
  };
}

/** A logistic task's named terms (evaluate.ts namedTerms), the most points first: its reason text's order. */
function byPoints(enabled: readonly RuleDef[], rules: readonly number[]): number[] {
  return [...rules].sort((a, b) => enabled[b]!.weight - enabled[a]!.weight || a - b);
}
