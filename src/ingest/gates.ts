/**
 * The data-quality gates of the contract that look at a whole extract: a missing
 * or cut bill month, a missing usage day or a dead feed, too many rejected or
 * repeated rows. Each failure names its
 * gate and stops the run before anything is published. (Missing files, missing
 * columns and empty files are caught where they are read.)
 */
import { ChurnwatchError } from '../errors.js';
import type { RulePack } from '../config/rulepack.js';
import { rulesReading } from '../config/rulepack.js';
import { formatDay, formatMonth } from '../util/dates.js';
import type { FeatureRequest } from '../rules/catalogue.js';
import type { FileStats } from './table-reader.js';

/**
 * The median as simple-statistics computes it (the mean of the two middle values
 * interpolated as lower + 0.5 × (upper − lower)), written out here because every run
 * checks its gates and loading that library costs ~7 ms of CPU before the first read.
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  const lower = sorted[Math.floor(middle)];
  return middle % 1 === 0 ? lower : lower + 0.5 * (sorted[Math.ceil(middle)] - lower);
}

/** M0: the latest bill month in the extract that is earlier than the run month. */
export function chooseM0(rowsPerMonth: Map<number, number>, asOfMonth: number): number {
  let m0 = -Infinity;
  for (const [m, rows] of rowsPerMonth) if (rows > 0 && m < asOfMonth && m > m0) m0 = m;
  if (m0 === -Infinity) {
    throw new ChurnwatchError(
      'CW_GATE_BILLING_MONTH',
      `gate billing-months failed: billing_monthly has no bill month before ${formatMonth(asOfMonth)}, so M0 cannot be chosen; check --as-of and the billing export`,
      { gate: 'billing-months' },
    );
  }
  return m0;
}

/** The bill month offsets k (Mk) that the features read, ascending. */
function monthOffsets(features: Map<string, FeatureRequest>): number[] {
  const offsets = new Set<number>();
  for (const f of features.values()) if (f.source === 'billing') offsets.add(f.month);
  return [...offsets].sort((a, b) => a - b);
}

/** Who reads Mk, for a message: the value and the enabled rules, and how to stop them. */
function monthReaders(pack: RulePack, k: number): { readers: string[]; who: string; verb: string; disable: string } {
  const readers = rulesReading(pack, (f) => f.source === 'billing' && f.month === k);
  const valueReads = [...pack.value.features.values()].some((f) => f.source === 'billing' && f.month === k);
  const who = [...(valueReads ? ['the value (ARPU)'] : []), ...readers.map((r) => `rule ${r}`)].join(', ');
  return {
    readers,
    who,
    verb: readers.length + (valueReads ? 1 : 0) > 1 ? 'read' : 'reads',
    disable: readers.length ? `, or disable ${readers.join(', ')} with "enabled: false" in the rule pack` : '',
  };
}

export function checkBillingMonths(
  pack: RulePack,
  rowsPerMonth: Map<number, number>,
  m0: number,
  features: Map<string, FeatureRequest>,
): void {
  for (const k of monthOffsets(features)) {
    const month = m0 - k;
    if ((rowsPerMonth.get(month) ?? 0) > 0) continue;
    const { readers, who, verb, disable } = monthReaders(pack, k);
    throw new ChurnwatchError(
      'CW_GATE_BILLING_MONTH',
      `gate billing-months failed: billing_monthly has no rows for ${formatMonth(month)} (M${k}, with M0 = ${formatMonth(m0)}), which ${who} ${verb}; ` +
        `add the month to the export${disable}`,
      { gate: 'billing-months', month: formatMonth(month), rule: readers[0] },
    );
  }
}

/** How many of the newest months before the run month make the typical month. */
const REFERENCE_MONTHS = 12;

/**
 * The completeness gates judge a month or day only when the typical one has at
 * least this many rows, and the duplicate gate only this many repeats: with a
 * handful of subscribers (a pilot, a test extract) a month with 1 row against 2, or
 * two equal rows, is chance, not a cut or doubled export.
 */
export const MIN_TYPICAL_ROWS = 50;

