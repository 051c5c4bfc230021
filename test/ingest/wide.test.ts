/**
 * Wide exports (input.wide in the run configuration): a billing or usage file with one
 * row per subscriber and a column per month or day is folded as the long extract built
 * from the same numbers, so the same flags come out (the whole scores.csv, byte for
 * byte), and bad cells, missing periods and bad layouts are refused as the long
 * extract's would be, with the wide header named.
 */
import { parse } from 'csv-parse/sync';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ensureBuilt, runChild } from '../hardening/helpers.js';
import { runCli } from '../helpers/world.js';

const AS_OF = '2026-11-23';
let work: string;
let long: string;

type Row = Record<string, string>;
const read = (file: string) => parse(readFileSync(file), { columns: true }) as Row[];

/** Each subscriber's sums per period and column, in hundredths (exact), from a long extract. */
function sums(rows: Row[], period: string, columns: string[]): Map<string, Map<string, number[]>> {
  const out = new Map<string, Map<string, number[]>>();
  for (const r of rows) {
    const byPeriod = out.get(r.subscriber_id!) ?? new Map<string, number[]>();
    out.set(r.subscriber_id!, byPeriod);
    const s = byPeriod.get(r[period]!) ?? columns.map(() => 0);
    byPeriod.set(r[period]!, s);
    columns.forEach((c, j) => {
      s[j]! += Math.round(Number(r[c] || '0') * 100);
    });
  }
  return out;
}

const cell = (h: number | undefined) => (h === undefined ? '' : (h / 100).toFixed(2));

/**
 * The wide file of a long extract: a header per (column, period) from `header`, an
 * empty cell where the subscriber has no row in that period.
 */
function toWide(
  longFile: string,
  period: string,
  columns: string[],
  periods: string[],
  header: (column: string, period: string) => string,
): string {
  const rows = read(longFile);
  const s = sums(rows, period, columns);
  const lines = [['subscriber_id', ...columns.flatMap((c) => periods.map((p) => header(c, p)))].join(',')];
  for (const [id, byPeriod] of s) {
    lines.push([id, ...columns.flatMap((_, j) => periods.map((p) => cell(byPeriod.get(p)?.[j])))].join(','));
  }
  return lines.join('\n') + '\n';
}

const MONTHS = ['2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10'];
/** Relative keys of the months above for D = 2026-11-23: M0 is 2026-10. */
const rel = (m: string) => `M${MONTHS.length - 1 - MONTHS.indexOf(m)}`;
const BILL_COLUMNS = ['amount', 'mou', 'hotline_calls'];
/** amount by absolute month (arpu_5 … arpu_10), the others by relative month (mou_m0 …). */
const billHeader = (c: string, m: string) => (c === 'amount' ? `arpu_${Number(m.slice(5))}` : `${c}_${rel(m).toLowerCase()}`);

function billingLayout(): string {
  const lines = ['input:', '  wide:', '    billing_monthly:'];
  for (const c of BILL_COLUMNS) {
    const entries = MONTHS.map((m) => (c === 'amount' ? `"${m}": ${billHeader(c, m)}` : `${rel(m)}: ${billHeader(c, m)}`));
    lines.push(`      ${c}: { ${entries.join(', ')} }`);
  }
  return lines.join('\n') + '\n';
}

