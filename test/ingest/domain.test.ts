/**
 * Values outside their domain: counts, minutes and volumes below 0 and contracts
 * ending before they start are rejected with their own codes (the run goes on, under
 * the reject-share gate); amounts may be negative (credits); the open-end sentinel
 * 9999-12-31 is a far-future date. The general reader and the fast path agree (the
 * property test in plain-rows.property.test.ts compares them on such values too).
 */
import { describe, expect, it } from 'vitest';
import { World, cleanup } from '../helpers/world.js';
import { readBilling, readContracts, readTickets, readUsage } from '../../src/ingest/facts.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { plainColumn } from '../../src/rules/compile.js';
import { factFixture } from './fact-fixture.js';

const { subs, D, input, write } = factFixture('domain');

const codes = (r: RejectLog) => r.rows.map((x) => [x.line, x.column, x.code]);

/** Reads contract rows (after the header) counting contracts that end in [D, D+to]: rejects, stats and counts per subscriber. */
async function contracts(name: string, rows: string[], to: number) {
  const path = write(name, ['contract_id,subscriber_id,kind,start_date,end_date,renewed', ...rows]);
  const rejects = new RejectLog();
  const r = await readContracts(path, 'contracts.csv', input, subs, rejects, D, [{ source: 'contracts', which: 'expiring', from: 0, to }]);
  return { rejects: codes(rejects), stats: r.stats, counts: Array.from(r.counts.values().next().value!) };
}

