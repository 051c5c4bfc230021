/**
 * The contact policy: which flagged subscribers get a task tonight, which are held
 * out as the control group, which are stopped by a policy (and by which first), and
 * which a queue's daily capacity leaves over. Pure: values in, values out.
 *
 * Every flagged subscriber ends in exactly one of task, suppressed, held out or
 * overflow; policyCounts() checks that. Columnar: per subscriber a byte for the
 * outcome, the suppression code and the task type; lists only for the flagged.
 *
 * The order of the checks is the order of SUPPRESSION_CODES, with the holdout after
 * the permanent ones (closed, do-not-call, below the minimum risk) and before those
 * that change night by night (contacts, the shared number): so the control group is
 * drawn from subscribers who could have been called, and stays the same group
 * while the key is unchanged.
 */
import type { ContactPolicy, RulePack } from '../config/rulepack.js';
import type { ContactFold } from '../ingest/facts.js';
import { IdTable } from '../ingest/id-table.js';
import { CONTACT_OUTCOMES, STATUS_VALUES, TIERS } from '../contract/contract.js';
import type { Evaluation } from '../evaluate/evaluate.js';
import { radixOrder, rankOrder, type Scores } from '../score/score.js';
import { ChurnwatchError } from '../errors.js';
import { civilFromDays, daysFromCivil, daysInMonth } from '../util/dates.js';
import { fmix32 } from '../util/hash.js';
import { PHONE_KEY_BYTES, phoneKeyBytes } from '../util/phone.js';
import type { CodedText, TextColumn } from '../util/text-column.js';
import { TextTable } from '../util/text-table.js';

/** Per subscriber: not flagged, or the one thing that happened to a flagged one. */
export const NOT_FLAGGED = 0,
  TASK = 1,
  SUPPRESSED = 2,
  HELD_OUT = 3,
  OVERFLOW = 4;
/** A flagged subscriber no check has stopped yet, while applyPolicy decides (never in a plan it returns). */
const CANDIDATE = 5;

/** Why a flagged subscriber got no task, in the order the checks run (the first that stops one is its code). */
export const SUPPRESSION_CODES = [
  'closed',
  'do_not_call',
  'below_min_risk',
  'callback_pending',
  'retained_follow_up_later',
  'attempts_exhausted',
  'retry_later',
  'cooldown',
  'same_phone',
] as const;
export type SuppressionCode = (typeof SUPPRESSION_CODES)[number];

