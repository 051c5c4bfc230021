/**
 * M0 is the latest bill month earlier than the run month: rows for the run month
 * itself (an incomplete month) are read and counted but never used as M0, and a
 * missing previous month moves M0 back rather than reading zeros.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { World, cleanup } from '../helpers/world.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

function worldWithoutFiller(asOf: string, months: string[]): World {
  const w = new World(asOf, false);
  w.sub('BASE', {});
  for (const m of months) w.bill('BASE', m, '50.00');
  for (let k = 1; k <= 5; k++) w.usage('BASE', w.day(k), { calls: '1' });
  w.ticket('BASE', w.day(200), 'inquiry');
  w.contract('BASE', w.rel(400), '1');
  return w;
}

describe('choosing M0', () => {
  it('when the extract holds rows for the run month then M0 is still the month before', async () => {
    const w = worldWithoutFiller('2026-11-23', ['2026-07', '2026-08', '2026-09', '2026-10', '2026-11']);
    // A partial November bill of 5.00 after 100.00 in October would be a drop if November were M0.
    w.sub('PARTIAL', {}).bill('PARTIAL', '2026-11', '5.00').bill('PARTIAL', '2026-10', '100.00').bill('PARTIAL', '2026-09', '100.00');
    for (let k = 1; k <= 3; k++) w.usage('PARTIAL', w.day(k), { calls: '1' });
    const r = await w.run();
    dirs.push(r.dir);
    expect(r.stderr).toBe('');
    expect(r.summary.months).toMatchObject({ run_month: '2026-11', M0: '2026-10', M1: '2026-09' });
    expect(r.scores.get('PARTIAL')!.arpu_drop_mom).toBe('0');
    expect(r.scores.get('PARTIAL')!.value).toBe('66.67');
    expect(r.summary.files.billing_monthly.rows_rejected).toBe(0);
  });

  it('when the month before the run month is not in the extract then M0 is the latest earlier month', async () => {
    const w = worldWithoutFiller('2026-11-23', ['2026-05', '2026-06', '2026-07', '2026-08', '2026-09']);
    w.sub('DROP', {}).bill('DROP', '2026-09', '70.00').bill('DROP', '2026-08', '100.00');
    for (let k = 1; k <= 3; k++) w.usage('DROP', w.day(k), { calls: '1' });
    const r = await w.run();
    dirs.push(r.dir);
    expect(r.stderr).toBe('');
    expect(r.summary.months).toMatchObject({ M0: '2026-09', M1: '2026-08', M2: '2026-07', M3: '2026-06' });
    expect(r.scores.get('DROP')!.arpu_drop_mom).toBe('1');
  });

  it('when the run date is in January then M0..M3 cross the year boundary', async () => {
    const w = worldWithoutFiller('2027-01-02', ['2026-09', '2026-10', '2026-11', '2026-12']);
    const r = await w.run();
    dirs.push(r.dir);
    expect(r.stderr).toBe('');
    expect(r.summary.months).toMatchObject({ run_month: '2027-01', M0: '2026-12', M3: '2026-09' });
    expect(r.summary.days).toMatchObject({ d1: '2027-01-01', d2: '2026-12-31', d3: '2026-12-30' });
  });

  it('when bill months and dates use the compact forms then they read the same', async () => {
    const w = worldWithoutFiller('2026-11-23', ['202607', '202608', '202609', '202610']);
    w.sub('COMPACT', {}).bill('COMPACT', '202610', '7.07').bill('COMPACT', '202609', '10.10');
    for (let k = 1; k <= 3; k++) w.usage('COMPACT', w.day(k).replaceAll('-', ''), { calls: '1' });
    const r = await w.run();
    dirs.push(r.dir);
    expect(r.stderr).toBe('');
    expect(r.scores.get('COMPACT')!.arpu_drop_mom).toBe('1');
    expect(r.scores.get('COMPACT')!.silence_3d).toBe('0');
  });
});
