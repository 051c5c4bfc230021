/**
 * Property: for random small extracts, the compiled columnar evaluation of the
 * default pack flags exactly what a plain per-subscriber reference evaluation of
 * the contract's rules flags. The reference below works in integer fen and
 * hundredths with the ratios cross-multiplied, independent of the rule compiler.
 *
 * The same for a pack that divides by amounts and counts that may be 0: the
 * reference is a small three-valued evaluator (null for "not given", as in SQL),
 * and every published file agrees on a value that is not given.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { World, cleanup } from '../helpers/world.js';

const RULES = [
  'arpu_drop_mom',
  'arpu_decline_3m',
  'silence_3d',
  'complaints_repeat',
  'contract_expiring',
  'contract_lapsed',
  'arrears_suspended',
  'number_hold',
  'forwarding_3d',
  'hotline_calls',
  'mou_drop',
  'low_balance',
] as const;

const STATUSES = ['active', 'active', 'active', 'suspended_arrears', 'suspended_hold', 'closed'];

const money = (f: number) => `${f < 0 ? '-' : ''}${Math.floor(Math.abs(f) / 100)}.${String(Math.abs(f) % 100).padStart(2, '0')}`;

/** Amount in fen near the interesting boundaries of a base amount. */
const nearRatio = (base: number, num: number, den: number) =>
  fc.integer({ min: -2, max: 2 }).map((d) => Math.floor((base * num) / den) + d);

const subscriberArb = fc
  .record({
    status: fc.constantFrom(...STATUSES),
    activationOffset: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
    balance: fc.option(fc.integer({ min: -200, max: 2000 }), { nil: undefined }),
    m3: fc.integer({ min: 900, max: 20000 }),
    shape: fc.integer({ min: 0, max: 3 }),
    m0jitter: fc.integer({ min: -3, max: 3 }),
    mou1: fc.integer({ min: 5900, max: 6200 }),
    mouHalf: fc.integer({ min: -2, max: 2 }),
    hotline: fc.integer({ min: 0, max: 7 }),
    usage: fc.array(
      fc.record({
        day: fc.integer({ min: 0, max: 5 }),
        calls: fc.integer({ min: 0, max: 2 }),
        data: fc.integer({ min: 0, max: 2 }),
        fwd: fc.integer({ min: 0, max: 1 }),
      }),
      { maxLength: 6 },
    ),
    tickets: fc.array(fc.record({ day: fc.integer({ min: 0, max: 93 }), kind: fc.constantFrom('complaint', 'fault', 'inquiry') }), {
      maxLength: 4,
    }),
    contracts: fc.array(
      fc.record({ end: fc.integer({ min: -33, max: 33 }), renewed: fc.boolean(), kind: fc.constantFrom('plan', 'lease') }),
      { maxLength: 3 },
    ),
  })
  .chain((s) => fc.tuple(fc.constant(s), nearRatio(s.m3, 70, 100), nearRatio(s.m3, 80, 100)));

type Sub = typeof subscriberArb extends fc.Arbitrary<infer T> ? T : never;

