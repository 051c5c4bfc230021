/**
 * The gates against a cut bill month, a dead usage feed and a file delivered twice:
 * each stops the run with 65, names the gate, what it counted and the pack key, and
 * publishes nothing; normal data (months and days of similar size, a growing base)
 * passes, and the thresholds come from the rule pack.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { World, cleanup, type RunOutcome } from '../helpers/world.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) cleanup(dirs.pop()!);
});

const SUBS = 80;

/** SUBS subscribers with six bill months and fourteen usage days each. */
function bigWorld(): World {
  const w = new World('2026-11-23');
  for (let s = 0; s < SUBS; s++) {
    const id = `U${s}`;
    w.sub(id, {});
    for (let k = 0; k <= 5; k++) w.bill(id, w.month(k), '40.00', { mou: '100', hotline_calls: '0' });
    for (let k = 1; k <= 14; k++) w.usage(id, w.day(k), { calls: '2', data_mb: '10.5' });
  }
  return w;
}

async function run(w: World, mutate?: (dir: string) => void, pack?: (yaml: string) => string): Promise<RunOutcome> {
  const dir = w.write();
  dirs.push(dir);
  mutate?.(dir);
  const args: string[] = [];
  if (pack) {
    writeFileSync(join(dir, 'pack.yaml'), pack(readFileSync('rules/default.yaml', 'utf8')));
    args.push('--rules', join(dir, 'pack.yaml'));
  }
  return w.run(args, dir);
}

function expectRefused(r: RunOutcome, gate: string, code: string) {
  expect(r.code).toBe(65);
  expect(r.stderr).toContain(`gate ${gate} failed`);
  expect(r.stderr).toContain(`[${code}]`);
  expect(existsSync(r.published)).toBe(false);
}

