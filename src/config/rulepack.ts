/**
 * The rule pack: load (YAML text → plain value), validate (every key known, every
 * value of the right type), and compile (every expression parsed, checked against
 * the allow-list and compiled). What comes out has no undefined left in it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ChurnwatchError } from '../errors.js';
import { isTimeZone } from '../util/dates.js';
import { YamlTextError, parseYamlText } from './yaml-text.js';
import { ExpressionError, parseExpression, pointAt } from '../rules/parse.js';
import { checkExpression, type Checked } from '../rules/check.js';
import { compileCondition, compileNumber, type CompiledCondition, type CompiledNumber } from '../rules/compile.js';
import { RESERVED_NAMES, featureFile, type FeatureRequest, type Unit } from '../rules/catalogue.js';
import {
  ATTRIBUTES,
  EVENT_MEASURES,
  MEMBER_LEVELS,
  MEASURE_EXTRACTS,
  PACK_UNIT_SCALE,
  TIERS,
  builtinMeasure,
  extractSpec,
  foldHeader,
  type ColumnMeasure,
  type MeasureExtract,
} from '../contract/contract.js';

export type TemplatePart =
  | string
  | { expr: string; unit: Unit; isPercent: boolean; compiled: CompiledNumber; features: Map<string, FeatureRequest> };

/** What an agent reads: a rule's title, reason text and action in one locale. */
export interface RuleTexts {
  title: string;
  reason: TemplatePart[];
  action: string;
}

/** The locales a rule's texts may come in; `en` is the rule's own title, reason and action. */
export const LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];

/** The channels a task row can go out on; each goes to its own file (a dialer dials every row it imports). */
export const CHANNELS = ['call', 'sms', 'visit'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface RuleDef {
  id: string;
  title: string;
  source: string;
  enabled: boolean;
  when: string;
  /**
   * The rule's strength: its noisy-OR weight (0 to 1), or in a logistic pack its
   * points (signed log-odds). The heaviest rule hit sets a task's action either way.
   */
  weight: number;
  reason: TemplatePart[];
  action: string;
  channel: string;
  dueHours: number;
  /** The kind of task the rule asks for (warning_call, sms_then_call, renewal_offer, ...): a dialer campaign or an SMS template picks by it. */
  taskType: string;
  /** The texts in other locales than en (texts.zh-CN in the pack). */
  texts: Partial<Record<Locale, RuleTexts>>;
  compiled: CompiledCondition;
  features: Map<string, FeatureRequest>;
}

/** How risk is computed from the rules hit (the pack's `score:`). */
export const SCORE_METHODS = ['noisy_or', 'logistic'] as const;
export type ScoreMethod = (typeof SCORE_METHODS)[number];
/** The key tasks are ranked by (the pack's `ranking:`). */
export const RANKINGS = ['expected_loss', 'risk'] as const;
export type Ranking = (typeof RANKINGS)[number];

/** One measure of the scorecard: its step rules are the pack's rules `${id}_1`, `${id}_2`, ... */
export interface ScorecardMeasure {
  id: string;
  measure: string;
  /** The measure, computed once for all its steps (evaluate.ts). */
  compiled: CompiledNumber;
  steps: { rule: string; from: number | null; below: number | null; points: number }[];
}

export type TierPolicy = { method: 'threshold'; high: number; mid: number } | { method: 'rank'; highShare: number; midShare: number };

export interface RulePack {
  name: string;
  version: number;
  description: string;
  hash: string;
  timeZone: string;
  value: { expr: string; compiled: CompiledNumber; features: Map<string, FeatureRequest> };
  exclude: { expr: string; compiled: CompiledCondition; features: Map<string, FeatureRequest> };
  tiers: TierPolicy;
  assignees: { high: string; mid: string; mass: string };
  gates: {
    maxRejectShare: number;
    minDayRowsRatio: number;
    minMonthRowsRatio: number;
    minDayActiveRatio: number;
    maxDuplicateShare: number;
  };
  tasks: {
    issueTime: string;
    minRisk: number;
    /** Local clock times "HH:MM" between which a customer may be called or messaged. */
    callableWindow: { from: string; to: string };
    /** Call attempts a dialer makes per task before it gives up. */
    attemptLimit: number;
  };
  /**
   * Channels by tier: the channels each tier's tasks go out on, and the member levels
   * whose high-tier tasks are a customer manager's visit instead of a call.
   */
  channels: { high: Channel[]; mid: Channel[]; mass: Channel[]; visitLevels: string[] };
  /** Locales every rule must carry texts for (locales: in the pack; en always). */
  locales: Locale[];
  policy: ContactPolicy;
  /** Measures the pack declares over extra numeric columns of the monthly or daily extract. */
  measures: ColumnMeasure[];
  /** noisy_or: 1 − Π(1 − weight); logistic: σ(intercept + Σ points of the rules hit). */
  score: ScoreMethod;
  ranking: Ranking;
  /** logistic: the log-odds of a subscriber who hits no rule. */
  intercept: number;
  /** logistic: a subscriber is flagged when a rule with positive points is hit and risk is at least this. */
  flagRisk: number;
  /** logistic: the graded steps of measures, already expanded into `rules`. */
  scorecard: ScorecardMeasure[];
  /** How a logistic pack was fitted (calibrate writes it): data hash, as-of, sizes, seed, held-out figures. */
  fitted: Record<string, string | number> | null;
  rules: RuleDef[];
}

/**
 * Who is not contacted tonight, and why (the pack's `policy:` section; every key has
 * a default, so a pack without the section gets the playbook's policy). Days are
 * whole days after the day of the last contact; times are local "HH:MM".
 */
export interface ContactPolicy {
  /** Share of flagged subscribers held out as a control group, chosen by a keyed hash of the id and `key`. */
  holdout: { share: number; key: string };
  /**
   * No new task within this many days of the last contact: `declined` and `churned`
   * after those outcomes, `any` after an outcome without its own next step (retained,
   * unreachable and callback have theirs: follow-ups, a retry, the callback date).
   */
  cooldownDays: { any: number; declined: number; churned: number };
  /** Rules whose hit overrides a cooldown (a new, stronger reason); never do-not-call, closed or holdout. */
  overrideRules: string[];
  /** After `unreachable`: a retry this many days later at retryTime, while fewer than maxAttempts (tasks.attempt_limit) unreachable contacts fell in the last 30 days. */
  unreachable: { retryAfterDays: number; maxAttempts: number; retryTime: string };
  /** After `retained`: a follow-up every everyMonths months for forMonths months. */
  retained: { everyMonths: number; forMonths: number; action: string; texts: Partial<Record<Locale, { action: string }>> };
  /** After `callback`: a task afterDays days after the contact (the extract carries no requested date). */
  callback: { afterDays: number };
  /** After `churned`: only this win-back task. */
  winBack: { action: string; dueHours: number; texts: Partial<Record<Locale, { action: string }>> };
  /** Due times are kept inside [from, to] local time: tasks.callable_window. */
  callable: { from: string; to: string };
  /** Tasks per day per queue (0: no limit): per tier, and per customer manager for the high tier. */
  capacity: { high: number; mid: number; mass: number; perManager: number };
  /** An open task not closed by a contact is closed as expired after this many days; the next one starts a new episode. */
  expireDays: number;
}

type Obj = Record<string, unknown>;

class Validator {
  constructor(private readonly file: string) {}
  fail(path: string, msg: string): never {
    throw new ChurnwatchError('CW_RULEPACK_INVALID', `${this.file}: ${path}: ${msg}`, { file: this.file, path });
  }
  obj(v: unknown, path: string, allowed: string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be a mapping');
    for (const key of Object.keys(v as Obj)) {
      if (!allowed.includes(key)) this.fail(`${path}.${key}`, `unknown key (allowed: ${allowed.join(', ')})`);
    }
    return v as Obj;
  }
  str(v: unknown, path: string, def?: string): string {
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'string' || v.trim() === '') this.fail(path, 'must be a non-empty text');
    return v as string;
  }
  num(v: unknown, path: string, def: number | undefined, min: number, max: number): number {
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(path, `must be a number from ${min} to ${max}`);
    return v as number;
  }
  bool(v: unknown, path: string, def: boolean): boolean {
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.fail(path, 'must be true or false');
    return v as boolean;
  }
}

