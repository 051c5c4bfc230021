/**
 * Flagged subscribers → callback task rows, per tier, in rank order: who to call,
 * why (reason codes and a readable text with the evidence), what to offer, by which
 * channel and by when. Pure: values in, rows of text out.
 */
import type { RulePack, RuleDef, TemplatePart } from '../config/rulepack.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { CONTACT_OUTCOMES } from '../rules/catalogue.js';
import { columnsFor, type Evaluation } from '../rules/evaluate.js';
import { formatDay, utcOffsetOf } from '../util/dates.js';
import type { Scores } from '../score/score.js';
import type { ContactFold } from '../ingest/facts.js';
import { ChurnwatchError } from '../errors.js';
import { maskName, maskPhone, PHONE } from '../output/mask.js';
import { csvLine } from '../output/csv.js';
import type { CsvBytesWriter } from '../output/csv-bytes.js';

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

/** The task rows of one tier in rank order, handed to `emit` one at a time (a tier can hold millions). */
export function forEachTaskRow(input: TaskInput, tierName: string, order: number[], profile: TaskProfile, emit: (cells: string[]) => void): void {
  const { pack, D, subscribers: s, features, evaluation: ev, scores } = input;
  const enabled: RuleDef[] = pack.rules.filter((r) => r.enabled);
  const reasons = enabled.map((r) => reasonRenderer(r.reason, features, D));
  const dueTimes = new Map<number, string>();
  const dueText = (hours: number) => {
    let t = dueTimes.get(hours);
    if (t === undefined) { t = dueAt(D, pack.tasks.issueTime, hours, pack.timeZone); dueTimes.set(hours, t); }
    return t;
  };
  const tierLetter = tierName[0]!.toUpperCase();
  const assignee = pack.assignees[tierName as 'high' | 'mid' | 'mass'];
  const stamp = formatDay(D).replaceAll('-', '');
  const width = Math.max(6, String(order.length).length);
  order.forEach((i, k) => {
    const hitIdx: number[] = [];
    for (let j = 0; j < enabled.length; j++) if (ev.flags[j]![i]) hitIdx.push(j);
    const hit = hitIdx.map((j) => enabled[j]!);
    // The heaviest rule decides the action and channel; the most urgent one the deadline.
    const primary = hit.reduce((a, b) => (b.weight > a.weight ? b : a));
    const due = Math.min(...hit.map((r) => r.dueHours));
    const rank = k + 1;
    const lastDay = input.contacts?.lastContact[i];
    const hasContact = lastDay !== undefined && !Number.isNaN(lastDay);
    const phone = s.msisdn[i]!;
    // Ingest validated the number; a phone column is never altered, so anything else stops the run.
    if (!PHONE.test(phone)) throw new ChurnwatchError('CW_INTERNAL', `a phone number that is not digits reached the ${tierName} task file (rank ${rank})`);
    const personal = profile.mask
      ? [profile.dialerFullNumber ? phone : '', maskPhone(phone), maskName(s.name[i]!)]
      : [phone, s.name[i]!];
    emit([
      `CW-${stamp}-${tierLetter}-${String(rank).padStart(width, '0')}`,
      tierName,
      String(rank),
      s.ids[i]!,
      ...personal,
      s.region[i]!,
      s.managerId[i]!,
      assignee,
      ev.value[i]!.toFixed(2),
      scores.risk[i]!.toFixed(4),
      scores.expectedLoss[i]!.toFixed(2),
      hit.map((r) => r.id).join(';'),
      hitIdx.map((j) => reasons[j]!(i)).join('; '),
      primary.action,
      primary.channel,
      dueText(due),
      hasContact ? formatDay(lastDay!) : '',
      hasContact ? CONTACT_OUTCOMES[input.contacts!.lastOutcome[i]!] ?? '' : '',
    ]);
  });
}

/**
 * One tier's task file (header and rows) written to `w` as CSV bytes.
 * (First version: the rows of forEachTaskRow through csvLine; to be replaced by a byte-level writer.)
 */
export function writeTaskFile(w: CsvBytesWriter, input: TaskInput, tierName: string, order: number[], profile: TaskProfile): void {
  const columns = taskColumns(profile);
  const freeText = new Set(columns.map((c, j) => (TASK_FREE_TEXT.has(c) ? j : -1)).filter((j) => j >= 0));
  w.rawString(csvLine(columns));
  forEachTaskRow(input, tierName, order, profile, (cells) => w.rawString(csvLine(cells, freeText)));
}
