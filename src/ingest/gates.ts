/**
 * The data-quality gates of the contract that look at a whole extract: a missing
 * usage day, a missing bill month, too many rejected rows. Each failure names its
 * gate and stops the run before anything is published. (Missing files, missing
 * columns and empty files are caught where they are read.)
 */
import { median } from 'simple-statistics';
import { ChurnwatchError } from '../errors.js';
import type { RulePack } from '../config/rulepack.js';
import { rulesReading } from '../config/rulepack.js';
import { formatDay, formatMonth } from '../util/dates.js';
import type { FeatureRequest } from '../rules/catalogue.js';
import type { FileStats } from './table-reader.js';

/** M0: the latest bill month in the extract that is earlier than the run month. */
export function chooseM0(rowsPerMonth: Map<number, number>, asOfMonth: number): number {
  let m0 = -Infinity;
  for (const [m, rows] of rowsPerMonth) if (rows > 0 && m < asOfMonth && m > m0) m0 = m;
  if (m0 === -Infinity) {
    throw new ChurnwatchError('CW_GATE_BILLING_MONTH',
      `gate billing-months failed: billing_monthly has no bill month before ${formatMonth(asOfMonth)}, so M0 cannot be chosen; check --as-of and the billing export`,
      { gate: 'billing-months' });
  }
  return m0;
}

export function checkBillingMonths(pack: RulePack, rowsPerMonth: Map<number, number>, m0: number, features: Map<string, FeatureRequest>): void {
  const offsets = new Set<number>();
  for (const f of features.values()) if (f.source === 'billing') offsets.add(f.month);
  for (const k of [...offsets].sort((a, b) => a - b)) {
    const month = m0 - k;
    if ((rowsPerMonth.get(month) ?? 0) > 0) continue;
    const readers = rulesReading(pack, (f) => f.source === 'billing' && f.month === k);
    const valueReads = [...pack.value.features.values()].some((f) => f.source === 'billing' && f.month === k);
    const who = [...(valueReads ? ['the value (ARPU)'] : []), ...readers.map((r) => `rule ${r}`)].join(', ');
    throw new ChurnwatchError('CW_GATE_BILLING_MONTH',
      `gate billing-months failed: billing_monthly has no rows for ${formatMonth(month)} (M${k}, with M0 = ${formatMonth(m0)}), which ${who} read${readers.length + (valueReads ? 1 : 0) > 1 ? '' : 's'}; ` +
        `add the month to the export${readers.length ? `, or disable ${readers.join(', ')} with "enabled: false" in the rule pack` : ''}`,
      { gate: 'billing-months', month: formatMonth(month), rule: readers[0] });
  }
}

export function checkUsageDays(pack: RulePack, rowsPerDay: Map<number, number>, asOf: number, features: Map<string, FeatureRequest>, minRatio: number): void {
  const offsets = new Set<number>();
  for (const f of features.values()) if (f.source === 'usage') offsets.add(f.day);
  if (offsets.size === 0) return;
  const counts = [...rowsPerDay.entries()].filter(([d]) => d < asOf).map(([, c]) => c);
  const typical = counts.length > 0 ? median(counts) : 0;
  for (const k of [...offsets].sort((a, b) => a - b)) {
    const day = asOf - k;
    const rows = rowsPerDay.get(day) ?? 0;
    if (rows > 0 && rows >= minRatio * typical) continue;
    const readers = rulesReading(pack, (f) => f.source === 'usage' && f.day === k);
    throw new ChurnwatchError('CW_GATE_USAGE_DAY',
      `gate usage-days failed: usage_daily has ${rows} rows for ${formatDay(day)} (d${k}) against a median of ${typical} rows a day; ` +
        `a missing day would make subscribers look silent. Rules reading it: ${readers.join(', ') || 'none'}. Re-export the day, or disable those rules`,
      { gate: 'usage-days', day: formatDay(day), rule: readers[0] });
  }
}

export function checkRejectShare(files: FileStats[], maxShare: number): void {
  for (const f of files) {
    if (f.records > 0 && f.rejected / f.records > maxShare) {
      throw new ChurnwatchError('CW_GATE_REJECT_SHARE',
        `gate reject-share failed: ${f.file} rejected ${f.rejected} of ${f.records} rows (${(100 * f.rejected / f.records).toFixed(2)}%, more than ${(100 * maxShare).toFixed(2)}%); ` +
          `they are listed in OUTDIR/failed/<date>/rejects.csv; fix the export, or raise gates.max_reject_share in the rule pack to publish without them`,
        { file: f.file, gate: 'reject-share' });
    }
  }
}