function checked(path: string, src: string, want: 'bool' | 'number', measures: readonly ColumnMeasure[], templateFns = false): Checked {
  try {
    const c = checkExpression(parseExpression(src), { allowTemplateFunctions: templateFns, measures });
    if (want === 'bool' && c.unit !== 'bool') throw new ExpressionError('must be a condition (a comparison, and/or/not)', 0);
    if (want === 'number' && (c.unit === 'bool' || c.unit === 'day')) throw new ExpressionError('must be a number', 0);
    return c;
  } catch (e) {
    if (e instanceof ExpressionError) {
      throw new ChurnwatchError('CW_RULE_EXPRESSION', `${path}: ${e.message}\n${pointAt(src, e.pos)}`, { path });
    }
    throw e;
  }
}

/** Enough for any evidence a reason text can show; each {expression} compiles to two functions. */
const MAX_REASON_EXPRESSIONS = 50;
/** Each rule is a byte-sized 0/1 column per subscriber and the hit count per subscriber is one byte. */
export const MAX_RULES = 255;

function parseTemplate(v: Validator, path: string, text: string, measures: readonly ColumnMeasure[]): TemplatePart[] {
  if (text.split('{').length - 1 > MAX_REASON_EXPRESSIONS) {
    v.fail(path, `has more than ${MAX_REASON_EXPRESSIONS} {expressions}: show the evidence that matters and leave the rest to explain`);
  }
  const parts: TemplatePart[] = [];
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    if (open < 0) {
      parts.push(rest);
      break;
    }
    if (open > 0) parts.push(rest.slice(0, open));
    const close = rest.indexOf('}', open);
    if (close < 0) v.fail(path, 'a "{" is not closed by "}"');
    parts.push(templatePart(rest.slice(open + 1, close), measures, path));
    rest = rest.slice(close + 1);
  }
  return parts;
}

/**
 * The {expressions} already checked against a pack's measures, by their text: a
 * scorecard writes its measure into the reason of every step, in every locale (the
 * calibrated pack's 315 expressions are 138 texts), and each was parsed, checked and
 * compiled again on the single-threaded start of the night. A part is never changed
 * once made, so the rules that show one expression share it.
 */