function expectPublished(r: RunOutcome) {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

const setGate = (key: string, value: number) => (yaml: string) => yaml.replace(new RegExp(`  ${key}: [0-9.]+`), `  ${key}: ${value}`);

describe('billing completeness', () => {
  it('when 90% of M0 billing rows are missing then the run exits 65 naming the month, the counts and the rules', async () => {
    const w = bigWorld();
    const m0 = w.month(0);
    w.rows.billing_monthly = w.rows.billing_monthly.filter((b, i) => b.bill_month !== m0 || i % 10 === 0);
    const r = await run(w);
    expectRefused(r, 'billing-complete', 'CW_GATE_BILLING_COMPLETE');
    expect(r.stderr).toMatch(/billing_monthly has \d+ rows for 2026-10 \(M0\) against a median of 81 rows/);
    expect(r.stderr).toContain('the value (ARPU)');
    expect(r.stderr).toContain('arpu_drop_mom');
    expect(r.stderr).toContain('gates.min_month_rows_ratio');
  });

  it('when an older month read (M3) is cut then the run exits 65 naming M3', async () => {
    const w = bigWorld();
    const m3 = w.month(3);
    let seen = 0;
    w.rows.billing_monthly = w.rows.billing_monthly.filter((b) => b.bill_month !== m3 || ++seen % 2 === 0);
    const r = await run(w);
    expectRefused(r, 'billing-complete', 'CW_GATE_BILLING_COMPLETE');
    expect(r.stderr).toContain('(M3)');
    expect(r.stderr).toContain('arpu_decline_3m');
  });

  it('when the base grows or shrinks a little then the run publishes', async () => {
    const w = bigWorld();
    for (let s = 0; s < 40; s++) w.sub(`N${s}`, {}).bill(`N${s}`, w.month(0), '30.00');
    const m1 = w.month(1);
    let dropped = 0;
    w.rows.billing_monthly = w.rows.billing_monthly.filter((b) => b.bill_month !== m1 || ++dropped > 10);
    expectPublished(await run(w));
  });

  it('when the pack lowers gates.min_month_rows_ratio then the cut month passes', async () => {
    const w = bigWorld();
    const m0 = w.month(0);
    w.rows.billing_monthly = w.rows.billing_monthly.filter((b, i) => b.bill_month !== m0 || i % 10 === 0);
    expectPublished(await run(w, undefined, setGate('min_month_rows_ratio', 0.05)));
  });
});

describe('dead usage feed', () => {
  it('when d2 has rows but all are zero then the run exits 65 instead of flagging everyone silent', async () => {
    const w = bigWorld();
    for (const u of w.rows.usage_daily)
      if (u.usage_date === w.day(2)) {
        u.calls = '0';
        u.data_mb = '0';
      }
    const r = await run(w);
    expectRefused(r, 'usage-active', 'CW_GATE_USAGE_ACTIVE');
    expect(r.stderr).toContain('has 0 rows with calls, SMS or data above 0 for 2026-11-21 (d2), of 81 rows, against a median of 81');
    expect(r.stderr).toContain('silence_3d');
    expect(r.stderr).toContain('gates.min_day_active_ratio');
  });

  it('when some subscribers are silent on d1 then the run publishes and flags them', async () => {
    const w = bigWorld();
    for (const u of w.rows.usage_daily) {
      if ([1, 2, 3].some((k) => u.usage_date === w.day(k)) && +u.subscriber_id!.slice(1) < 20) {
        u.calls = '0';
        u.data_mb = '0';
      }
    }
    const r = await run(w);
    expectPublished(r);
    expect(r.scores.get('U3')!.silence_3d).toBe('1');
    expect(r.scores.get('U30')!.silence_3d).toBe('0');
  });

  it('when the pack sets gates.min_day_active_ratio to 0 then a dead day passes', async () => {
    const w = bigWorld();
    for (const u of w.rows.usage_daily)
      if (u.usage_date === w.day(1)) {
        u.calls = '0';
        u.data_mb = '0';
      }
    expectPublished(await run(w, undefined, setGate('min_day_active_ratio', 0)));
  });
});

describe('repeated rows', () => {
  const twice = (file: string) => (dir: string) => {
    const p = join(dir, file);
    const text = readFileSync(p, 'utf8');
    writeFileSync(p, text + text.slice(text.indexOf('\n') + 1));
  };

  it('when the billing export is delivered twice then the run exits 65 naming the file; normal runs report 0 repeats', async () => {
    const r = await run(bigWorld(), twice('billing_monthly.csv'));
    expectRefused(r, 'duplicate-rows', 'CW_GATE_DUPLICATES');
    expect(r.stderr).toMatch(/billing_monthly\.csv repeats \d+ of 972 rows/);
    expect(r.stderr).toContain('gates.max_duplicate_share');
    const failure = JSON.parse(readFileSync(join(r.outDir, 'failed', '2026-11-23', 'failure.json'), 'utf8'));
    expect(failure).toMatchObject({ code: 'CW_GATE_DUPLICATES', gate: 'duplicate-rows' });
    const ok = await run(bigWorld());
    expectPublished(ok);
    for (const f of ['billing_monthly', 'usage_daily', 'tickets', 'contracts'])
      expect([f, ok.summary.files[f].rows_repeated]).toEqual([f, 0]);
  });

  it('when usage is delivered twice then the run exits 65; with the share raised it publishes, keeps the rows and reports the count', async () => {
    expectRefused(await run(bigWorld(), twice('usage_daily.csv')), 'duplicate-rows', 'CW_GATE_DUPLICATES');
    const r = await run(bigWorld(), twice('usage_daily.csv'), setGate('max_duplicate_share', 1));
    expectPublished(r);
    // The days read (d1..d3 by the default rules) are checked: 3 days x 81 subscribers.
    expect(r.summary.files.usage_daily).toMatchObject({ rows_read: 2 * 81 * 14, rows_accepted: 2 * 81 * 14, rows_repeated: 3 * 81 });
  });

  it('when a ticket or contract id repeats then the later row is rejected with CW_ROW_DUPLICATE_ID and counted', async () => {
    const w = bigWorld();
    for (let s = 0; s < 3; s++) w.ticket(`U${s}`, w.day(10), 'complaint');
    const r = await run(
      w,
      (dir) => {
        const p = join(dir, 'tickets.csv');
        const lines = readFileSync(p, 'utf8').trimEnd().split('\n');
        writeFileSync(p, [...lines, lines[2]!.replace(/,U\d+,/, ',U7,')].join('\n') + '\n');
      },
      setGate('max_reject_share', 0.5),
    );
    expectPublished(r);
    expect(r.summary.files.tickets).toMatchObject({
      rows_read: 5,
      rows_rejected: 1,
      rows_repeated: 1,
      rejected_by_code: { CW_ROW_DUPLICATE_ID: 1 },
    });
    expect(readFileSync(join(r.published, 'rejects.csv'), 'utf8')).toMatch(/tickets\.csv,6,ticket_id,CW_ROW_DUPLICATE_ID,/);
  });
});