/**
 * A bill month that is read but cut short (most of its rows missing) makes every
 * subscriber missing from it look like a bill of 0. Each month read must have at
 * least `minRatio` times the median rows of the other months of the extract before
 * the run month (the newest REFERENCE_MONTHS of them): all months of the export, not
 * only those read, so that one cut month read among few cannot drag the median down
 * with it. Only a shortfall fails; a base that grows passes. With no other month, or
 * a typical month of fewer than MIN_TYPICAL_ROWS rows, the gate passes.
 */
export function checkBillingCompleteness(
  pack: RulePack,
  rowsPerMonth: Map<number, number>,
  m0: number,
  asOfMonth: number,
  features: Map<string, FeatureRequest>,
  minRatio: number,
): void {
  const before = [...rowsPerMonth]
    .filter(([m, rows]) => m < asOfMonth && rows > 0)
    .sort((a, b) => b[0] - a[0])
    .slice(0, REFERENCE_MONTHS);
  for (const k of monthOffsets(features)) {
    const month = m0 - k;
    const others = before.filter(([m]) => m !== month).map(([, rows]) => rows);
    if (others.length === 0) continue;
    const typical = median(others);
    const rows = rowsPerMonth.get(month) ?? 0;
    if (typical < MIN_TYPICAL_ROWS || rows >= minRatio * typical) continue;
    const { readers, who, verb, disable } = monthReaders(pack, k);
    throw new ChurnwatchError(
      'CW_GATE_BILLING_COMPLETE',
      `gate billing-complete failed: billing_monthly has ${rows} rows for ${formatMonth(month)} (M${k}) against a median of ${typical} rows in the other months, ` +
        `less than gates.min_month_rows_ratio = ${minRatio}; ${who} ${verb} it, and subscribers missing from a cut month would look like a bill of 0. ` +
        `Re-export the month${disable}, or lower gates.min_month_rows_ratio if the base really shrank`,
      { gate: 'billing-complete', month: formatMonth(month), rule: readers[0] },
    );
  }
}

export function checkUsageDays(
  pack: RulePack,
  rowsPerDay: Map<number, number>,
  asOf: number,
  features: Map<string, FeatureRequest>,
  minRatio: number,
): void {
  const offsets = dayOffsets(features);
  if (offsets.length === 0) return;
  const counts = [...rowsPerDay.entries()].filter(([d]) => d < asOf).map(([, c]) => c);
  const typical = counts.length > 0 ? median(counts) : 0;
  for (const k of offsets) {
    const day = asOf - k;
    const rows = rowsPerDay.get(day) ?? 0;
    if (rows > 0 && rows >= minRatio * typical) continue;
    const readers = rulesReading(pack, (f) => f.source === 'usage' && f.day === k);
    throw new ChurnwatchError(
      'CW_GATE_USAGE_DAY',
      `gate usage-days failed: usage_daily has ${rows} rows for ${formatDay(day)} (d${k}) against a median of ${typical} rows a day; ` +
        `a missing day would make subscribers look silent. Rules reading it: ${readers.join(', ') || 'none'}. Re-export the day, or disable those rules`,
      { gate: 'usage-days', day: formatDay(day), rule: readers[0] },
    );
  }
}

/** The usage day offsets k (d k) that the features read, ascending. */
function dayOffsets(features: Map<string, FeatureRequest>): number[] {
  const offsets = new Set<number>();
  for (const f of features.values()) if (f.source === 'usage') offsets.add(f.day);
  return [...offsets].sort((a, b) => a - b);
}

/**
 * A day whose rows are there but all 0 (a dead feed) passes the row count and makes
 * the whole base look silent. Each day read must have at least `minRatio` times the
 * median number of active rows (calls, SMS or data above 0) of the other days of the
 * extract before D (when that median is at least MIN_TYPICAL_ROWS). Counts, not shares: a share would move with the rows of idle
 * lines that some exports include and others leave out.
 */