const partsByMeasures = new WeakMap<readonly ColumnMeasure[], Map<string, Exclude<TemplatePart, string>>>();

/** A reason text's {expression}, checked and compiled (a worker thread that renders task rows compiles the pack's again from their text). */
export function templatePart(expr: string, measures: readonly ColumnMeasure[], path: string): Exclude<TemplatePart, string> {
  let parts = partsByMeasures.get(measures);
  if (parts === undefined) partsByMeasures.set(measures, (parts = new Map()));
  const known = parts.get(expr);
  if (known !== undefined) return known;
  const c = checked(path, expr, 'number', measures, true);
  const part = {
    expr,
    unit: c.unit,
    isPercent: c.tree.k === 'call' && c.tree.fn === 'pct_change',
    compiled: compileNumber(c.tree, c.features.keys()),
    features: c.features,
  };
  parts.set(expr, part);
  return part;
}

const RULE_KEYS = [
  'id',
  'title',
  'source',
  'enabled',
  'when',
  'weight',
  'points',
  'reason',
  'action',
  'channel',
  'due_hours',
  'task_type',
  'texts',
];

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

function channelList(v: Validator, raw: unknown, path: string, def: Channel[]): Channel[] {
  if (raw === undefined) return def;
  if (!Array.isArray(raw) || raw.length === 0) v.fail(path, `must be a non-empty list of ${CHANNELS.join(', ')}`);
  const list = raw as unknown[];
  for (const c of list) if (!CHANNELS.includes(c as Channel)) v.fail(path, `"${String(c)}" is not a channel (${CHANNELS.join(', ')})`);
  return [...new Set(list as Channel[])];
}

/** A rule's texts in the locales besides en, each with a title, a reason and an action. */
function ruleTexts(
  v: Validator,
  raw: unknown,
  path: string,
  en: { title: string; reason: TemplatePart[] },
  measures: readonly ColumnMeasure[],
): Partial<Record<Locale, RuleTexts>> {
  const out: Partial<Record<Locale, RuleTexts>> = {};
  if (raw === undefined) return out;
  const texts = v.obj(
    raw,
    path,
    LOCALES.filter((l) => l !== 'en'),
  );
  for (const [locale, t] of Object.entries(texts)) {
    const p = `${path}.${locale}`;
    const r = v.obj(t, p, ['title', 'reason', 'action']);
    const reason = parseTemplate(v, `${p}.reason`, v.str(r.reason, `${p}.reason`), measures);
    // Numbers are formatted the same in every locale; the evidence must be the same too.
    const exprs = (parts: TemplatePart[]) =>
      parts
        .flatMap((x) => (typeof x === 'string' ? [] : [x.expr.replace(/\s+/g, '')]))
        .sort()
        .join('|');
    if (exprs(reason) !== exprs(en.reason)) v.fail(`${p}.reason`, "must show the same {expressions} as the rule's reason");
    out[locale as Locale] = { title: v.str(r.title, `${p}.title`), reason, action: v.str(r.action, `${p}.action`) };
  }
  return out;
}

const MEASURE_KEYS = ['extract', 'column', 'unit', 'describe'];

/**
 * The pack's `measures:`: name → { extract, column, unit }. A name must not be one the
 * language already gives a meaning (a built-in measure, a function, an attribute, a
 * month or day); a column must not be a contract column (its built-in measure reads
 * it) nor be summed twice.
 */
function parseMeasures(v: Validator, raw: unknown): ColumnMeasure[] {
  if (raw === undefined) return [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) v.fail('measures', 'must be a mapping of measure names');
  const taken = new Set<string>();
  return Object.entries(raw as Obj).map(([name, spec]) => {
    const path = `measures.${name}`;
    if (!/^[a-z][a-z0-9_]*$/.test(name)) v.fail(path, 'a measure name must be lower case letters, digits and _');
    if (
      builtinMeasure(name) ||
      EVENT_MEASURES.some((e) => e.name === name) ||
      ATTRIBUTES[name] ||
      RESERVED_NAMES.includes(name) ||
      /^d\d+$/.test(name)
    ) {
      v.fail(path, `"${name}" is already a measure, function or name of the rule language; choose another name`);
    }
    const m = v.obj(spec, path, MEASURE_KEYS);
    const extract = v.str(m.extract, `${path}.extract`) as MeasureExtract;
    if (!MEASURE_EXTRACTS.includes(extract))
      v.fail(`${path}.extract`, `must be ${MEASURE_EXTRACTS.join(' or ')} (the extracts summed per month or day)`);
    const column = v.str(m.column, `${path}.column`).trim();
    const folded = foldHeader(column);
    if (extractSpec(extract).columns.some((c) => foldHeader(c.name) === folded)) {
      v.fail(`${path}.column`, `${column} is a column of the contract's ${extract}; call its built-in measure, or name another column`);
    }
    if (taken.has(`${extract}.${folded}`))
      v.fail(`${path}.column`, `${extract}.${column} is summed by another measure of the pack already`);
    taken.add(`${extract}.${folded}`);
    const unit = v.str(m.unit, `${path}.unit`);
    if (!(unit in PACK_UNIT_SCALE)) v.fail(`${path}.unit`, `must be ${Object.keys(PACK_UNIT_SCALE).join(', ')}`);
    const per = extract === 'billing_monthly' ? 'month Mk' : 'day dk';
    const describe = m.describe === undefined ? `${column} in ${per}` : v.str(m.describe, `${path}.describe`);
    const u = unit as keyof typeof PACK_UNIT_SCALE;
    return { name, extract, column, unit: u, scale: PACK_UNIT_SCALE[u], describe };
  });
}