/** What the task is for: the first contact of an episode, or the next step after an earlier outcome. */
export const TASK_TYPES = ['retention', 'win_back', 'follow_up', 'retry', 'callback'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

const code = (c: SuppressionCode) => SUPPRESSION_CODES.indexOf(c);
const [TYPE_RETENTION, TYPE_WIN_BACK, TYPE_FOLLOW_UP, TYPE_RETRY, TYPE_CALLBACK] = TASK_TYPES.map((_, k) => k);
const stop = (c: SuppressionCode) => -(code(c) + 1);
const [STOP_CALLBACK_PENDING, STOP_RETAINED_FOLLOW_UP_LATER, STOP_ATTEMPTS_EXHAUSTED, STOP_RETRY_LATER, STOP_COOLDOWN] = (
  ['callback_pending', 'retained_follow_up_later', 'attempts_exhausted', 'retry_later', 'cooldown'] as const
).map(stop);
const CLOSED = STATUS_VALUES.indexOf('closed');
const [RETAINED, DECLINED, UNREACHABLE, CALLBACK, CHURNED] = (['retained', 'declined', 'unreachable', 'callback', 'churned'] as const).map(
  (o) => CONTACT_OUTCOMES.indexOf(o),
);

export interface PolicyInput {
  pack: RulePack;
  D: number;
  evaluation: Pick<Evaluation, 'rules' | 'flags'>;
  scores: Scores;
  subscribers: { ids: TextColumn; msisdn: TextColumn; managerId: CodedText; status: Uint8Array };
  doNotCall: Uint8Array | null;
  contacts: Pick<ContactFold, 'lastContact' | 'lastOutcome' | 'attempts'> | null;
  /** The country code of numbers written without one, for comparing numbers (input.default_country_code). */
  countryCode: string;
}

export interface PolicyPlan {
  /** Per subscriber: NOT_FLAGGED, TASK, SUPPRESSED, HELD_OUT or OVERFLOW. */
  outcome: Uint8Array;
  /** Per subscriber with outcome SUPPRESSED: index into SUPPRESSION_CODES. */
  code: Uint8Array;
  /** Per subscriber with outcome TASK: index into TASK_TYPES. */
  taskType: Uint8Array;
  /** The subscribers with a task, per tier (TIERS order), by expected loss then id. */
  perTier: number[][];
  /** Held out, by expected loss then id. */
  heldOut: number[];
  /** Suppressed, by expected loss then id. */
  suppressed: number[];
  /** Left over by capacity, by tier then rank: each one's rank in its tier before the cut, and its queue. */
  overflow: { subscriber: Int32Array; rank: Int32Array; queue: Int32Array; queues: string[] };
}

/** Outcome counts and the identity flagged = tasks + suppressed + held out + overflow. */
export interface PolicyCounts {
  flagged: number;
  tasks: number;
  suppressed: number;
  held_out: number;
  over_capacity: number;
  suppressed_by_code: Record<string, number>;
  tasks_by_type: Record<string, number>;
  over_capacity_by_queue: Record<string, number>;
}

/** addMonths' answers by months, then by day: a night's flagged subscribers share a few hundred contact days. */
const monthsLater = new Map<number, Map<number, number>>();

/** `day` plus `months` calendar months, the day of month kept where the month has it (else its last day). */
export function addMonths(day: number, months: number): number {
  // The policy asks this for every flagged subscriber whose last contact retained them; the calendar's
  // arithmetic (two conversions) cost more than the rest of their checks together.
  let byDay = monthsLater.get(months);
  if (byDay === undefined) monthsLater.set(months, (byDay = new Map()));
  let later = byDay.get(day);
  if (later === undefined) byDay.set(day, (later = calendarMonthsLater(day, months)));
  return later;
}

function calendarMonthsLater(day: number, months: number): number {
  const [y, m, d] = civilFromDays(day);
  const k = m - 1 + months;
  const y2 = y + Math.floor(k / 12),
    m2 = (((k % 12) + 12) % 12) + 1;
  return daysFromCivil(y2, m2, Math.min(d, daysInMonth(y2, m2)));
}

/**
 * The next step after the subscriber's last contact: a task type (index into
 * TASK_TYPES, ≥ 0), or a suppression code c as -(c + 1), a number rather than an
 * object because it runs once per flagged subscriber. `lastDay` NaN: no earlier
 * contact. `overrides`: a rule the pack lets break a cooldown is hit.
 */
export function afterContact(
  policy: ContactPolicy,
  D: number,
  lastDay: number,
  outcome: number,
  attempts: number,
  overrides: boolean,
): number {
  if (Number.isNaN(lastDay)) return TYPE_RETENTION;
  const since = D - lastDay;
  switch (outcome) {
    case CALLBACK:
      return since < policy.callback.afterDays ? STOP_CALLBACK_PENDING : TYPE_CALLBACK;
    case RETAINED:
      if (D < addMonths(lastDay, policy.retained.everyMonths)) return overrides ? TYPE_RETENTION : STOP_RETAINED_FOLLOW_UP_LATER;
      return D <= addMonths(lastDay, policy.retained.forMonths) ? TYPE_FOLLOW_UP : TYPE_RETENTION;
    case UNREACHABLE:
      if (attempts >= policy.unreachable.maxAttempts) return STOP_ATTEMPTS_EXHAUSTED;
      return since < policy.unreachable.retryAfterDays ? STOP_RETRY_LATER : TYPE_RETRY;
    case CHURNED:
      return since < policy.cooldownDays.churned && !overrides ? STOP_COOLDOWN : TYPE_WIN_BACK;
    case DECLINED:
      return since < policy.cooldownDays.declined && !overrides ? STOP_COOLDOWN : TYPE_RETENTION;
    default:
      return since < policy.cooldownDays.any && !overrides ? STOP_COOLDOWN : TYPE_RETENTION;
  }
}

/**
 * Whether subscriber `id` is in the holdout of `key`: a 32-bit hash of key and id
 * (FNV-1a, then murmur3's finaliser to spread the bits) in 10,000 buckets, the
 * first share × 10,000 held out. Not secret, only stable: the same key and id give
 * the same answer every night; a new key draws a new group.
 */
export function holdoutBucket(key: Uint8Array, id: Uint8Array, s: number, e: number): number {
  return holdoutFrom(holdoutPrefix(key), id, s, e);
}

/** The hash of the key and the separator: where every id's hash of that key starts. */
function holdoutPrefix(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < key.length; k++) h = Math.imul(h ^ key[k]!, 0x01000193);
  return Math.imul(h ^ 0xff, 0x01000193); // a byte no UTF-8 text has: key "a" + id "bc" differs from key "ab" + id "c"
}

