/**
 * Task records for the dialer and CRM profiles: a tier's plan (plan.ts) turned into
 * one record per task and channel, with the fields a call centre imports (stable
 * order, named once in RECORD_FIELDS). The plain task files keep their own faster
 * renderer (tasks.ts); these records serve the profiles that need other columns,
 * other phone forms and one channel per file (output/profiles.ts).
 *
 * Channels: a tier's tasks go out on the pack's channels for the tier (channels.high,
 * .mid, .mass); a primary rule whose channel is sms adds an SMS before the call; a
 * high-tier subscriber whose member level is in channels.visit_member_levels gets the
 * customer manager's visit instead of a call. A task on several channels is one
 * record per channel, each in its channel's file, with the same task id.
 *
 * Pure: values in, values out.
 */
import { CHANNELS, type Channel, type Locale, type RuleDef, type RuleTexts } from '../config/rulepack.js';
import { CONTACT_OUTCOMES, MEMBER_LEVELS } from '../contract/contract.js';
import { formatDay, utcOffsetOf } from '../util/dates.js';
import { maskName } from '../util/mask.js';
import { toE164 } from '../util/phone.js';
import type { HitSetPlan, TaskPlan } from './plan.js';
import { rankOf, taskId } from './plan.js';
import { reasonRenderer, type TaskInput } from './tasks.js';

/** How a field is written: text (neutralised in CSV where free), a number (a JSON number), or an identifier. */
export type FieldKind = 'id' | 'text' | 'number' | 'phone' | 'time';

export interface RecordField {
  name: string;
  kind: FieldKind;
  /** Text from the extracts or the rule pack (neutralised against formulas in CSV). */
  freeText: boolean;
}

/** The fields of a task record, in order. A value is a string, or null where not given. */
export const RECORD_FIELDS: readonly RecordField[] = [
  { name: 'task_id', kind: 'id', freeText: false },
  { name: 'channel', kind: 'id', freeText: false },
  { name: 'task_type', kind: 'id', freeText: true },
  { name: 'tier', kind: 'id', freeText: false },
  { name: 'rank', kind: 'number', freeText: false },
  { name: 'priority', kind: 'number', freeText: false },
  { name: 'campaign', kind: 'id', freeText: true },
  { name: 'subscriber_id', kind: 'id', freeText: true },
  { name: 'msisdn', kind: 'phone', freeText: false },
  { name: 'msisdn_e164', kind: 'phone', freeText: false },
  { name: 'name', kind: 'text', freeText: true },
  { name: 'region', kind: 'text', freeText: true },
  { name: 'manager_id', kind: 'id', freeText: true },
  { name: 'queue', kind: 'id', freeText: true },
  { name: 'value', kind: 'number', freeText: false },
  { name: 'risk_score', kind: 'number', freeText: false },
  { name: 'expected_loss', kind: 'number', freeText: false },
  { name: 'reason_codes', kind: 'id', freeText: false },
  { name: 'title', kind: 'text', freeText: true },
  { name: 'reason_text', kind: 'text', freeText: true },
  { name: 'actions', kind: 'text', freeText: true },
  { name: 'due_at', kind: 'time', freeText: false },
  { name: 'window_start', kind: 'time', freeText: false },
  { name: 'window_end', kind: 'time', freeText: false },
  { name: 'callable_hours', kind: 'id', freeText: false },
  { name: 'time_zone', kind: 'id', freeText: false },
  { name: 'attempt_limit', kind: 'number', freeText: false },
  { name: 'last_contact', kind: 'id', freeText: false },
  { name: 'last_outcome', kind: 'id', freeText: false },
  { name: 'step', kind: 'id', freeText: false },
  { name: 'state', kind: 'id', freeText: false },
];

export type RecordFieldName = (typeof RECORD_FIELDS)[number]['name'];

export interface RecordOptions {
  locale: Locale;
  /** Digits, such as "86": the country of national numbers, for msisdn_e164. */
  countryCode: string;
  /** The campaign column is this, '-', and the task type ("churnwatch-renewal_offer"). */
  campaign: string;
}

/** A tier's records: per channel the plan rows (ranks - 1) that go out on it, in rank order, and each row's values. */
export interface TaskRecords {
  tier: string;
  rows: Record<Channel, Int32Array>;
  /** Row r's values on a channel, in RECORD_FIELDS order. */
  values(r: number, channel: Channel): (string | null)[];
}

/** What a hit set decides for the records, worked out once per hit set. */
interface HitSetRecord {
  taskType: string;
  priority: string;
  title: string;
  actions: string;
  dueAt: string;
  windowStart: string;
  windowEnd: string;
  reason: ((i: number) => string)[];
}

/** The texts of a rule in a locale (en: the rule's own). */
export function textsOf(rule: RuleDef, locale: Locale): RuleTexts {
  return (locale === 'en' ? undefined : rule.texts[locale]) ?? { title: rule.title, reason: rule.reason, action: rule.action };
}

