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
import { CONTACT_OUTCOMES, TIERS } from '../contract/contract.js';
import { formatDay } from '../util/dates.js';
import type { TextColumn } from '../util/text-column.js';
import { OVERFLOW, SUPPRESSED, SUPPRESSION_CODES, TASK, type PolicyPlan } from './policy.js';

export const TASK_STATES = ['new', 'open', 'escalated', 'waiting', 'closed'] as const;
export type TaskState = (typeof TASK_STATES)[number];
const NEW = 0,
  OPEN = 1,
  ESCALATED = 2,
  WAITING = 3;

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

/** Last night's ledger, as read back: the episodes still going (state not closed). */
export interface PriorLedger {
  /** The day of the run that wrote it. */
  asOf: number;
  subscriberIds: string[];
  taskIds: string[];
  tiers: string[];
  firstSeen: number[];
  reasons: string[];
  attempts: number[];
  /** Every row of the file, closed ones too: task id → its reason codes and tier, for the outcomes of earlier tasks. */
  allTasks: Map<string, { reasons: string; tier: string }>;
}

export interface LedgerRow {
  taskId: string;
  subscriber: number;
  subscriberId: string;
  tier: string;
  firstSeen: number;
  lastSeen: number;
  reasons: string;
  attempts: number;
  state: TaskState;
  closedBy: string;
}

export interface LedgerPlan {
  /** Per tier, aligned with PolicyPlan.perTier: each task's id as ASCII (TASK_ID_WIDTH bytes per row) and its state (index into TASK_STATES). */
  taskIds: Uint8Array[];
  states: Uint8Array[];
  /** Tonight's ledger: the open episodes (tasks, then the waiting ones), then those closed tonight. */
  rows: LedgerRow[];
  counts: Record<TaskState, number>;
  /** Outcomes of earlier tasks that came back since the last ledger, per rule then tier then outcome (and 'contacted' for all of them). */
  outcomes: Record<string, Record<string, Record<string, number>>>;
}