/** A copy of the long input with billing_monthly.csv (and, asked, usage_daily.csv) wide, and its configuration. */
function wideInput(
  name: string,
  opts: { usage?: boolean; edit?: (wide: string) => string; config?: string } = {},
): { dir: string; config: string } {
  const dir = join(work, name);
  cpSync(long, dir, { recursive: true });
  const wide = toWide(join(long, 'billing_monthly.csv'), 'bill_month', BILL_COLUMNS, MONTHS, billHeader);
  writeFileSync(join(dir, 'billing_monthly.csv'), opts.edit ? opts.edit(wide) : wide);
  let config = opts.config ?? billingLayout();
  if (opts.usage) {
    const days = [...new Set(read(join(long, 'usage_daily.csv')).map((r) => r.usage_date!))].sort();
    const columns = ['calls', 'sms', 'data_mb', 'forwarded_calls'];
    const dk = (d: string) => `d${(Date.parse(AS_OF) - Date.parse(d)) / 86_400_000}`;
    writeFileSync(
      join(dir, 'usage_daily.csv'),
      toWide(join(long, 'usage_daily.csv'), 'usage_date', columns, days, (c, d) => `${c}_${dk(d)}`),
    );
    config += `    usage_daily:\n${columns.map((c) => `      ${c}: { ${days.map((d) => `${dk(d)}: ${c}_${dk(d)}`).join(', ')} }`).join('\n')}\n`;
  }
  const configFile = join(work, `${name}.yaml`);
  writeFileSync(configFile, config);
  return { dir, config: configFile };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cw-wide-'));
  long = join(work, 'long');
  const code = await main(['generate', '--subscribers', '1500', '--seed', '7', '--as-of', AS_OF, '--out', long], {
    out: () => {},
    err: () => {},
  });
  expect(code).toBe(0);
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const scoresOf = (published: string) => readFileSync(join(published, 'scores.csv'), 'utf8');

describe('wide exports', () => {
  it('when billing (and usage) are exported wide then scores.csv is byte-identical to the long extracts', async () => {
    const reference = await runCli(long, AS_OF, ['--with-measures'], join(work, 'out-long'));
    expect(reference.code).toBe(0);
    for (const usage of [false, true]) {
      const w = wideInput(usage ? 'wide-both' : 'wide-billing', { usage });
      const r = await runCli(w.dir, AS_OF, ['--with-measures', '--config', w.config], join(work, `out-${usage}`));
      expect([usage, r.code, r.stderr]).toEqual([usage, 0, '']);
      expect(scoresOf(r.published)).toBe(scoresOf(reference.published));
      expect(r.summary.flagged).toEqual(reference.summary.flagged);
    }
  }, 60_000);

  it('when the wide extracts are folded on the ingest worker thread (compiled CLI), with ranges small enough to cut the long files, then scores.csv is the same', async () => {
    await ensureBuilt();
    const w = wideInput('wide-worker', { usage: true });
    const outs: string[] = [];
    for (const [dir, config] of [
      [long, []],
      [w.dir, ['--config', w.config]],
    ] as const) {
      const out = join(work, `out-worker-${outs.length}`);
      const r = await runChild(['run', '--input', dir, '--out', out, '--as-of', AS_OF, '--log-level', 'silent', ...config], {
        // Ranges of 4 KiB cut the long extracts between two readers; a wide export is read whole (ranges.ts).
        env: { CHURNWATCH_INGEST_PARALLEL: '1', CHURNWATCH_RANGE_MIN_BYTES: '4096' },
      });
      expect([r.code, r.stderr]).toEqual([0, '']);
      outs.push(scoresOf(join(out, AS_OF)));
    }
    expect(outs[1]).toBe(outs[0]);
  }, 120_000);

  it('when backtest reads the wide extract then it reports what it reports on the long one', async () => {
    const w = wideInput('wide-analyst');
    const labels = join(work, 'labels.csv');
    const ids = read(join(long, 'subscribers.csv')).map((r) => r.subscriber_id!);
    writeFileSync(labels, `subscriber_id,churned\n${ids.map((id, k) => `${id},${k % 7 === 0 ? 1 : 0}`).join('\n')}\n`);
    const outs: string[] = [];
    for (const args of [
      ['--input', long],
      ['--input', w.dir, '--config', w.config],
    ]) {
      let out = '';
      const code = await main(['backtest', ...args, '--as-of', AS_OF, '--labels', labels, '--json'], {
        out: (s) => (out += s),
        err: () => {},
      });
      expect(code).toBe(0);
      outs.push(out);
    }
    expect(outs[1]).toBe(outs[0]);
  }, 60_000);

  it('when a cell is bad then the record is rejected with its line and the wide header, as the long row would be', async () => {
    // Line 3 of the file: the second subscriber's bill of 2026-08.
    const w = wideInput('wide-bad', {
      edit: (t) => {
        const lines = t.split('\n');
        const header = lines[0]!.split(',');
        const cells = lines[2]!.split(',');
        cells[header.indexOf('arpu_8')] = '12.3x';
        lines[2] = cells.join(',');
        return lines.join('\n');
      },
    });
    const r = await runCli(w.dir, AS_OF, ['--config', w.config], join(work, 'out-bad'));
    expect(r.code).toBe(0);
    const rejects = read(join(r.published, 'rejects.csv')).filter((x) => x.file === 'billing_monthly.csv');
    expect(rejects).toEqual([
      {
        file: 'billing_monthly.csv',
        line: '3',
        column: 'arpu_8',
        code: 'CW_ROW_BAD_NUMBER',
        reason: 'amount is not an amount in yuan with at most 2 decimals',
        raw_value: '12.3x',
      },
    ]);
  }, 60_000);

  // (Without its newest month, M0 moves to the month before, as with a long extract that lags a month.)
  it('when the column of a month is missing from the file then that month has no rows and the billing gate speaks', async () => {
    const w = wideInput('wide-missing', {
      edit: (t) => {
        const lines = t.split('\n').map((l) => l.split(','));
        const at = lines[0]!.indexOf('arpu_8');
        return lines.map((cells) => cells.filter((_, i) => i !== at).join(',')).join('\n');
      },
    });
    const r = await runCli(w.dir, AS_OF, ['--config', w.config], join(work, 'out-missing'));
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('billing_monthly has no rows for 2026-08 (M2, with M0 = 2026-10)');
  }, 60_000);

  it.each([
    [
      'a period key that is no period',
      'input:\n  wide:\n    billing_monthly:\n      amount: { M0: a, last: b }\n',
      /input\.wide\.billing_monthly\.amount\.last: "last" is not a period: write Mk/,
    ],
    [
      'a usage key in months',
      'input:\n  wide:\n    usage_daily:\n      calls: { M1: c }\n',
      /input\.wide\.usage_daily\.calls\.M1: "M1" is not a period: write dk/,
    ],
    [
      'a column the run does not read',
      'input:\n  wide:\n    billing_monthly:\n      amount: { M0: a }\n      amout: { M1: b }\n',
      /input\.wide\.billing_monthly\.amout: billing_monthly has no numeric column amout/,
    ],
    [
      'a month without its amount',
      'input:\n  wide:\n    billing_monthly:\n      amount: { M0: a }\n      mou: { M1: b }\n',
      /input\.wide\.billing_monthly\.amount: period M1 maps mou but not amount/,
    ],
    [
      'one period named twice',
      'input:\n  wide:\n    billing_monthly:\n      amount: { M0: a, "2026-10": b }\n',
      /input\.wide\.billing_monthly\.amount\.2026-10: names the same period as M0/,
    ],
    [
      'one header for two periods',
      'input:\n  wide:\n    billing_monthly:\n      amount: { M0: a, M1: A }\n',
      /the header "A" is also amount\.M0/,
    ],
  ])('when the layout has %s then the run exits 78 naming the key', async (_what, config, message) => {
    const file = join(work, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, config);
    const r = await runCli(long, AS_OF, ['--config', file], join(work, 'out-78'));
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(message);
  });
});