export function checkUsageActivity(
  pack: RulePack,
  activeRowsPerDay: Map<number, number>,
  rowsPerDay: Map<number, number>,
  asOf: number,
  features: Map<string, FeatureRequest>,
  minRatio: number,
): void {
  const days = [...rowsPerDay.keys()].filter((d) => d < asOf);
  for (const k of dayOffsets(features)) {
    const day = asOf - k;
    const others = days.filter((d) => d !== day).map((d) => activeRowsPerDay.get(d) ?? 0);
    if (others.length === 0) continue;
    const typical = median(others);
    const active = activeRowsPerDay.get(day) ?? 0;
    if (typical < MIN_TYPICAL_ROWS || active >= minRatio * typical) continue;
    const readers = rulesReading(pack, (f) => f.source === 'usage' && f.day === k);
    throw new ChurnwatchError(
      'CW_GATE_USAGE_ACTIVE',
      `gate usage-active failed: usage_daily has ${active} rows with calls, SMS or data above 0 for ${formatDay(day)} (d${k}), of ${rowsPerDay.get(day) ?? 0} rows, ` +
        `against a median of ${typical} in the other days, less than gates.min_day_active_ratio = ${minRatio}; a dead feed would make subscribers look silent. ` +
        `Rules reading it: ${readers.join(', ') || 'none'}. Re-export the day, or disable those rules`,
      { gate: 'usage-active', day: formatDay(day), rule: readers[0] },
    );
  }
}

/**
 * A file delivered twice doubles every sum made from it. Repeated rows (see
 * facts.ts: exact repeats of a subscriber's row for a month or day read; a second
 * row for a ticket or contract id) above `maxShare` of a file stop the run. The
 * contract allows several equal rows of one subscriber and day (they are summed), so
 * fewer than MIN_TYPICAL_ROWS repeats are never judged: in a small extract a few
 * equal rows are chance, while an export delivered twice repeats thousands.
 */
export function checkDuplicateShare(files: FileStats[], maxShare: number): void {
  for (const f of files) {
    const d = f.duplicates ?? 0;
    if (d >= MIN_TYPICAL_ROWS && d / f.records > maxShare) {
      throw new ChurnwatchError(
        'CW_GATE_DUPLICATES',
        `gate duplicate-rows failed: ${f.file} repeats ${d} of ${f.records} rows (${((100 * d) / f.records).toFixed(2)}%, more than ${(100 * maxShare).toFixed(2)}%), ` +
          `as an export delivered twice would; re-export the file once, or raise gates.max_duplicate_share in the rule pack if the repeats are real`,
        { file: f.file, gate: 'duplicate-rows' },
      );
    }
  }
}

export function checkRejectShare(files: FileStats[], maxShare: number): void {
  for (const f of files) {
    if (f.records > 0 && f.rejected / f.records > maxShare) {
      throw new ChurnwatchError(
        'CW_GATE_REJECT_SHARE',
        `gate reject-share failed: ${f.file} rejected ${f.rejected} of ${f.records} rows (${((100 * f.rejected) / f.records).toFixed(2)}%, more than ${(100 * maxShare).toFixed(2)}%); ` +
          `they are listed in OUTDIR/failed/<date>/rejects.csv; fix the export, or raise gates.max_reject_share in the rule pack to publish without them`,
        { file: f.file, gate: 'reject-share' },
      );
    }
  }
}

/** What the gates look at: the folded extracts' row counts and file stats. */
export interface GateInputs {
  billing: { rowsPerMonth: Map<number, number> };
  usage: { rowsPerDay: Map<number, number>; activeRowsPerDay: Map<number, number> } | null;
  files: FileStats[];
}

/**
 * Every data-quality gate over the folded extracts, in the order they are reported;
 * returns M0. The nightly run and the analysts' commands all pass through here, so a
 * new gate is one call below (plus its pack key and its test).
 */
export function checkGates(pack: RulePack, x: GateInputs, asOf: number, asOfMonth: number, features: Map<string, FeatureRequest>): number {
  const m0 = chooseM0(x.billing.rowsPerMonth, asOfMonth);
  checkBillingMonths(pack, x.billing.rowsPerMonth, m0, features);
  checkBillingCompleteness(pack, x.billing.rowsPerMonth, m0, asOfMonth, features, pack.gates.minMonthRowsRatio);
  if (x.usage) {
    checkUsageDays(pack, x.usage.rowsPerDay, asOf, features, pack.gates.minDayRowsRatio);
    checkUsageActivity(pack, x.usage.activeRowsPerDay, x.usage.rowsPerDay, asOf, features, pack.gates.minDayActiveRatio);
  }
  checkRejectShare(x.files, pack.gates.maxRejectShare);
  checkDuplicateShare(x.files, pack.gates.maxDuplicateShare);
  return m0;
}