/**
 * A number expression given outside a pack (calibrate's --measures), checked and
 * compiled as a pack's are: a mistake is CW_RULE_EXPRESSION naming `where`.
 */
export function numberExpression(
  src: string,
  measures: readonly ColumnMeasure[],
  where: string,
): { compiled: CompiledNumber; features: Map<string, FeatureRequest> } {
  const c = checked(where, src, 'number', measures);
  return { compiled: compileNumber(c.tree, c.features.keys()), features: c.features };
}

/** Far above any real pack (the default is 6 kB, 255 long rules fit in 200 kB); parsing more YAML would only take time. */
export const MAX_PACK_CHARS = 2_000_000;

export function parseRulePack(text: string, file: string): RulePack {
  const v = new Validator(file);
  if (text.length > MAX_PACK_CHARS) v.fail('pack', `the file has ${text.length} characters, more than the limit of ${MAX_PACK_CHARS}`);
  let doc: unknown;
  try {
    doc = parseYamlText(text);
  } catch (e) {
    if (!(e instanceof YamlTextError)) throw e;
    throw new ChurnwatchError(
      'CW_RULEPACK_INVALID',
      `${file}${e.line === undefined ? '' : `:${e.line}:${e.column}`}: not valid YAML: ${e.reason}`,
      { file, line: e.line },
    );
  }
  const root = v.obj(doc, 'pack', [
    'pack',
    'version',
    'description',
    'time_zone',
    'measures',
    'value',
    'exclude',
    'tiers',
    'gates',
    'tasks',
    'channels',
    'locales',
    'policy',
    'score',
    'ranking',
    'intercept',
    'flag_risk',
    'scorecard',
    'fitted',
    'rules',
  ]);
  const measures = parseMeasures(v, root.measures);
  const timeZone = v.str(root.time_zone, 'time_zone', 'Asia/Shanghai');
  if (!isTimeZone(timeZone)) v.fail('time_zone', `"${timeZone}" is not an IANA time zone`);

  const valueSrc = v.str(root.value, 'value');
  const valueChecked = checked('value', valueSrc, 'number', measures);
  const excludeSrc = v.str(root.exclude, 'exclude', "status == 'closed'");
  const excludeChecked = checked('exclude', excludeSrc, 'bool', measures);

  const tiersRaw = v.obj(root.tiers, 'tiers', ['method', 'high', 'mid', 'high_share', 'mid_share', 'assignees']);
  const method = v.str(tiersRaw.method, 'tiers.method', 'threshold');
  let tiers: TierPolicy;
  if (method === 'threshold') {
    const high = v.num(tiersRaw.high, 'tiers.high', undefined, 0, 1e9);
    const mid = v.num(tiersRaw.mid, 'tiers.mid', undefined, 0, 1e9);
    if (mid > high) v.fail('tiers.mid', 'must not be above tiers.high');
    tiers = { method, high, mid };
  } else if (method === 'rank') {
    const highShare = v.num(tiersRaw.high_share, 'tiers.high_share', 0.2, 0, 1);
    const midShare = v.num(tiersRaw.mid_share, 'tiers.mid_share', 0.2, 0, 1);
    if (highShare + midShare > 1) v.fail('tiers', 'high_share + mid_share must not exceed 1');
    tiers = { method, highShare, midShare };
  } else {
    return v.fail('tiers.method', 'must be threshold or rank');
  }
  const asg = v.obj(tiersRaw.assignees ?? {}, 'tiers.assignees', [...TIERS]);
  const assignees = {
    high: v.str(asg.high, 'tiers.assignees.high', 'customer_manager'),
    mid: v.str(asg.mid, 'tiers.assignees.mid', 'call_centre'),
    mass: v.str(asg.mass, 'tiers.assignees.mass', 'call_centre'),
  };

  const gatesRaw = v.obj(root.gates ?? {}, 'gates', [
    'max_reject_share',
    'min_day_rows_ratio',
    'min_month_rows_ratio',
    'min_day_active_ratio',
    'max_duplicate_share',
  ]);
  const gates = {
    maxRejectShare: v.num(gatesRaw.max_reject_share, 'gates.max_reject_share', 0.01, 0, 1),
    minDayRowsRatio: v.num(gatesRaw.min_day_rows_ratio, 'gates.min_day_rows_ratio', 0.5, 0, 1),
    minMonthRowsRatio: v.num(gatesRaw.min_month_rows_ratio, 'gates.min_month_rows_ratio', 0.8, 0, 1),
    minDayActiveRatio: v.num(gatesRaw.min_day_active_ratio, 'gates.min_day_active_ratio', 0.5, 0, 1),
    maxDuplicateShare: v.num(gatesRaw.max_duplicate_share, 'gates.max_duplicate_share', 0.01, 0, 1),
  };
  const tasksRaw = v.obj(root.tasks ?? {}, 'tasks', ['issue_time', 'min_risk', 'callable_window', 'attempt_limit']);
  const issueTime = v.str(tasksRaw.issue_time, 'tasks.issue_time', '08:00');
  if (!HHMM.test(issueTime)) v.fail('tasks.issue_time', 'must be HH:MM');
  const window = v.str(tasksRaw.callable_window, 'tasks.callable_window', '09:00-21:00');
  const [from, to] = window.split('-').map((t) => t.trim());
  if (from === undefined || to === undefined || !HHMM.test(from) || !HHMM.test(to) || from >= to) {
    v.fail('tasks.callable_window', 'must be HH:MM-HH:MM with the start before the end, such as 09:00-21:00');
  }
  const tasks = {
    issueTime,
    minRisk: v.num(tasksRaw.min_risk, 'tasks.min_risk', 0, 0, 1),
    callableWindow: { from: from!, to: to! },
    attemptLimit: v.num(tasksRaw.attempt_limit, 'tasks.attempt_limit', 3, 1, 20),
  };
  if (!Number.isInteger(tasks.attemptLimit)) v.fail('tasks.attempt_limit', 'must be a whole number');
  const channelsRaw = v.obj(root.channels ?? {}, 'channels', [...TIERS, 'visit_member_levels']);
  const visitRaw = channelsRaw.visit_member_levels ?? ['diamond'];
  if (!Array.isArray(visitRaw) || !visitRaw.every((l) => MEMBER_LEVELS.includes(l as (typeof MEMBER_LEVELS)[number]))) {
    v.fail('channels.visit_member_levels', `must be a list of ${MEMBER_LEVELS.join(', ')}`);
  }
  const channels = {
    high: channelList(v, channelsRaw.high, 'channels.high', ['call']),
    mid: channelList(v, channelsRaw.mid, 'channels.mid', ['call']),
    mass: channelList(v, channelsRaw.mass, 'channels.mass', ['sms', 'call']),
    visitLevels: visitRaw as string[],
  };
  const localesRaw = root.locales ?? ['en'];
  if (!Array.isArray(localesRaw) || !localesRaw.every((l) => LOCALES.includes(l as Locale)))
    v.fail('locales', `must be a list of ${LOCALES.join(', ')}`);
  const locales = [...new Set(['en', ...(localesRaw as Locale[])])] as Locale[];

  const scoreMethod = v.str(root.score, 'score', 'noisy_or') as ScoreMethod;
  if (!SCORE_METHODS.includes(scoreMethod)) v.fail('score', `must be ${SCORE_METHODS.join(' or ')}`);
  const ranking = v.str(root.ranking, 'ranking', 'expected_loss') as Ranking;
  if (!RANKINGS.includes(ranking)) v.fail('ranking', `must be ${RANKINGS.join(' or ')}`);
  const logistic = scoreMethod === 'logistic';
  if (!logistic)
    for (const key of ['intercept', 'flag_risk', 'scorecard', 'fitted'])
      if (root[key] !== undefined) v.fail(key, 'belongs to a logistic pack (score: logistic)');
  const fitted = root.fitted === undefined ? null : scalarMap(v, root.fitted, 'fitted');
  const { scorecard, stepRules } = parseScorecard(v, root.scorecard, measures, locales);

  if (!Array.isArray(root.rules) || root.rules.length + stepRules.length === 0) v.fail('rules', 'must be a non-empty list');
  const rawRules = [...(root.rules as unknown[]), ...stepRules];
  if (rawRules.length > MAX_RULES)
    v.fail(
      'rules',
      `has ${rawRules.length} rules${stepRules.length > 0 ? ` (${stepRules.length} of them scorecard steps)` : ''}, more than the limit of ${MAX_RULES}: merge rules or split the pack`,
    );
  const seen = new Set<string>();
  const rules: RuleDef[] = rawRules.map((raw, idx) => {
    const r = v.obj(raw, `rules[${idx}]`, RULE_KEYS);
    const id = v.str(r.id, `rules[${idx}].id`);
    const path = `rule ${id}`;
    if (!/^[a-z][a-z0-9_]*$/.test(id)) v.fail(path, 'id must be lower case letters, digits and _ (it becomes a column name)');
    if (seen.has(id)) v.fail(path, 'id is used twice');
    if (['subscriber_id', 'value', 'tier', 'risk_score', 'expected_loss', 'flagged', 'rule_count'].includes(id))
      v.fail(path, 'id clashes with a scores column');
    seen.add(id);
    const when = v.str(r.when, `${path}.when`);
    const c = checked(`${path}.when`, when, 'bool', measures);
    const reason = parseTemplate(v, `${path}.reason`, v.str(r.reason, `${path}.reason`, String(r.title ?? id)), measures);
    const title = v.str(r.title, `${path}.title`, id);
    const texts = ruleTexts(v, r.texts, `${path}.texts`, { title, reason }, measures);
    for (const locale of locales)
      if (locale !== 'en' && texts[locale] === undefined)
        v.fail(`${path}.texts`, `has no ${locale} texts (title, reason, action), and the pack's locales ask for them`);
    const channel = v.str(r.channel, `${path}.channel`, 'call');
    const taskType = v.str(r.task_type, `${path}.task_type`, channel === 'sms' ? 'sms_then_call' : 'call');
    // It names a dialer campaign and an SMS template: the characters every tool takes in an id.
    if (!/^[a-z][a-z0-9_]{0,39}$/.test(taskType))
      v.fail(`${path}.task_type`, 'must be 1 to 40 lower case letters, digits and _, starting with a letter');
    return {
      id,
      title,
      source: r.source === undefined ? '' : String(r.source),
      enabled: v.bool(r.enabled, `${path}.enabled`, true),
      when,
      weight: strength(v, r, path, logistic),
      reason,
      action: v.str(r.action, `${path}.action`),
      channel,
      dueHours: v.num(r.due_hours, `${path}.due_hours`, 48, 0, 24 * 90),
      taskType,
      texts,
      compiled: compileCondition(c.tree, c.features.keys()),
      features: c.features,
    };
  });

  const policy = parsePolicy(v, root.policy, rules, tasks);

  return {
    name: v.str(root.pack, 'pack'),
    version: v.num(root.version, 'version', 1, 1, 1e6),
    description: root.description === undefined ? '' : String(root.description),
    hash: createHash('sha256').update(text).digest('hex'),
    timeZone,
    value: { expr: valueSrc, compiled: compileNumber(valueChecked.tree, valueChecked.features.keys()), features: valueChecked.features },
    exclude: {
      expr: excludeSrc,
      compiled: compileCondition(excludeChecked.tree, excludeChecked.features.keys()),
      features: excludeChecked.features,
    },
    tiers,
    assignees,
    gates,
    tasks,
    channels,
    locales,
    policy,
    measures,
    score: scoreMethod,
    ranking,
    intercept: logistic ? v.num(root.intercept, 'intercept', undefined, -50, 50) : 0,
    flagRisk: logistic ? v.num(root.flag_risk, 'flag_risk', 0, 0, 1) : 0,
    scorecard,
    fitted,
    rules,
  };
}

