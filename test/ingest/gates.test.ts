/**
 * Each data-quality gate of the contract: the run exits with a data error (65, or
 * 66 for a missing file), names the gate, and publishes no task file.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { World, cleanup, type RunOutcome } from '../helpers/world.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) cleanup(dirs.pop()!);
});

function busyWorld(): World {
  const w = new World('2026-11-23');
  for (let s = 0; s < 10; s++) {
    const id = `U${s}`;
    w.sub(id, {}).bills(id, ['20.00', '20.00', '20.00', '20.00']);
    for (let k = 2; k <= 14; k++) w.usage(id, w.day(k), { calls: '1' });
  }
  return w;
}

async function run(w: World, mutate?: (dir: string) => void, args: string[] = []): Promise<RunOutcome> {
  const dir = w.write();
  dirs.push(dir);
  mutate?.(dir);
  return w.run(args, dir);
}

function expectRefused(r: RunOutcome, exit: number, gate: string) {
  expect(r.code).toBe(exit);
  expect(r.stderr).toContain(`gate ${gate} failed`);
  expect(existsSync(r.published)).toBe(false);
  if (existsSync(r.outDir)) {
    const left = readdirSync(r.outDir, { recursive: true }).map(String);
    expect(left.filter((f) => f.includes('tasks-'))).toEqual([]);
  }
}

describe('data-quality gates', () => {
  it('when all gates pass then the run publishes', async () => {
    const w = busyWorld();
    for (let s = 0; s < 10; s++) w.usage(`U${s}`, w.day(1), { calls: '1' });
    const r = await run(w);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('when a needed file is missing then the run exits 66 and names the gate', async () => {
    const r = await run(busyWorld(), (dir) => rmSync(join(dir, 'usage_daily.csv')));
    expectRefused(r, 66, 'needed-files');
    expect(r.stderr).toContain('usage_daily.csv');
  });

  it('when a file no enabled rule reads is missing then the run goes on', async () => {
    const w = busyWorld();
    for (let s = 0; s < 10; s++) w.usage(`U${s}`, w.day(1), { calls: '1' });
    const pack = readFileSync('rules/default.yaml', 'utf8').replace(
      '  - id: complaints_repeat\n',
      '  - id: complaints_repeat\n    enabled: false\n',
    );
    const dir = w.write();
    dirs.push(dir);
    rmSync(join(dir, 'tickets.csv'));
    writeFileSync(join(dir, 'pack.yaml'), pack);
    const r = await w.run(['--rules', join(dir, 'pack.yaml')], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.scores.get('U1')).not.toHaveProperty('complaints_repeat');
  });

  it('when a required column is missing then the run exits 65 and names the column', async () => {
    const r = await run(busyWorld(), (dir) => {
      const p = join(dir, 'billing_monthly.csv');
      writeFileSync(p, readFileSync(p, 'utf8').replace('subscriber_id,bill_month,amount,', 'subscriber_id,bill_month,amt,'));
    });
    expectRefused(r, 65, 'required-columns');
    expect(r.stderr).toContain('billing_monthly.csv line 1 lacks required column amount');
  });

  it('when a needed file has no rows then the run exits 65', async () => {
    const r = await run(busyWorld(), (dir) =>
      writeFileSync(join(dir, 'tickets.csv'), 'ticket_id,subscriber_id,created_at,kind,category\n'),
    );
    expectRefused(r, 65, 'non-empty-files');
  });

  it('when d1 has no usage rows at all then the run exits 65 instead of flagging everyone silent', async () => {
    const w = busyWorld();
    w.rows.usage_daily = w.rows.usage_daily.filter((u) => u.usage_date !== w.day(1));
    const r = await run(w);
    expectRefused(r, 65, 'usage-days');
    expect(r.stderr).toContain('2026-11-22 (d1)');
    expect(r.stderr).toContain('silence_3d');
  });

  it('when d1 has fewer than half the median day rows then the run exits 65, and exactly half passes', async () => {
    const thin = busyWorld();
    for (let s = 0; s < 4; s++) thin.usage(`U${s}`, thin.day(1), { calls: '1' }); // 4 + filler = 5 < 11 / 2
    expectRefused(await run(thin), 65, 'usage-days');
    const half = busyWorld();
    for (let s = 0; s < 5; s++) half.usage(`U${s}`, half.day(1), { calls: '1' }); // 5 + filler = 6 >= 5.5
    const ok = await run(half);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('when the billing extract lacks a month a rule reads then the run exits 65 naming the rule, the month and how to disable it', async () => {
    const w = busyWorld();
    for (let s = 0; s < 10; s++) w.usage(`U${s}`, w.day(1), { calls: '1' });
    w.rows.billing_monthly = w.rows.billing_monthly.filter((b) => b.bill_month !== w.month(3));
    const r = await run(w);
    expectRefused(r, 65, 'billing-months');
    expect(r.stderr).toContain('2026-07 (M3');
    expect(r.stderr).toContain('arpu_decline_3m');
    expect(r.stderr).toContain('enabled: false');
  });

  it('when rejected rows exceed the share then the run exits 65; at the share it publishes them in rejects.csv', async () => {
    const w = busyWorld();
    for (let s = 0; s < 10; s++) w.usage(`U${s}`, w.day(1), { calls: '1' });
    // 100 good billing rows + 1 bad = 0.99% rejected: passes; 2 bad = 1.96%: fails.
    for (let k = 0; k < 56; k++) w.bill('FILLER', w.month(0), '0.00');
    w.bill('NOBODY', w.month(0), '1.00');
    const ok = await run(w);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const rejects = readFileSync(join(ok.published, 'rejects.csv'), 'utf8').trim().split('\n');
    expect(rejects[0]).toBe('file,line,column,code,reason,raw_value');
    expect(rejects[1]).toMatch(/^billing_monthly\.csv,\d+,subscriber_id,CW_ROW_UNKNOWN_SUBSCRIBER,/);
    w.bill('U1', 'not-a-month', '1.00');
    const bad = await run(w);
    expectRefused(bad, 65, 'reject-share');
  });
});