/** holdoutBucket from the key's prefix hash. */
function holdoutFrom(prefix: number, id: Uint8Array, s: number, e: number): number {
  let h = prefix;
  for (let k = s; k < e; k++) h = Math.imul(h ^ id[k]!, 0x01000193);
  return (fmix32(h) >>> 0) % 10000;
}

export function isHeldOut(share: number, bucket: number): boolean {
  return bucket < Math.round(share * 10000); // applyPolicy compares with the same bound, taken once
}

const utf8 = new TextEncoder();

/**
 * The phone key b[s..e) as a number when the number gives the bytes back: up to 15
 * digits (exact in a double) not starting with 0 (positive), or '+' and such digits
 * (negative); NaN for any other bytes. Equal values, equal keys.
 */
function phoneValue(b: Uint8Array, s: number, e: number): number {
  let sign = 1;
  if (s < e && b[s] === 0x2b) {
    sign = -1;
    s++;
  }
  if (e - s < 1 || e - s > 15 || b[s] === 0x30) return NaN;
  let v = 0;
  for (let k = s; k < e; k++) {
    const d = b[k]! - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return sign * v;
}

export function applyPolicy(input: PolicyInput): PolicyPlan {
  const { pack, D, evaluation: ev, scores, subscribers: subs } = input;
  const policy = pack.policy;
  const n = scores.hits.length;
  const outcome = new Uint8Array(n),
    codes = new Uint8Array(n),
    taskType = new Uint8Array(n);
  const overrideFlags = ev.rules.flatMap((r, j) => (policy.overrideRules.includes(r.id) ? [ev.flags[j]!] : []));
  const key = utf8.encode(policy.holdout.key),
    holdoutBuckets = Math.round(policy.holdout.share * 10000);
  const ids = subs.ids,
    contacts = input.contacts,
    dnc = input.doNotCall;
  // Every flagged subscriber, in subscriber order; the outcome of each is decided below. A typed array with
  // room for all: a quarter of a million pushes onto an array cost more than the checks in this loop.
  const upTo = new Int32Array(n);
  let f = 0;
  const suppress = (i: number, c: number) => {
    outcome[i] = SUPPRESSED;
    codes[i] = c;
  };
  // The holdout hash of the key and its separator, taken once: each subscriber's id continues it.
  const keyHash = holdoutPrefix(key);
  for (let i = 0; i < n; i++) {
    if (scores.hits[i] === 0) continue;
    upTo[f++] = i;
    if (subs.status[i] === CLOSED) {
      suppress(i, code('closed'));
      continue;
    }
    if (dnc?.[i]) {
      suppress(i, code('do_not_call'));
      continue;
    }
    if (!(scores.risk[i]! >= pack.tasks.minRisk)) {
      suppress(i, code('below_min_risk'));
      continue;
    }
    if (holdoutBuckets > 0 && holdoutFrom(keyHash, ids.bytes, ids.start(i), ids.end(i)) < holdoutBuckets) {
      outcome[i] = HELD_OUT;
      continue;
    }
    if (contacts !== null) {
      let overrides = false;
      for (let k = 0; k < overrideFlags.length && !overrides; k++) overrides = overrideFlags[k]![i] === 1;
      const next = afterContact(policy, D, contacts.lastContact[i]!, contacts.lastOutcome[i]!, contacts.attempts[i]!, overrides);
      if (next < 0) {
        suppress(i, -next - 1);
        continue;
      }
      taskType[i] = next;
    }
    outcome[i] = CANDIDATE;
  }
  // One task per number: the highest expected loss (or risk, with ranking: risk) keeps it, across tiers. Each candidate's
  // number is found first, in subscriber order (its text is read moving forward, not at
  // random as loss order would). What the walk in loss order reads is gathered by position
  // among the flagged (state, number, tier): small columns, where columns by subscriber
  // would be read at random over all of them.
  const flagged = upTo.subarray(0, f);
  const numberAt = new Int32Array(f),
    stateAt = new Uint8Array(f),
    tierAt = new Uint8Array(f);
  const cc = utf8.encode(input.countryCode),
    scratch = new Uint8Array(PHONE_KEY_BYTES),
    phoneKey = new Uint8Array(PHONE_KEY_BYTES);
  const m = subs.msisdn;
  // A key that is exactly a number (phoneValue) is numbered by sorting the values; any other key by a table of its
  // bytes. A hash table probe per candidate lands at random, a cache miss each: sorted, equal keys lie side by side.
  const others = new IdTable(1024);
  const valued = new Int32Array(f),
    values = new Float64Array(f);
  let nv = 0;
  for (let k = 0; k < f; k++) {
    const i = flagged[k]!;
    stateAt[k] = outcome[i]!;
    tierAt[k] = scores.tier[i]!;
    if (outcome[i] !== CANDIDATE) continue;
    let b = m.bytes,
      s = m.start(i),
      e = m.end(i);
    // Compared as do_not_call.csv is: by the E.164 key; a number that is its own key (the usual national mobile) without a copy.
    const len = phoneKeyBytes(b, s, e, cc, scratch, phoneKey);
    if (len > 0) {
      b = phoneKey;
      s = 0;
      e = len;
    }
    const v = phoneValue(b, s, e);
    if (v === v) {
      valued[nv] = k;
      values[nv++] = v;
    } else numberAt[k] = others.insert(b, s, e);
  }
  const byValue = radixOrder(values.subarray(0, nv));
  let number = others.n - 1,
    last = NaN;
  for (let p = 0; p < byValue.length; p++) {
    const v = values[byValue[p]!]!;
    if (v !== last) {
      number++;
      last = v;
    }
    numberAt[valued[byValue[p]!]!] = number;
  }
  // The flagged sorted once: candidates, the held out and the suppressed each in that order (ids are unique, so the order is total).
  const order = rankOrder(flagged, scores.rank, ids);
  const taken = new Uint8Array(number + 1);
  const perTierCandidates: number[][] = TIERS.map(() => []);
  const heldOut: number[] = [],
    suppressed: number[] = [];
  const samePhone = code('same_phone');
  for (let p = 0; p < f; p++) {
    const k = order[p]!,
      i = flagged[k]!,
      o = stateAt[k]!;
    if (o === HELD_OUT) heldOut.push(i);
    else if (o === SUPPRESSED) suppressed.push(i);
    else if (taken[numberAt[k]!]) {
      suppress(i, samePhone);
      suppressed.push(i);
    } else {
      taken[numberAt[k]!] = 1;
      perTierCandidates[tierAt[k]!]!.push(i);
    }
  }
  // Capacity per queue, in loss order: the tier's, then (high tier) each manager's.
  const caps = [policy.capacity.high, policy.capacity.mid, policy.capacity.mass];
  const over = { subscriber: [] as number[], rank: [] as number[], queue: [] as number[] };
  const queues = new TextTable();
  const perTier = perTierCandidates.map((list, t) => {
    const cap = caps[t]!,
      perManager = t === 0 ? policy.capacity.perManager : 0;
    if (cap === 0 && perManager === 0) {
      for (const i of list) outcome[i] = TASK;
      return list;
    }
    const kept: number[] = [];
    const perManagerCount = new Map<string, number>();
    list.forEach((i, r) => {
      let queue: string | null = null;
      if (cap > 0 && kept.length >= cap) queue = TIERS[t]!;
      else if (perManager > 0) {
        const manager = subs.managerId.get(i);
        if (manager !== '') {
          const c = perManagerCount.get(manager) ?? 0;
          if (c >= perManager) queue = `manager:${manager}`;
          else perManagerCount.set(manager, c + 1);
        }
      }
      if (queue === null) {
        outcome[i] = TASK;
        kept.push(i);
        return;
      }
      outcome[i] = OVERFLOW;
      over.subscriber.push(i);
      over.rank.push(r + 1);
      over.queue.push(queues.numberOf(queue));
    });
    return kept;
  });
  return {
    outcome,
    code: codes,
    taskType,
    perTier,
    heldOut,
    suppressed,
    overflow: {
      subscriber: Int32Array.from(over.subscriber),
      rank: Int32Array.from(over.rank),
      queue: Int32Array.from(over.queue),
      queues: queues.texts,
    },
  };
}

/** The counts of a plan; a flagged subscriber not accounted for exactly once is a bug, and stops the run. */
export function policyCounts(plan: PolicyPlan, hits: Uint8Array): PolicyCounts {
  // One pass without a branch per subscriber: counts and a mismatch seen anywhere, judged after.
  const outcome = plan.outcome,
    n = hits.length,
    byOutcome = new Int32Array(CANDIDATE + 1);
  let flagged = 0,
    mismatched = 0;
  for (let i = 0; i < n; i++) {
    const o = outcome[i]!,
      hit = +(hits[i] !== 0);
    flagged += hit;
    mismatched |= hit ^ +(o !== NOT_FLAGGED);
    byOutcome[o]!++;
  }
  if (mismatched !== 0 || byOutcome[CANDIDATE] !== 0)
    throw new ChurnwatchError('CW_INTERNAL', 'the contact policy decided on a subscriber who is not flagged, or on none for one who is');
  const counts: PolicyCounts = {
    flagged,
    tasks: byOutcome[TASK]!,
    suppressed: byOutcome[SUPPRESSED]!,
    held_out: byOutcome[HELD_OUT]!,
    over_capacity: byOutcome[OVERFLOW]!,
    suppressed_by_code: Object.fromEntries(SUPPRESSION_CODES.map((c) => [c, 0])),
    tasks_by_type: Object.fromEntries(TASK_TYPES.map((t) => [t, 0])),
    over_capacity_by_queue: {},
  };
  // By number first, named after: a property looked up by its name per subscriber cost more than the rest.
  const byCode = new Int32Array(256),
    byType = new Int32Array(256);
  for (const i of plan.suppressed) byCode[plan.code[i]!]!++;
  for (const list of plan.perTier) for (const i of list) byType[plan.taskType[i]!]!++;
  addNamed(counts.suppressed_by_code, SUPPRESSION_CODES, byCode);
  addNamed(counts.tasks_by_type, TASK_TYPES, byType);
  for (let k = 0; k < plan.overflow.queue.length; k++) {
    const q = plan.overflow.queues[plan.overflow.queue[k]!]!;
    counts.over_capacity_by_queue[q] = (counts.over_capacity_by_queue[q] ?? 0) + 1;
  }
  const listed = plan.perTier.reduce((a, l) => a + l.length, 0);
  if (
    counts.tasks + counts.suppressed + counts.held_out + counts.over_capacity !== flagged ||
    listed !== counts.tasks ||
    plan.suppressed.length !== counts.suppressed ||
    plan.heldOut.length !== counts.held_out ||
    plan.overflow.subscriber.length !== counts.over_capacity
  ) {
    throw new ChurnwatchError(
      'CW_INTERNAL',
      `${flagged} flagged subscribers but ${counts.tasks} tasks + ${counts.suppressed} suppressed + ${counts.held_out} held out + ${counts.over_capacity} over capacity`,
    );
  }
  return counts;
}

/** counts[names[k]] += byNumber[k] for every number counted (the plan's codes and types are indexes into the names). */
function addNamed(counts: Record<string, number>, names: readonly string[], byNumber: Int32Array): void {
  for (let k = 0; k < byNumber.length; k++) if (byNumber[k] !== 0) counts[names[k]!]! += byNumber[k]!;
}