/** A noisy-OR rule has a weight, a logistic one points; one pack never mixes them, so a copied rule cannot silently score 0. */
function strength(v: Validator, r: Obj, path: string, logistic: boolean): number {
  const [want, other] = logistic ? ['points', 'weight'] : ['weight', 'points'];
  if (r[other] !== undefined)
    v.fail(`${path}.${other}`, `a ${logistic ? 'logistic' : 'noisy-OR'} pack gives each rule ${want}, not ${other}`);
  return logistic ? v.num(r.points, `${path}.points`, undefined, -50, 50) : v.num(r.weight, `${path}.weight`, undefined, 0, 1);
}

function scalarMap(v: Validator, raw: unknown, path: string): Record<string, string | number> {
  const m = v.obj(raw, path, Object.keys((raw ?? {}) as Obj));
  for (const [k, x] of Object.entries(m))
    if (typeof x !== 'string' && (typeof x !== 'number' || !Number.isFinite(x))) v.fail(`${path}.${k}`, 'must be a number or a text');
  return m as Record<string, string | number>;
}

/** A step bound as the rule language writes a number: plain decimals, never 1e-7. */
export function stepNumber(x: number): string {
  const s = x.toFixed(10).replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/** A step's bounds as its rule's title and diff say them: below 7.07, 7.07 to below 9, 9 or more. */
export function stepRange(from: number | null, below: number | null): string {
  const lo = from === null ? null : stepNumber(from),
    hi = below === null ? null : stepNumber(below);
  return lo === null ? (hi === null ? 'given' : `below ${hi}`) : hi === null ? `${lo} or more` : `${lo} to below ${hi}`;
}

const SCORECARD_KEYS = ['id', 'title', 'measure', 'steps', 'action', 'channel', 'due_hours', 'task_type', 'texts'];

/**
 * The scorecard: per measure, steps `from <= x < below` with their points. Each step
 * becomes an ordinary rule (checked and compiled like any other), so the scores, the
 * flags columns, explain, the SQL and the task files need nothing of their own.
 */
function parseScorecard(
  v: Validator,
  raw: unknown,
  measures: readonly ColumnMeasure[],
  locales: readonly Locale[],
): { scorecard: ScorecardMeasure[]; stepRules: Obj[] } {
  if (raw === undefined) return { scorecard: [], stepRules: [] };
  if (!Array.isArray(raw)) v.fail('scorecard', 'must be a list of measures with their steps');
  const scorecard: ScorecardMeasure[] = [];
  const stepRules: Obj[] = [];
  (raw as unknown[]).forEach((entry, idx) => {
    const e = v.obj(entry, `scorecard[${idx}]`, SCORECARD_KEYS);
    const id = v.str(e.id, `scorecard[${idx}].id`);
    const path = `scorecard ${id}`;
    if (!/^[a-z][a-z0-9_]*$/.test(id)) v.fail(path, 'id must be lower case letters, digits and _ (its steps become column names)');
    const measure = v.str(e.measure, `${path}.measure`);
    const mc = checked(`${path}.measure`, measure, 'number', measures);
    const title = v.str(e.title, `${path}.title`, id);
    const action = v.str(e.action, `${path}.action`);
    const zh =
      e.texts === undefined
        ? undefined
        : v.obj(v.obj(e.texts, `${path}.texts`, ['zh-CN'])['zh-CN'], `${path}.texts.zh-CN`, ['title', 'action']);
    if (locales.includes('zh-CN') && zh === undefined)
      v.fail(`${path}.texts`, "has no zh-CN texts (title, action), and the pack's locales ask for them");
    if (!Array.isArray(e.steps) || e.steps.length === 0) v.fail(`${path}.steps`, 'must be a non-empty list of { from, below, points }');
    let last = -Infinity;
    const steps = (e.steps as unknown[]).map((s, k) => {
      const sp = `${path}.steps[${k}]`;
      const st = v.obj(s, sp, ['from', 'below', 'points']);
      const from = st.from === undefined ? null : v.num(st.from, `${sp}.from`, undefined, -1e14, 1e14);
      const below = st.below === undefined ? null : v.num(st.below, `${sp}.below`, undefined, -1e14, 1e14);
      if (from === null && k > 0) v.fail(`${sp}.from`, 'only the first step may be open below');
      if (below === null && k < (e.steps as unknown[]).length - 1) v.fail(`${sp}.below`, 'only the last step may be open above');
      if (from !== null && from < last) v.fail(`${sp}.from`, 'steps must be in order and must not overlap');
      if (from !== null && below !== null && !(from < below)) v.fail(sp, 'from must be below "below"');
      last = below ?? Infinity;
      return { rule: `${id}_${k + 1}`, from, below, points: v.num(st.points, `${sp}.points`, undefined, -50, 50) };
    });
    for (const st of steps) {
      const x = `(${measure})`;
      const lo = st.from === null ? null : stepNumber(st.from),
        hi = st.below === null ? null : stepNumber(st.below);
      const when = lo === null ? (hi === null ? `${x} == ${x}` : `${x} < ${hi}`) : hi === null ? `${lo} <= ${x}` : `${lo} <= ${x} < ${hi}`;
      const range = stepRange(st.from, st.below);
      const rangeZh = lo === null ? (hi === null ? '有值' : `低于 ${hi}`) : hi === null ? `${lo} 及以上` : `${lo} 至 ${hi}（不含）`;
      stepRules.push({
        id: st.rule,
        title: `${title}: ${range}`,
        when,
        points: st.points,
        reason: `${title}: {${measure}}`,
        action,
        ...(e.channel === undefined ? {} : { channel: e.channel }),
        ...(e.due_hours === undefined ? {} : { due_hours: e.due_hours }),
        ...(e.task_type === undefined ? {} : { task_type: e.task_type }),
        ...(zh === undefined
          ? {}
          : {
              texts: {
                'zh-CN': {
                  title: `${v.str(zh.title, `${path}.texts.zh-CN.title`)}：${rangeZh}`,
                  reason: `${zh.title}：{${measure}}`,
                  action: v.str(zh.action, `${path}.texts.zh-CN.action`),
                },
              },
            }),
      });
    }
    scorecard.push({ id, measure, compiled: compileNumber(mc.tree, mc.features.keys()), steps });
  });
  return { scorecard, stepRules };
}

function time(v: Validator, raw: unknown, path: string, def: string): string {
  const t = v.str(raw, path, def);
  if (!HHMM.test(t)) v.fail(path, 'must be HH:MM');
  return t;
}

/** The policy with its actions in `locale` (en: as it is). */
export function localisedPolicy(policy: ContactPolicy, locale: Locale): ContactPolicy {
  if (locale === 'en') return policy;
  const follow = policy.retained.texts[locale],
    win = policy.winBack.texts[locale];
  return {
    ...policy,
    retained: { ...policy.retained, action: follow?.action ?? policy.retained.action },
    winBack: { ...policy.winBack, action: win?.action ?? policy.winBack.action },
  };
}

export function minutesOf(hhmm: string): number {
  const [hh, mm] = hhmm.split(':').map(Number) as [number, number];
  return hh * 60 + mm;
}

/** The contact policy; its callable window and attempt limit are the tasks: section's (tasks.callable_window, tasks.attempt_limit). */
function parsePolicy(v: Validator, raw: unknown, rules: readonly RuleDef[], tasks: RulePack['tasks']): ContactPolicy {
  const issueTime = tasks.issueTime;
  const p = v.obj(raw ?? {}, 'policy', [
    'holdout',
    'cooldown_days',
    'override_rules',
    'unreachable',
    'retained',
    'callback',
    'win_back',
    'capacity',
    'expire_days',
  ]);
  const h = v.obj(p.holdout ?? {}, 'policy.holdout', ['share', 'key']);
  const cd = v.obj(p.cooldown_days ?? {}, 'policy.cooldown_days', ['any', 'declined', 'churned']);
  const days = (x: unknown, path: string, def: number) => v.num(x, path, def, 0, 3650);
  const any = days(cd.any, 'policy.cooldown_days.any', 14);
  const overrideRules = p.override_rules === undefined ? [] : p.override_rules;
  if (!Array.isArray(overrideRules)) v.fail('policy.override_rules', 'must be a list of rule ids');
  for (const id of overrideRules as unknown[]) {
    if (!rules.some((r) => r.id === id)) v.fail('policy.override_rules', `"${String(id)}" is not a rule of this pack`);
  }
  const u = v.obj(p.unreachable ?? {}, 'policy.unreachable', ['retry_after_days', 'retry_time']);
  const r = v.obj(p.retained ?? {}, 'policy.retained', ['every_months', 'for_months', 'action', 'texts']);
  const cb = v.obj(p.callback ?? {}, 'policy.callback', ['after_days']);
  const wb = v.obj(p.win_back ?? {}, 'policy.win_back', ['action', 'due_hours', 'texts']);
  // The agents' language: each action in every other locale too, from the playbook's wording unless the pack says otherwise.
  const actionTexts = (raw: unknown, path: string, zh: string) => {
    const t = v.obj(
      raw ?? {},
      path,
      LOCALES.filter((l) => l !== 'en'),
    );
    const zhRaw = v.obj(t['zh-CN'] ?? {}, `${path}.zh-CN`, ['action']);
    return { 'zh-CN': { action: v.str(zhRaw.action, `${path}.zh-CN.action`, zh) } };
  };
  const callable = tasks.callableWindow;
  const retryTime = time(v, u.retry_time, 'policy.unreachable.retry_time', '18:30');
  const inWindow = (t: number) => t >= minutesOf(callable.from) && t <= minutesOf(callable.to);
  if (!inWindow(minutesOf(retryTime)))
    v.fail('policy.unreachable.retry_time', `must lie inside the callable window ${callable.from}–${callable.to}`);
  if (retryTime === issueTime)
    v.fail('policy.unreachable.retry_time', 'must differ from tasks.issue_time (a second attempt goes at another time of day)');
  const everyMonths = v.num(r.every_months, 'policy.retained.every_months', 2, 1, 24);
  const cap = v.obj(p.capacity ?? {}, 'policy.capacity', ['high', 'mid', 'mass', 'per_manager']);
  const count = (x: unknown, path: string) => Math.floor(v.num(x, path, 0, 0, 1e9));
  return {
    holdout: { share: v.num(h.share, 'policy.holdout.share', 0.05, 0, 0.5), key: v.str(h.key, 'policy.holdout.key', 'default') },
    cooldownDays: {
      any,
      declined: days(cd.declined, 'policy.cooldown_days.declined', 30),
      churned: days(cd.churned, 'policy.cooldown_days.churned', any),
    },
    overrideRules: overrideRules as string[],
    unreachable: {
      retryAfterDays: days(u.retry_after_days, 'policy.unreachable.retry_after_days', 1),
      maxAttempts: tasks.attemptLimit,
      retryTime,
    },
    retained: {
      everyMonths,
      forMonths: v.num(r.for_months, 'policy.retained.for_months', 4, everyMonths, 36),
      action: v.str(
        r.action,
        'policy.retained.action',
        'Follow-up call after a successful retention: check the customer is satisfied with the new plan.',
      ),
      texts: actionTexts(r.texts, 'policy.retained.texts', '挽留成功后回访：确认客户对新套餐满意。'),
    },
    callback: { afterDays: days(cb.after_days, 'policy.callback.after_days', 1) },
    winBack: {
      action: v.str(wb.action, 'policy.win_back.action', 'Win-back offer: stress keeping the old number; fix any billing issue.'),
      dueHours: v.num(wb.due_hours, 'policy.win_back.due_hours', 72, 0, 24 * 90),
      texts: actionTexts(wb.texts, 'policy.win_back.texts', '挽回营销：强调保留原号码；解决计费问题。'),
    },
    callable,
    capacity: {
      high: count(cap.high, 'policy.capacity.high'),
      mid: count(cap.mid, 'policy.capacity.mid'),
      mass: count(cap.mass, 'policy.capacity.mass'),
      perManager: count(cap.per_manager, 'policy.capacity.per_manager'),
    },
    expireDays: days(p.expire_days, 'policy.expire_days', 14),
  };
}

export function loadRulePack(path: string): RulePack {
  let text: string;
  try {
    // stat first, as for the configuration: reading a FIFO given by mistake would block the run.
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ChurnwatchError(
      code === 'ENOENT' ? 'CW_INPUT_MISSING' : code === 'not a regular file' ? 'CW_INPUT_NOT_FILE' : 'CW_RULEPACK_INVALID',
      `rule pack ${path} cannot be read (${code ?? 'error'}); pass --rules with an existing file`,
      { file: path },
    );
  }
  return parseRulePack(text, path);
}

/** Every feature the enabled rules, the value, the exclusion and the reason texts read. */
export function requiredFeatures(pack: RulePack): Map<string, FeatureRequest> {
  const all = new Map<string, FeatureRequest>([...pack.value.features, ...pack.exclude.features]);
  for (const r of pack.rules) {
    if (!r.enabled) continue;
    for (const [k, f] of r.features) all.set(k, f);
    for (const p of [r.reason, ...Object.values(r.texts).map((t) => t.reason)].flat()) {
      if (typeof p !== 'string') for (const [k, f] of p.features) all.set(k, f);
    }
  }
  return all;
}

/** The extracts the enabled rules need, besides subscribers and billing which are always read. */
export function neededFiles(pack: RulePack): Set<string> {
  const files = new Set(['subscribers', 'billing_monthly']);
  for (const f of requiredFeatures(pack).values()) files.add(featureFile(f));
  return files;
}

/** The rules that read a feature, for gate messages ("disable rule X"). */
export function rulesReading(pack: RulePack, predicate: (f: FeatureRequest) => boolean): string[] {
  return pack.rules.filter((r) => r.enabled && [...r.features.values()].some(predicate)).map((r) => r.id);
}