/** Between reason texts, and between actions: the locale's own punctuation. */
const REASON_JOIN: Record<Locale, string> = { en: '; ', 'zh-CN': '；' };
const ACTION_JOIN: Record<Locale, string> = { en: ' ', 'zh-CN': '' };

/** "2026-11-25T08:00+08:00" → "2026-11-25T08:00:00+08:00": dialers want seconds. */
export function withSeconds(isoMinutes: string): string {
  return `${isoMinutes.slice(0, 16)}:00${isoMinutes.slice(16)}`;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

function localTime(minute: number, timeZone: string): string {
  const day = Math.floor(minute / 1440),
    rest = minute - day * 1440;
  const hh = String(Math.floor(rest / 60)).padStart(2, '0'),
    mm = String(rest % 60).padStart(2, '0');
  return `${formatDay(day)}T${hh}:${mm}:00${utcOffsetOf(timeZone, day)}`;
}

/**
 * The callable span of a task: from the issue time moved forward into the day's
 * callable window, to the deadline moved back into it (never before the start: a
 * deadline that falls before the first window ends with that window).
 */
export function callableSpan(
  D: number,
  issueTime: string,
  dueHours: number,
  window: { from: string; to: string },
  timeZone: string,
): [string, string] {
  const open = minutesOf(window.from),
    close = minutesOf(window.to);
  const issue = D * 1440 + minutesOf(issueTime);
  const due = issue + Math.round(dueHours * 60);
  const tod = (m: number) => m - Math.floor(m / 1440) * 1440;
  const dayStart = (m: number) => Math.floor(m / 1440) * 1440;
  let start = issue;
  if (tod(start) < open) start = dayStart(start) + open;
  else if (tod(start) >= close) start = dayStart(start) + 1440 + open;
  let end = due;
  if (tod(end) > close) end = dayStart(end) + close;
  else if (tod(end) < open) end = dayStart(end) - 1440 + close;
  if (end < start) end = dayStart(start) + close;
  return [localTime(start, timeZone), localTime(end, timeZone)];
}

/** 1 for a deadline within a day, 2 within two days, ...: dialers serve a lower number first. */
export function priorityOf(dueHours: number): number {
  return Math.min(9, 1 + Math.floor(dueHours / 24));
}

/**
 * Per channel, the plan rows (in rank order) that go out on it: the tier's channels
 * from the pack, an SMS first for a primary rule on the sms channel (then a call in
 * any tier), and a visit instead of a call for the visit member levels of the high tier.
 */
export function channelRows(input: Pick<TaskInput, 'pack' | 'subscribers'>, plan: TaskPlan): Record<Channel, Int32Array> {
  const { pack, subscribers: subs } = input;
  const tier = plan.tier as 'high' | 'mid' | 'mass';
  const tierChannels = pack.channels[tier] ?? ['call'];
  const visitLevels = new Set(pack.channels.visitLevels.map((l) => MEMBER_LEVELS.indexOf(l as (typeof MEMBER_LEVELS)[number])));
  const channelsOf = (sms: boolean, visit: boolean): Channel[] => {
    const out: Channel[] = [];
    for (const c of CHANNELS) {
      const wanted = tierChannels.includes(c) || (c === 'sms' && sms);
      if (!wanted) continue;
      out.push(c === 'call' && visit ? 'visit' : c);
    }
    // An SMS-first rule is followed by a call in every tier.
    if (sms && !out.includes('call') && !out.includes('visit')) out.push(visit ? 'visit' : 'call');
    return [...new Set(out)];
  };
  // A row's channels depend only on its hit set (an SMS first or not) and on whether it is a visit: one
  // bit per channel (CHANNELS order) for each of the two, made once per hit set, not per row.
  const masks = new Uint8Array(plan.hitSets.length * 2);
  plan.hitSets.forEach((h, k) => {
    const sms = plan.rules[h.primary]!.channel === 'sms';
    for (const visit of [0, 1]) for (const c of channelsOf(sms, visit === 1)) masks[k * 2 + visit]! |= 1 << CHANNELS.indexOf(c);
  });
  // Per member level code: 1 when a high-tier task of that level is a visit.
  const visitOf = new Uint8Array(256);
  if (tier === 'high') for (const l of visitLevels) if (l >= 0) visitOf[l] = 1;
  const rows = plan.subscriber.length,
    hitSet = plan.hitSet,
    subscriber = plan.subscriber,
    level = subs.memberLevel;
  // Only a tier with visit levels reads each row's member level: a read at random per row, in rank order.
  const visits = visitOf.includes(1);
  const rowMask = new Uint8Array(rows);
  const counts = CHANNELS.map(() => 0);
  for (let r = 0; r < rows; r++) {
    const m = masks[hitSet[r]! * 2 + (visits ? visitOf[level[subscriber[r]!]!]! : 0)]!;
    rowMask[r] = m;
    for (let c = 0; c < CHANNELS.length; c++) if (m & (1 << c)) counts[c]!++;
  }
  const lists = counts.map((n) => new Int32Array(n));
  const next = CHANNELS.map(() => 0);
  for (let r = 0; r < rows; r++) {
    const m = rowMask[r]!;
    for (let c = 0; c < CHANNELS.length; c++) if (m & (1 << c)) lists[c]![next[c]!++] = r;
  }
  return Object.fromEntries(CHANNELS.map((c, k) => [c, lists[k]!])) as Record<Channel, Int32Array>;
}

export function taskRecords(input: TaskInput, plan: TaskPlan, options: RecordOptions): TaskRecords {
  const { pack, D, subscribers: subs, scores, evaluation: ev } = input;
  const tier = plan.tier as 'high' | 'mid' | 'mass';
  const texts = plan.rules.map((r) => textsOf(r, options.locale));
  const reasons = texts.map((t) => reasonRenderer(t.reason, input.features, D));
  const hitSets = plan.hitSets.map((h): HitSetRecord => hitSetRecord(h, plan, texts, reasons, input, options));
  const [from, to] = [pack.tasks.callableWindow.from, pack.tasks.callableWindow.to];
  const rows = channelRows(input, plan);

  const fixed = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : null);
  const text = (col: { get(i: number): string }, i: number) => {
    const s = col.get(i);
    return s === '' ? null : s;
  };
  return {
    tier: plan.tier,
    rows,
    values(r, channel) {
      const i = plan.subscriber[r]!;
      const h = hitSets[plan.hitSet[r]!]!;
      const phone = plan.masking.phone === 'full' ? subs.msisdn.get(i) : null;
      const name = text(subs.name, i);
      const managerId = text(subs.managerId, i);
      const contactDay = input.contacts?.lastContact[i];
      const hasContact = contactDay !== undefined && !Number.isNaN(contactDay);
      return [
        taskId(plan, r),
        channel,
        h.taskType,
        plan.tier,
        String(rankOf(plan, r)),
        h.priority,
        `${options.campaign}-${h.taskType}`,
        subs.ids.get(i),
        phone,
        phone === null ? null : toE164(phone, options.countryCode),
        name === null ? null : plan.masking.name === 'initial' ? maskName(name) : name,
        text(subs.region, i),
        managerId,
        channel === 'sms' ? 'sms' : tier === 'high' && managerId !== null ? managerId : plan.assignee,
        fixed(ev.value[i]!, 2),
        fixed(scores.risk[i]!, 4),
        fixed(scores.expectedLoss[i]!, 2),
        plan.hitSets[plan.hitSet[r]!]!.codes,
        h.title,
        h.reason.map((f) => f(i)).join(REASON_JOIN[options.locale]),
        h.actions,
        h.dueAt,
        h.windowStart,
        h.windowEnd,
        `${from}-${to}`,
        pack.timeZone,
        channel === 'sms' ? '1' : String(pack.tasks.attemptLimit),
        hasContact ? formatDay(contactDay) : null,
        hasContact ? lastOutcomeOf(input, i) : null,
        plan.hitSets[plan.hitSet[r]!]!.taskType,
        plan.hitSets[plan.hitSet[r]!]!.state,
      ];
    },
  };
}

