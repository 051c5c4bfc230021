/**
 * What the run report shows, as plain numbers: built from a run's summary.json (or the
 * summary object the nightly run has in memory), its risk column, the summaries of the
 * earlier runs in the same output folder and, optionally, a backtest result. Pure:
 * values in, a value out; the readers are in report-files.ts, the page in html.ts.
 *
 * Only counts, rule ids, file names and reject codes go in: no phone number, name or
 * subscriber id. Timings are left out on purpose, so the same run gives the same report.
 */
import { ChurnwatchError } from '../errors.js';
import { parseDay } from '../util/dates.js';

export interface Series {
  name: string;
  values: (number | null)[];
}

export interface Decile {
  decile: number;
  churn_rate: number;
  lift: number;
  cumulative_share: number;
}

export interface ReportModel {
  asOf: string;
  rulePack: { name: string; sha256: string };
  subscribers: number;
  flagged: number | null;
  tiers: { tier: string; subscribers: number; tasks: number }[];
  hits: { rule: string; hits: number }[];
  /** Risk in RISK_BINS equal bins over [0, 1]; subscribers with risk 0 (no rule hit) are counted apart. */
  risk: { counts: number[]; zero: number; total: number };
  files: { extract: string; file: string; read: number; rejected: number; byCode: Record<string, number> }[];
  /** Counts of subscribers flagged but given no task (suppressed, held out, over capacity), as named in summary.json. */
  withheld: { key: string; count: number }[];
  /** Earlier runs and this one, oldest first; `days` are day numbers (for a proportional time axis). */
  trend: { dates: string[]; days: number[]; tasks: Series[]; hits: Series[]; withheld: Series[] };
  /** Earlier date folders whose summary.json could not be read, so they are missing from the trend. */
  skipped: string[];
  backtest?: { file: string; deciles: Decile[] };
}

export const RISK_BINS = 20;

/** The counts of one run that the report reads, taken from a summary.json. */
export interface RunCounts {
  asOf: string;
  rulePack: { name: string; sha256: string };
  subscribers: number;
  flagged: number | null;
  tiers: Record<string, number>;
  tasks: Record<string, number>;
  hits: Record<string, number>;
  withheld: Record<string, number>;
  files: ReportModel['files'];
}

export interface EarlierRun {
  date: string;
  counts: RunCounts;
}

/** A summary.json key that counts flagged subscribers who got no task: today suppressed_do_not_call, later held-out and over-capacity. */
const WITHHELD_KEY = /(^|_)(suppressed|held_out|over_capacity)(_|$)/;