function reference(w: World, id: string, [s, near70, near80]: Sub): Record<string, number> {
  // Bills M3..M0: either a strict decline ending near 80% of M3, or M0 near 70% of M1.
  const m3 = s.m3;
  const m2 = s.shape === 0 ? m3 - 1 : m3 - 100;
  const m1 = s.shape === 2 ? m3 : m3 - 200 + s.m0jitter;
  const m0 = s.shape === 1 ? near80 : s.shape === 3 ? Math.floor((m1 * 70) / 100) + s.m0jitter : near70;
  const mou0 = Math.floor((s.mou1 * 50) / 100) + s.mouHalf;
  const out: Record<string, number> = {};
  const active = s.status === 'active';
  out.arpu_drop_mom = +(m1 >= 1000 && m0 * 100 <= 70 * m1);
  out.arpu_decline_3m = +(m3 >= 1000 && m3 > m2 && m2 > m1 && m1 > m0 && m0 * 100 <= 80 * m3);
  const act = (k: number) => s.usage.filter((u) => u.day === k).reduce((a, u) => a + u.calls + u.data, 0);
  const fwd = (k: number) => s.usage.filter((u) => u.day === k).reduce((a, u) => a + u.fwd, 0);
  out.silence_3d = +(
    active &&
    act(1) === 0 &&
    act(2) === 0 &&
    act(3) === 0 &&
    (s.activationOffset === undefined || s.activationOffset >= 3)
  );
  const inWindow = (k: number) => k >= 1 && k <= 90;
  const complaints = s.tickets.filter((t) => t.kind === 'complaint' && inWindow(t.day)).length;
  const faults = s.tickets.filter((t) => t.kind === 'fault' && inWindow(t.day)).length;
  out.complaints_repeat = +(complaints >= 2 || faults >= 3);
  out.contract_expiring = +s.contracts.some((c) => !c.renewed && c.end >= 0 && c.end <= 30);
  out.contract_lapsed = +s.contracts.some(
    (c) => !c.renewed && c.end >= -30 && c.end <= -1 && !s.contracts.some((o) => o.kind === c.kind && o.end >= 0),
  );
  out.arrears_suspended = +(s.status === 'suspended_arrears');
  out.number_hold = +(s.status === 'suspended_hold');
  out.forwarding_3d = +(fwd(1) > 0 && fwd(2) > 0 && fwd(3) > 0);
  out.hotline_calls = +(s.hotline >= 5);
  out.mou_drop = +(s.mou1 >= 6000 && mou0 * 100 <= 50 * s.mou1);
  out.low_balance = +(active && s.balance !== undefined && s.balance < 1000);
  if (s.status === 'closed') for (const r of RULES) out[r] = 0;

  // The same subscriber as extract rows.
  w.sub(id, {
    status: s.status,
    activation_date: s.activationOffset === undefined ? '' : w.day(s.activationOffset),
    prepaid_balance: s.balance === undefined ? '' : money(s.balance),
  });
  [m0, m1, m2, m3].forEach((a, k) => {
    w.bill(id, w.month(k), money(a), {
      mou: k === 0 ? money(mou0) : k === 1 ? money(s.mou1) : '0',
      hotline_calls: k === 0 ? String(s.hotline) : '0',
    });
  });
  for (const u of s.usage) w.usage(id, w.day(u.day), { calls: String(u.calls), data_mb: String(u.data), forwarded_calls: String(u.fwd) });
  for (const t of s.tickets) w.ticket(id, w.day(t.day), t.kind);
  for (const c of s.contracts) w.contract(id, w.rel(c.end), c.renewed ? '1' : '0', c.kind);
  return out;
}

describe('compiled columnar evaluation equals the per-subscriber reference', () => {
  it('when random small extracts are run then every flag matches', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(subscriberArb, { minLength: 1, maxLength: 25 }), async (subs) => {
        const w = new World('2026-11-23');
        const expected = subs.map((s, i) => reference(w, `S${String(i).padStart(3, '0')}`, s));
        const r = await w.run();
        try {
          expect(r.stderr).toBe('');
          subs.forEach((_, i) => {
            const row = r.scores.get(`S${String(i).padStart(3, '0')}`)!;
            for (const rule of RULES) expect(`${rule}=${row[rule]}`).toBe(`${rule}=${expected[i]![rule]}`);
          });
        } finally {
          cleanup(r.dir);
        }
      }),
      { numRuns: 40 },
    );
  });
});

const DIVISION_PACK = `pack: division
value: amount(M0) / hotline_calls(M0)
exclude: status == 'closed'
tiers: { high: 60, mid: 30 }
rules:
  - id: ratio_low
    when: amount(M0) / amount(M1) <= 0.7
    weight: 0.3
    reason: "ratio {amount(M0) / amount(M1)}, {pct_change(amount(M0), amount(M1))}"
    action: call
  - id: ratio_not_high
    when: not (amount(M0) / amount(M1) > 0.7)
    weight: 0.2
    action: call
  - id: per_call_or_calls
    when: amount(M1) / hotline_calls(M0) > 20 or hotline_calls(M0) >= 5
    weight: 0.25
    action: call
  - id: not_both
    when: not (amount(M1) / hotline_calls(M0) > 20 and prepaid_balance < 10)
    weight: 0.1
    reason: "{amount(M1) / hotline_calls(M0)} per call"
    action: call
  - id: balance_covers
    when: not (prepaid_balance / amount(M0) >= 1) or amount(M0) == 0
    weight: 0.15
    reason: "balance {prepaid_balance / amount(M0)} bills"
    action: call
`;

/** Three-valued logic with null for unknown, as SQL has it. */
const not3 = (a: boolean | null) => (a === null ? null : !a);
const and3 = (a: boolean | null, b: boolean | null) => (a === false || b === false ? false : a === null || b === null ? null : true);
const or3 = (a: boolean | null, b: boolean | null) => (a === true || b === true ? true : a === null || b === null ? null : false);