describe('values outside their domain', () => {
  for (const plain of [true, false]) {
    it(`when usage has a negative count or volume then that row is rejected with CW_ROW_NEGATIVE (fast path ${plain})`, async () => {
      const path = write(`usage-${plain}.csv`, [
        'subscriber_id,usage_date,calls,sms,data_mb,forwarded_calls',
        'S1,2026-11-22,0,0,0,0',
        'S1,2026-11-22,3,0,-3,0',
        'S2,2026-11-22,-1,0,0,0',
        'S2,2026-11-22,0,-2,0,0',
        'S3,2026-11-22,0,0,0,-0.5',
        'S3,2026-11-22,-0,-0.00,0,0',
      ]);
      const rejects = new RejectLog();
      const r = await readUsage(path, 'usage_daily.csv', input, subs, rejects, D, new Map([[1, new Set(['activity'] as const)]]), {
        plain,
      });
      expect(codes(rejects)).toEqual([
        [3, 'data_mb', 'CW_ROW_NEGATIVE'],
        [4, 'calls', 'CW_ROW_NEGATIVE'],
        [5, 'sms', 'CW_ROW_NEGATIVE'],
        [6, 'forwarded_calls', 'CW_ROW_NEGATIVE'],
      ]);
      expect(rejects.rows[0]!.reason).toBe('data_mb is below 0; counts, minutes and volumes cannot be');
      expect(r.stats).toMatchObject({ records: 6, accepted: 2, rejected: 4 });
      expect(Array.from(plainColumn(r.fold.days.get(1)!.activity!))).toEqual([0, 0, 0]);
    });

    it(`when billing has negative minutes or hotline calls then that row is rejected, but a negative amount (a credit) is kept (fast path ${plain})`, async () => {
      const path = write(`billing-${plain}.csv`, [
        'subscriber_id,bill_month,amount,mou,hotline_calls',
        'S1,2026-10,-5.00,10,0',
        'S2,2026-10,5.00,-10,0',
        'S3,2026-10,5.00,10,-1',
      ]);
      const rejects = new RejectLog();
      const r = await readBilling(
        path,
        'billing_monthly.csv',
        input,
        subs,
        rejects,
        2026 * 12 + 10,
        { amount: 1, mou: 1, hotline_calls: 1 },
        { plain },
      );
      expect(codes(rejects)).toEqual([
        [3, 'mou', 'CW_ROW_NEGATIVE'],
        [4, 'hotline_calls', 'CW_ROW_NEGATIVE'],
      ]);
      expect(Array.from(plainColumn(r.fold.months.get(2026 * 12 + 9)!.amount!))).toEqual([-5, 0, 0]);
    });
  }

  it('when every bill month lies decades before the run then the newest of them is M0 and the months are summed as recent ones are', async () => {
    const path = write('billing-old.csv', [
      'subscriber_id,bill_month,amount,mou,hotline_calls',
      'S1,1990-01,1.00,10,0',
      'S1,1990-02,2.00,20,0',
      'S1,1990-02,2.00,20,0',
      'S2,1990-02,4.00,40,1',
      'S3,1989-12,8.00,80,0',
    ]);
    for (const plain of [true, false]) {
      const r = await readBilling(
        path,
        'billing_monthly.csv',
        input,
        subs,
        new RejectLog(),
        2026 * 12 + 10,
        { amount: 2, mou: 1 },
        { plain },
      );
      expect([...r.fold.months.keys()].sort()).toEqual([1990 * 12, 1990 * 12 + 1]);
      expect(Array.from(plainColumn(r.fold.months.get(1990 * 12 + 1)!.amount!))).toEqual([4, 4, 0]);
      expect(Array.from(plainColumn(r.fold.months.get(1990 * 12)!.amount!))).toEqual([1, 0, 0]);
      expect(r.fold.months.get(1990 * 12)!.mou).toBeUndefined();
      expect(r.stats.duplicates).toBe(1);
    }
  });

  it('when a contract ends before it starts then it is rejected with CW_ROW_END_BEFORE_START; 9999-12-31 is an open end', async () => {
    const r = await contracts(
      'contracts.csv',
      ['C1,S1,plan,2026-01-01,2025-12-31,0', 'C2,S2,plan,2026-01-01,2026-01-01,0', 'C3,S3,plan,2026-01-01,9999-12-31,0'],
      3000000,
    );
    expect(r.rejects).toEqual([[2, 'end_date', 'CW_ROW_END_BEFORE_START']]);
    expect(r.stats).toMatchObject({ records: 3, accepted: 2, rejected: 1 });
    expect(r.counts).toEqual([0, 0, 1]);
  });

  it('when a contract id repeats then the later row is rejected with CW_ROW_DUPLICATE_ID, not counted twice', async () => {
    const r = await contracts(
      'contracts-twice.csv',
      [
        'C1,S1,plan,2026-01-01,2026-12-01,0',
        'C1,S1,plan,2026-01-01,2026-12-01,0',
        ' C1 ,S2,plan,2026-01-01,2026-12-01,0',
        'C2,S2,plan,2026-01-01,2026-12-01,0',
      ],
      30,
    );
    expect(r.rejects).toEqual([
      [3, 'contract_id', 'CW_ROW_DUPLICATE_ID'],
      [4, 'contract_id', 'CW_ROW_DUPLICATE_ID'],
    ]);
    expect(r.stats).toMatchObject({ records: 4, accepted: 2, rejected: 2, duplicates: 2 });
    expect(r.counts).toEqual([1, 1, 0]);
  });

  it('when contract ids come in order, then out of it, then a repeat of one seen in order then each repeat is rejected, whatever the order', async () => {
    // C1 < C10 < C2 as bytes: the index is built at C15 and must hold every id appended before it.
    const r = await contracts(
      'contracts-order.csv',
      ['C1', 'C10', 'C2', 'C15', 'C10', 'C3', ' C2', 'C1', 'C4', 'C4'].map((id, i) => `${id},S${1 + (i % 3)},plan,2026-01-01,2026-12-01,0`),
      30,
    );
    expect(r.rejects).toEqual([
      [6, 'contract_id', 'CW_ROW_DUPLICATE_ID'],
      [8, 'contract_id', 'CW_ROW_DUPLICATE_ID'],
      [9, 'contract_id', 'CW_ROW_DUPLICATE_ID'],
      [11, 'contract_id', 'CW_ROW_DUPLICATE_ID'],
    ]);
    expect(r.stats).toMatchObject({ records: 10, accepted: 6, duplicates: 4 });
  });

  it('when a run reads an open-ended contract (9999-12-31) and an activation date far ahead then nothing is rejected and the open contract keeps its kind running', async () => {
    const w = new World('2026-11-23');
    w.sub('OPEN', { activation_date: '9999-12-31' }).bills('OPEN', ['50.00', '50.00', '50.00', '50.00']);
    w.contract('OPEN', w.rel(-10), '0', 'plan_contract');
    w.contract('OPEN', '9999-12-31', '0', 'plan_contract');
    w.sub('LAPSED', {}).bills('LAPSED', ['50.00', '50.00', '50.00', '50.00']);
    w.contract('LAPSED', w.rel(-10), '0', 'plan_contract');
    for (const id of ['OPEN', 'LAPSED']) for (let k = 1; k <= 3; k++) w.usage(id, w.day(k), { calls: '1' });
    const r = await w.run();
    cleanup(r.dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const f of ['subscribers', 'contracts']) expect([f, r.summary.files[f].rows_rejected]).toEqual([f, 0]);
    expect(r.scores.get('OPEN')!.contract_lapsed).toBe('0');
    expect(r.scores.get('LAPSED')!.contract_lapsed).toBe('1');
  });
});

describe('counts per subscriber', () => {
  it('when a count passes 255 then its column widens and every count stays exact; below that, one byte each', async () => {
    const lines = (n: number, row: (k: number) => string) => Array.from({ length: n }, (_, k) => row(k));
    const tickets = write('tickets-many.csv', [
      'ticket_id,subscriber_id,created_at,kind,category',
      ...lines(300, (k) => `T${k},S1,2026-11-01,complaint,x`),
      ...lines(255, (k) => `U${k},S2,2026-11-01,fault,x`),
      'V1,S3,2026-11-01,complaint,x',
    ]);
    const t = await readTickets(tickets, 'tickets.csv', input, subs, new RejectLog(), D, [
      { source: 'tickets', kind: 'complaint', from: -90, to: -1 },
      { source: 'tickets', kind: 'fault', from: -90, to: -1 },
    ]);
    const [complaints, faults] = [...t.counts.values()];
    expect([...complaints!]).toEqual([300, 0, 1]);
    expect(complaints).toBeInstanceOf(Int32Array);
    expect([...faults!]).toEqual([0, 255, 0]);
    expect(faults).toBeInstanceOf(Uint8Array);
    const c = await contracts(
      'contracts-many.csv',
      lines(256, (k) => `C${k},S2,phone,2026-01-01,2026-11-30,false`),
      30,
    );
    expect(c.counts).toEqual([0, 256, 0]);
  });
});