function bad(where: string, what: string): ChurnwatchError {
  return new ChurnwatchError('CW_REPORT_INPUT', `${where}: ${what}; pass the folder of a run published by churnwatch (OUTDIR/<date>)`, {
    file: where,
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function count(v: unknown, where: string, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(where, `${path} must be a count (a number of 0 or more)`);
  return v;
}

function counts(v: unknown, where: string, path: string): Record<string, number> {
  if (!isObject(v)) throw bad(where, `${path} is missing or not an object`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, count(x, where, `${path}.${k}`)]));
}

/**
 * The counts of a summary.json. `where` names the file in messages. Throws
 * CW_REPORT_INPUT (65) when a field the report draws is missing or not a count.
 */
export function runCounts(summary: unknown, where: string): RunCounts {
  if (!isObject(summary)) throw bad(where, 'not a JSON object');
  const asOf = summary.as_of;
  if (typeof asOf !== 'string' || Number.isNaN(parseDay(asOf)) || !/^\d{4}-\d{2}-\d{2}$/.test(asOf))
    throw bad(where, 'as_of is missing or not a date YYYY-MM-DD');
  const pack = isObject(summary.rule_pack) ? summary.rule_pack : {};
  const withheld: Record<string, number> = {};
  for (const [k, v] of Object.entries(summary)) {
    if (!WITHHELD_KEY.test(k)) continue;
    if (isObject(v)) for (const [m, x] of Object.entries(v)) withheld[`${k}.${m}`] = count(x, where, `${k}.${m}`);
    else withheld[k] = count(v, where, k);
  }
  if (!isObject(summary.files)) throw bad(where, 'files is missing or not an object');
  const files = Object.entries(summary.files).map(([extract, f]) => {
    if (!isObject(f)) throw bad(where, `files.${extract} is not an object`);
    const path = `files.${extract}`;
    return {
      extract,
      file: typeof f.file === 'string' ? f.file : extract,
      read: count(f.rows_read, where, `${path}.rows_read`),
      rejected: count(f.rows_rejected, where, `${path}.rows_rejected`),
      byCode: f.rejected_by_code === undefined ? {} : counts(f.rejected_by_code, where, `${path}.rejected_by_code`),
    };
  });
  return {
    asOf,
    rulePack: { name: typeof pack.name === 'string' ? pack.name : '', sha256: typeof pack.sha256 === 'string' ? pack.sha256 : '' },
    subscribers: count(summary.subscribers, where, 'subscribers'),
    flagged: summary.flagged === undefined ? null : count(summary.flagged, where, 'flagged'),
    tiers: counts(summary.subscribers_per_tier, where, 'subscribers_per_tier'),
    tasks: counts(summary.tasks_per_tier, where, 'tasks_per_tier'),
    hits: counts(summary.hits_per_rule, where, 'hits_per_rule'),
    withheld,
    files,
  };
}

/**
 * Risk in RISK_BINS equal bins over [0, 1]. A noisy-OR risk of one rule of weight w is
 * 1 − (1 − w), which floating point may put a hair under w (0.35 becomes 0.3499…): the
 * nudge keeps it in the bin that starts at w, where a reader of the chart looks for it.
 */
export function riskHistogram(risk: ArrayLike<number>): ReportModel['risk'] {
  const bins = new Array<number>(RISK_BINS).fill(0);
  let zero = 0;
  let total = 0;
  for (let i = 0; i < risk.length; i++) {
    const r = risk[i]!;
    if (!(r >= 0 && r <= 1)) continue;
    total++;
    if (r === 0) zero++;
    else bins[Math.min(RISK_BINS - 1, Math.floor(r * RISK_BINS + 1e-9))]!++;
  }
  return { counts: bins, zero, total };
}

/** Keys of several runs in first-seen order, so a rule added later still gets its line. */
function keysOf(runs: Record<string, number>[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

function series(runs: Record<string, number>[]): Series[] {
  return keysOf(runs).map((name) => ({ name, values: runs.map((r) => r[name] ?? null) }));
}

export interface ModelInput {
  current: RunCounts;
  risk: ArrayLike<number>;
  /** Earlier runs of the same output folder, any order; those not before the current date are left out. */
  earlier: EarlierRun[];
  skipped?: string[];
  backtest?: { file: string; deciles: Decile[] };
}

export function reportModel(m: ModelInput): ReportModel {
  const c = m.current;
  const earlier = m.earlier.filter((e) => e.date < c.asOf).sort((a, b) => (a.date < b.date ? -1 : 1));
  const runs = [...earlier.map((e) => e.counts), c];
  const dates = [...earlier.map((e) => e.date), c.asOf];
  const tierNames = keysOf([c.tiers, c.tasks]);
  return {
    asOf: c.asOf,
    rulePack: c.rulePack,
    subscribers: c.subscribers,
    flagged: c.flagged,
    tiers: tierNames.map((tier) => ({ tier, subscribers: c.tiers[tier] ?? 0, tasks: c.tasks[tier] ?? 0 })),
    hits: Object.entries(c.hits).map(([rule, hits]) => ({ rule, hits })),
    risk: riskHistogram(m.risk),
    files: c.files,
    withheld: Object.entries(c.withheld).map(([key, n]) => ({ key, count: n })),
    trend: {
      dates,
      days: dates.map(parseDay),
      tasks: series(runs.map((r) => r.tasks)),
      hits: series(runs.map((r) => r.hits)),
      withheld: series(runs.map((r) => r.withheld)),
    },
    skipped: [...(m.skipped ?? [])].sort(),
    ...(m.backtest ? { backtest: m.backtest } : {}),
  };
}

/**
 * The deciles of a backtest result. The report needs only
 * `{ deciles: [{ decile, churn_rate, lift, cumulative_share }] }` and ignores the rest;
 * it also finds them where `churnwatch backtest --json` puts the ranking's table
 * (`ranking.deciles.rows`, whose churn rate is `rate`), so that file can be passed as it is.
 */
export function parseBacktest(value: unknown, file: string): Decile[] {
  const fail = (what: string) =>
    new ChurnwatchError(
      'CW_REPORT_INPUT',
      `${file}: ${what}; pass a backtest result with deciles: [{ decile, churn_rate, lift, cumulative_share }] (churnwatch backtest --json writes one)`,
      { file },
    );
  const ranking = isObject(value) && isObject(value.ranking) && isObject(value.ranking.deciles) ? value.ranking.deciles.rows : undefined;
  const [path, rows] = isObject(value) && Array.isArray(value.deciles) ? ['deciles', value.deciles] : ['ranking.deciles.rows', ranking];
  if (!Array.isArray(rows)) throw fail('no deciles array');
  if (rows.length === 0 || rows.length > 100) throw fail(`${path} has ${rows.length} entries (expected 1 to 100)`);
  return rows.map((d: unknown, k: number) => {
    if (!isObject(d)) throw fail(`${path}[${k}] is not an object`);
    const num = (key: string, alias?: string) => {
      const v = d[key] ?? (alias === undefined ? undefined : d[alias]);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(`${path}[${k}].${key} is missing or not a number`);
      return v;
    };
    return { decile: num('decile'), churn_rate: num('churn_rate', 'rate'), lift: num('lift'), cumulative_share: num('cumulative_share') };
  });
}