const divisionArb = fc.record({
  closed: fc.integer({ min: 0, max: 4 }).map((k) => k === 0),
  m0: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20000 })),
  m1: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20000 })),
  hot: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7 })),
  balance: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }),
});

type DivSub = typeof divisionArb extends fc.Arbitrary<infer T> ? T : never;

/** Flags from a per-subscriber evaluation in integer fen: a quotient by 0 is unknown. */
function divisionReference(s: DivSub): Record<string, number> {
  const ratioLow = s.m1 === 0 ? null : 100 * s.m0 <= 70 * s.m1;
  const ratioHigh = s.m1 === 0 ? null : 100 * s.m0 > 70 * s.m1;
  const perCall = s.hot === 0 ? null : s.m1 > 2000 * s.hot;
  const lowBalance = s.balance === undefined ? null : s.balance < 1000;
  const covers = s.balance === undefined || s.m0 === 0 ? null : s.balance >= s.m0;
  const verdicts: Record<string, boolean | null> = {
    ratio_low: ratioLow,
    ratio_not_high: not3(ratioHigh),
    per_call_or_calls: or3(perCall, s.hot >= 5),
    not_both: not3(and3(perCall, lowBalance)),
    balance_covers: or3(not3(covers), s.m0 === 0),
  };
  return Object.fromEntries(Object.entries(verdicts).map(([k, v]) => [k, +(v === true && !s.closed)]));
}

describe('division by zero: compiled evaluation equals a three-valued reference, and no output holds NaN or Infinity', () => {
  it('when random amounts and counts, often 0, are run then flags, value, tier and expected loss agree everywhere', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(divisionArb, { minLength: 1, maxLength: 20 }), async (subs) => {
        const w = new World('2026-11-23');
        const id = (i: number) => `V${String(i).padStart(3, '0')}`;
        subs.forEach((s, i) => {
          w.sub(id(i), { status: s.closed ? 'closed' : 'active', prepaid_balance: s.balance === undefined ? '' : money(s.balance) });
          w.bill(id(i), w.month(0), money(s.m0), { mou: '0', hotline_calls: String(s.hot) });
          w.bill(id(i), w.month(1), money(s.m1), { mou: '0', hotline_calls: '0' });
        });
        const dir = w.write();
        writeFileSync(join(dir, 'division.yaml'), DIVISION_PACK);
        const r = await w.run(['--rules', join(dir, 'division.yaml')], dir);
        try {
          expect(r.stderr).toBe('');
          expect(r.code).toBe(0);
          for (const f of readdirSync(r.published).filter((f) => f.endsWith('.csv'))) {
            expect(`${f}: ${readFileSync(join(r.published, f), 'utf8')}`).not.toMatch(/NaN|Infinity/);
          }
          const arrow = tableFromIPC(readFileSync(join(r.published, 'scores.arrow')));
          const arrowRow = new Map([...arrow].map((row) => [String(row.subscriber_id), row.toJSON() as Record<string, unknown>]));
          const tasks = new Map(
            Object.values(r.tasks)
              .flat()
              .map((t) => [t.subscriber_id!, t]),
          );
          subs.forEach((s, i) => {
            const row = r.scores.get(id(i))!;
            const expected = divisionReference(s);
            for (const [rule, flag] of Object.entries(expected)) expect(`${id(i)} ${rule}=${row[rule]}`).toBe(`${id(i)} ${rule}=${flag}`);
            const value = s.hot === 0 ? '' : (s.m0 / 100 / s.hot).toFixed(2);
            expect(row.value).toBe(value);
            expect(arrowRow.get(id(i))!.value).toBe(s.hot === 0 ? null : s.m0 / 100 / s.hot);
            if (s.hot === 0) {
              expect(row.tier).toBe('mass');
              expect(row.expected_loss).toBe('0.00');
            }
            const task = tasks.get(id(i));
            expect(task !== undefined).toBe(Object.values(expected).some((f) => f === 1));
            if (task) {
              expect([task.value, task.tier, task.risk_score, task.expected_loss]).toEqual([
                row.value,
                row.tier,
                row.risk_score,
                row.expected_loss,
              ]);
              // A number in a reason text that is not given reads n/a.
              if (expected.not_both && s.hot === 0) expect(task.reason_text).toContain('n/a per call');
              if (expected.balance_covers && (s.m0 === 0 || s.balance === undefined))
                expect(task.reason_text).toContain('balance n/a bills');
            }
          });
        } finally {
          cleanup(r.dir);
        }
      }),
      { numRuns: 25 },
    );
  });
});