function hash32(b: Uint8Array, s: number, e: number, seed: number, day: number): number {
  let h = seed;
  for (let k = s; k < e; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  h = Math.imul(h ^ (day & 0xffff), 0x01000193);
  h = Math.imul(h ^ (day >>> 16), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, k) => k.toString(16).padStart(2, '0'));
const hex = (h: number) => HEX_BYTE[h >>> 24]! + HEX_BYTE[(h >>> 16) & 255]! + HEX_BYTE[(h >>> 8) & 255]! + HEX_BYTE[h & 255]!;
const dayStamps = new Map<number, string>();

/** The id of subscriber b[s..e)'s episode that began on `firstSeen`: independent of rank, tier and night. */
export function taskIdOf(b: Uint8Array, s: number, e: number, firstSeen: number): string {
  let stamp = dayStamps.get(firstSeen);
  if (stamp === undefined) {
    stamp = `CW${formatDay(firstSeen).replaceAll('-', '')}-`;
    dayStamps.set(firstSeen, stamp);
  }
  return stamp + hex(hash32(b, s, e, 0x811c9dc5, firstSeen)) + hex(hash32(b, s, e, 0x050c5d1f, firstSeen));
}

const utf8 = new TextEncoder();
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

export function updateLedger(x: LedgerInput): LedgerPlan {
  const { prior, plan, D, ids } = x;
  const weightOf = new Map(x.rules.map((r) => [r.id, r.weight]));
  // A subscriber's reason codes, made once per distinct set of hit rules (few) and found by its bits, 32 rules to a number.
  const reasonTexts = new Map<string | number, string>();
  const words = Math.ceil(x.rules.length / 32),
    bits = new Int32Array(words);
  const reasonsOf = (i: number) => {
    bits.fill(0);
    for (let j = 0; j < x.rules.length; j++) if (x.flags[j]![i]) bits[j >>> 5]! |= 1 << (j & 31);
    const key = words === 1 ? bits[0]! : bits.join(',');
    let text = reasonTexts.get(key);
    if (text === undefined) {
      text = x.rules
        .filter((_, j) => bits[j >>> 5]! & (1 << (j & 31)))
        .map((r) => r.id)
        .join(';');
      reasonTexts.set(key, text);
    }
    return text;
  };
  // Last night's open episodes, found by subscriber id bytes.
  const table = new IdTable(Math.max(1024, prior?.subscriberIds.length ?? 0));
  if (prior)
    for (const id of prior.subscriberIds) {
      const b = utf8.encode(id);
      table.insert(b, 0, b.length);
    }
  // One pass over the subscribers, only when there is a ledger: each one's episode, and each episode's subscriber.
  const priorIndex = prior === null ? null : new Int32Array(ids.length);
  const subscriberOf = new Int32Array(prior?.subscriberIds.length ?? 0).fill(-1);
  if (priorIndex !== null) {
    for (let i = 0; i < ids.length; i++) {
      const k = table.find(ids.bytes, ids.start(i), ids.end(i));
      priorIndex[i] = k;
      if (k >= 0) subscriberOf[k] = i;
    }
  }
  const priorOf = (i: number) => (priorIndex === null ? -1 : priorIndex[i]!);
  const seen = new Uint8Array(prior?.subscriberIds.length ?? 0);
  const rows: LedgerRow[] = [];
  const closed: LedgerRow[] = [];
  const counts: Record<TaskState, number> = { new: 0, open: 0, escalated: 0, waiting: 0, closed: 0 };

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
  const closeRow = (k: number, i: number, by: string) => {
    seen[k] = 1;
    closed.push({
      taskId: prior!.taskIds[k]!,
      subscriber: i,
      subscriberId: prior!.subscriberIds[k]!,
      tier: prior!.tiers[k]!,
      firstSeen: prior!.firstSeen[k]!,
      lastSeen: D,
      reasons: prior!.reasons[k]!,
      attempts: attemptsOf(k, i),
      state: 'closed',
      closedBy: by,
    });
  };
  /** The episode subscriber i is in tonight (continued or new), as a ledger row; `carry` false: a new one is not started. */
  const episode = (i: number, state: 'task' | 'waiting'): LedgerRow | null => {
    let k = priorOf(i);
    if (k >= 0) {
      const end = ending(k, i);
      if (end !== null) {
        closeRow(k, i, end);
        k = -1;
      }
    }
    const reasons = reasonsOf(i);
    if (k < 0 && state === 'waiting') return null;
    const firstSeen = k >= 0 ? prior!.firstSeen[k]! : D;
    let s: TaskState = state === 'waiting' ? 'waiting' : 'new';
    if (k >= 0) {
      seen[k] = 1;
      if (state === 'task') {
        const before = prior!.reasons[k]!.split(';');
        const strongest = Math.max(0, ...before.map((r) => weightOf.get(r) ?? 0));
        s = reasons.split(';').some((r) => !before.includes(r) && (weightOf.get(r) ?? 0) > strongest) ? 'escalated' : 'open';
      }
    }
    return {
      taskId: k >= 0 ? prior!.taskIds[k]! : taskIdOf(ids.bytes, ids.start(i), ids.end(i), firstSeen),
      subscriber: i,
      subscriberId: k >= 0 ? prior!.subscriberIds[k]! : ids.get(i),
      tier: TIERS[x.tier[i]!]!,
      firstSeen,
      lastSeen: D,
      reasons: state === 'waiting' && k >= 0 ? prior!.reasons[k]! : reasons,
      attempts: attemptsOf(k, i),
      state: s,
      closedBy: '',
    };
  };

  const taskIds: Uint8Array[] = [],
    states: Uint8Array[] = [];
  for (const list of plan.perTier) {
    const idBytes = new Uint8Array(list.length * TASK_ID_WIDTH),
      st = new Uint8Array(list.length);
    list.forEach((i, r) => {
      const row = episode(i, 'task')!;
      utf8.encodeInto(row.taskId, idBytes.subarray(r * TASK_ID_WIDTH, (r + 1) * TASK_ID_WIDTH));
      st[r] = row.state === 'new' ? NEW : row.state === 'open' ? OPEN : ESCALATED;
      counts[row.state]++;
      rows.push(row);
    });
    taskIds.push(idBytes);
    states.push(st);
  }
  // Waiting: over capacity tonight, or a retry or callback not yet due; a waiting subscriber without an episode starts none.
  const waiting = [...plan.overflow.subscriber, ...plan.suppressed.filter((i) => WAITING_CODES.has(SUPPRESSION_CODES[plan.code[i]!]!))];
  for (const i of waiting) {
    const row = episode(i, 'waiting');
    if (row !== null) {
      counts.waiting++;
      rows.push(row);
    }
  }
  // The rest of last night's episodes close tonight: no longer flagged, held out, or stopped by a policy.
  if (prior) {
    for (let k = 0; k < seen.length; k++) {
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
  return { taskIds, states, rows: [...rows, ...closed], counts, outcomes: earlierOutcomes(prior, x.contacts, D) };
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
    const task = prior.allTasks.get(t.taskId[k]!);
    if (task === undefined) continue;
    for (const rule of task.reasons.split(';')) {
      const byOutcome = ((out[rule] ??= {})[task.tier] ??= { contacted: 0, ...Object.fromEntries(CONTACT_OUTCOMES.map((o) => [o, 0])) });
      byOutcome.contacted!++;
      byOutcome[CONTACT_OUTCOMES[t.outcome[k]!]!]!++;
    }
  }
  return out;
}