function lastOutcomeOf(input: TaskInput, i: number): string | null {
  const code = input.contacts?.lastOutcome[i];
  return code === undefined ? null : (CONTACT_OUTCOME_NAMES[code] ?? null);
}

const CONTACT_OUTCOME_NAMES: readonly string[] = CONTACT_OUTCOMES;

function hitSetRecord(
  h: HitSetPlan,
  plan: TaskPlan,
  texts: RuleTexts[],
  reasons: ((i: number) => string)[],
  input: TaskInput,
  options: RecordOptions,
): HitSetRecord {
  const { pack, D } = input;
  const primary = plan.rules[h.primary]!;
  // A win-back or a follow-up is its own kind of task with the policy's action only (the plan's, in the locale when the
  // caller localised the pack), as in the plain files: a churned customer gets no retention offer. Otherwise the primary
  // rule's action first, then the others' in pack order, each once.
  const ownTask = h.taskType === 'win_back' || h.taskType === 'follow_up';
  const actions = [ownTask ? h.action : texts[h.primary]!.action];
  if (!ownTask) for (const j of h.rules) if (!actions.includes(texts[j]!.action)) actions.push(texts[j]!.action);
  const [windowStart, windowEnd] = callableSpan(D, pack.tasks.issueTime, h.dueHours, pack.tasks.callableWindow, pack.timeZone);
  return {
    taskType: ownTask ? h.taskType : primary.taskType,
    priority: String(priorityOf(h.dueHours)),
    title: texts[h.primary]!.title,
    actions: actions.join(ACTION_JOIN[options.locale]),
    dueAt: withSeconds(h.dueAt),
    windowStart,
    windowEnd,
    reason: h.reasons.map((j) => reasons[j]!),
  };
}
