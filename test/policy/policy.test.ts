/**
 * The contact policy, stage by stage on hand-made columns: each policy stops the
 * subscriber it should with its code, the holdout keeps its share and its members
 * night after night, capacity keeps exactly the top N, each contact outcome leads
 * to the right next task on the right day, due times stay in the callable window.
 */
import { describe, expect, it } from 'vitest';
import { packWithPolicy } from './pack-text.js';
import { parseRulePack, type RulePack } from '../../src/config/rulepack.js';
import { CONTACT_OUTCOMES, STATUS_VALUES, TIERS } from '../../src/contract/contract.js';
import { dueAt } from '../../src/tasks/plan.js';
import {
  addMonths,
  afterContact,
  applyPolicy,
  HELD_OUT,
  holdoutBucket,
  isHeldOut,
  OVERFLOW,
  policyCounts,
  SUPPRESSED,
  SUPPRESSION_CODES,
  TASK,
  TASK_TYPES,
  type PolicyInput,
} from '../../src/tasks/policy.js';
import { parseDay } from '../../src/util/dates.js';
import { PHONE_KEY_BYTES, phoneKeyBytes } from '../../src/util/phone.js';
import { CodedText, TextColumn } from '../../src/util/text-column.js';

const D = parseDay('2026-11-23');
const outcome = (o: (typeof CONTACT_OUTCOMES)[number]) => CONTACT_OUTCOMES.indexOf(o);

/** The default pack with a policy section (and no holdout unless asked). */
function pack(policy = 'policy:\n  holdout: { share: 0 }\n'): RulePack {
  return parseRulePack(packWithPolicy(policy), 'test.yaml');
}

interface Sub {
  id: string;
  phone?: string;
  status?: string;
  loss?: number;
  tier?: number;
  manager?: string;
  contact?: { daysAgo: number; outcome: (typeof CONTACT_OUTCOMES)[number]; attempts?: number };
  dnc?: boolean;
  rules?: string[];
  flagged?: boolean;
}

function input(p: RulePack, subs: Sub[], at = D): PolicyInput {
  const rules = p.rules.filter((r) => r.enabled);
  const n = subs.length;
  const flags = rules.map((r) =>
    Uint8Array.from(subs, (s) => (s.flagged === false ? 0 : (s.rules ?? [rules[0]!.id]).includes(r.id) ? 1 : 0)),
  );
  return {
    pack: p,
    D: at,
    evaluation: { rules, flags },
    scores: {
      risk: Float64Array.from(subs, () => 0.5),
      expectedLoss: Float64Array.from(subs, (s) => s.loss ?? 10),
      rank: Float64Array.from(subs, (s) => s.loss ?? 10),
      tier: Uint8Array.from(subs, (s) => s.tier ?? 2),
      hits: Uint8Array.from({ length: n }, (_, i) => flags.reduce((a, f) => a + f[i]!, 0)),
    },
    subscribers: {
      ids: TextColumn.from(subs.map((s) => s.id)),
      msisdn: TextColumn.from(subs.map((s, k) => s.phone ?? String(13800000000 + k))),
      managerId: CodedText.from(subs.map((s) => s.manager ?? '')),
      status: Uint8Array.from(subs, (s) => STATUS_VALUES.indexOf((s.status ?? 'active') as (typeof STATUS_VALUES)[number])),
    },
    doNotCall: Uint8Array.from(subs, (s) => (s.dnc ? 1 : 0)),
    contacts: {
      lastContact: Float32Array.from(subs, (s) => (s.contact ? at - s.contact.daysAgo : NaN)),
      lastOutcome: Uint8Array.from(subs, (s) => (s.contact ? outcome(s.contact.outcome) : 255)),
      attempts: Uint8Array.from(subs, (s) => s.contact?.attempts ?? (s.contact?.outcome === 'unreachable' ? 1 : 0)),
    },
    countryCode: '86',
  };
}

function codeOf(plan: ReturnType<typeof applyPolicy>, i: number): string {
  return plan.outcome[i] === SUPPRESSED
    ? SUPPRESSION_CODES[plan.code[i]!]!
    : plan.outcome[i] === TASK
      ? `task:${TASK_TYPES[plan.taskType[i]!]}`
      : `outcome ${plan.outcome[i]}`;
}

describe('contact policy: each policy stops the subscriber with its code', () => {
  const p = pack('policy:\n  holdout: { share: 0 }\n  override_rules: [low_balance]\n');
  const subs: Sub[] = [
    { id: 'closed', status: 'closed' },
    { id: 'dnc', dnc: true, contact: { daysAgo: 1, outcome: 'declined' } },
    { id: 'callback-old', contact: { daysAgo: 13, outcome: 'callback' }, phone: '13900000001' },
    { id: 'declined-29', contact: { daysAgo: 29, outcome: 'declined' } },
    { id: 'declined-30', contact: { daysAgo: 30, outcome: 'declined' } },
    { id: 'declined-override', contact: { daysAgo: 3, outcome: 'declined' }, rules: ['low_balance'] },
    { id: 'churned', contact: { daysAgo: 20, outcome: 'churned' } },
    { id: 'churned-recent', contact: { daysAgo: 5, outcome: 'churned' } },
    { id: 'callback-today', contact: { daysAgo: 0, outcome: 'callback' } },
    { id: 'unreachable-retry', contact: { daysAgo: 1, outcome: 'unreachable' } },
    { id: 'unreachable-exhausted', contact: { daysAgo: 1, outcome: 'unreachable', attempts: 3 } },
    { id: 'retained-early', contact: { daysAgo: 30, outcome: 'retained' } },
    { id: 'not-flagged', flagged: false },
    { id: 'keeps-number', phone: '13912345678', loss: 50 },
    { id: 'shares-number', phone: '+8613912345678', loss: 40 },
    { id: 'shares-number-00', phone: '008613912345678', loss: 30 },
    // Listed before the one it shares a number with, but with less loss: loss decides, not the order of the extract.
    { id: 'listed-first-less-loss', phone: '13911112222', loss: 5 },
    { id: 'listed-later-more-loss', phone: '8613911112222', loss: 60 },
  ];
  const plan = applyPolicy(input(p, subs));
  it.each([
    ['closed', 'closed'],
    ['dnc', 'do_not_call'],
    ['declined-29', 'cooldown'],
    ['declined-30', 'task:retention'],
    ['declined-override', 'task:retention'],
    ['churned', 'task:win_back'],
    ['churned-recent', 'cooldown'],
    ['callback-today', 'callback_pending'],
    ['callback-old', 'task:callback'],
    ['unreachable-retry', 'task:retry'],
    ['unreachable-exhausted', 'attempts_exhausted'],
    ['retained-early', 'retained_follow_up_later'],
    ['keeps-number', 'task:retention'],
    ['shares-number', 'same_phone'],
    ['shares-number-00', 'same_phone'],
    ['listed-first-less-loss', 'same_phone'],
    ['listed-later-more-loss', 'task:retention'],
  ])('%s → %s', (id, want) => {
    expect(
      codeOf(
        plan,
        subs.findIndex((s) => s.id === id),
      ),
    ).toBe(want);
  });

  it('accounts for every flagged subscriber exactly once', () => {
    const counts = policyCounts(plan, input(p, subs).scores.hits);
    expect(counts.flagged).toBe(subs.length - 1);
    expect(counts.tasks + counts.suppressed + counts.held_out + counts.over_capacity).toBe(counts.flagged);
    expect(plan.outcome[subs.findIndex((s) => s.id === 'not-flagged')]).toBe(0);
  });

  it('refuses a cooldown override naming no rule of the pack', () => {
    expect(() => pack('policy:\n  override_rules: [no_such_rule]\n')).toThrow(/override_rules/);
    expect(() => pack('policy:\n  unreachable: { retry_time: "22:00" }\n')).toThrow(/retry_time/);
    expect(() => pack('policy:\n  holdout: { share: 0.9 }\n')).toThrow(/holdout.share/);
  });
});

describe('every list of the plan in rank order', () => {
  it('orders tasks per tier, the suppressed and the held out by loss, then id, whatever the extract order', () => {
    const p = pack('policy:\n  holdout: { share: 0.1 }\n');
    // Ids not in subscriber order, few distinct losses (long runs of ties), numbers shared, some stopped by a policy.
    const subs = Array.from(
      { length: 3000 },
      (_, k): Sub => ({
        id: `S${String((k * 7919) % 3000).padStart(5, '0')}`,
        loss: k % 7,
        tier: k % 3,
        phone: String(13800000000 + (k % 2600)),
        dnc: k % 53 === 0,
        ...(k % 41 === 0 ? { contact: { daysAgo: 3, outcome: 'declined' as const } } : {}),
      }),
    );
    const x = input(p, subs);
    const plan = applyPolicy(x);
    const ids = x.subscribers.ids;
    const ranked = (list: readonly number[]) => list.slice().sort((a, b) => x.scores.rank[b]! - x.scores.rank[a]! || ids.compare(a, b));
    for (const list of [...plan.perTier, plan.suppressed, plan.heldOut]) expect(list).toEqual(ranked(list));
    const codes = new Set(plan.suppressed.map((i) => SUPPRESSION_CODES[plan.code[i]!]));
    expect([...codes].sort()).toEqual(['cooldown', 'do_not_call', 'same_phone']);
    expect(plan.heldOut.length).toBeGreaterThan(0);
    const counts = policyCounts(plan, x.scores.hits);
    expect(counts.tasks + counts.suppressed + counts.held_out + counts.over_capacity).toBe(subs.length);
  });
});

describe('one task per number, whatever form the number takes', () => {
  it('keeps the highest loss of every key, as a comparison of the keys as text does', () => {
    const p = pack();
    // Forms of one number, numbers past 15 digits (not exact as doubles), leading zeros, '+' keys, and texts that are no number.
    const pool = [
      '13912345678',
      '+8613912345678',
      '008613912345678',
      '8613912345678',
      '+442079460958',
      '00442079460958',
      '123456789012345678',
      '123456789012345679',
      '1234567890123456',
      '999999999999999',
      '+999999999999999',
      '0123456',
      '123456',
      '+0123456',
      '12345',
      'abc',
      '12-34',
    ];
    const subs = Array.from(
      { length: 1500 },
      (_, k): Sub => ({ id: `P${String(k).padStart(5, '0')}`, phone: pool[(k * 7) % pool.length]!, loss: (k * 37) % 1500 }),
    );
    const plan = applyPolicy(input(p, subs));
    const cc = new TextEncoder().encode('86');
    const keyOf = (phone: string) => {
      const b = new TextEncoder().encode(phone);
      const out = new Uint8Array(PHONE_KEY_BYTES);
      const len = phoneKeyBytes(b, 0, b.length, cc, new Uint8Array(PHONE_KEY_BYTES), out);
      return len > 0 ? `k:${new TextDecoder().decode(out.subarray(0, len))}` : `k:${phone}`;
    };
    const seen = new Set<string>();
    const byLoss = subs.map((_, i) => i).sort((a, b) => subs[b]!.loss! - subs[a]!.loss! || (subs[a]!.id < subs[b]!.id ? -1 : 1));
    for (const i of byLoss) {
      const key = keyOf(subs[i]!.phone!);
      expect(codeOf(plan, i)).toBe(seen.has(key) ? 'same_phone' : 'task:retention');
      seen.add(key);
    }
    expect(seen.size).toBeLessThan(pool.length);
  });
});

describe('each outcome leads to the right next task on the right day', () => {
  const policy = pack().policy;
  const last = parseDay('2026-06-10');
  const at = (day: string, o: (typeof CONTACT_OUTCOMES)[number], attempts = 0) => {
    const r = afterContact(policy, parseDay(day), last, outcome(o), attempts, false);
    return r < 0 ? SUPPRESSION_CODES[-r - 1] : TASK_TYPES[r];
  };
  it('retained: follow-ups from two months on, for four months', () => {
    expect(at('2026-08-09', 'retained')).toBe('retained_follow_up_later');
    expect(at('2026-08-10', 'retained')).toBe('follow_up');
    expect(at('2026-10-10', 'retained')).toBe('follow_up');
    expect(at('2026-10-11', 'retained')).toBe('retention');
  });
  it('callback: on the day after the contact', () => {
    expect(at('2026-06-10', 'callback')).toBe('callback_pending');
    expect(at('2026-06-11', 'callback')).toBe('callback');
  });
  it('unreachable: a retry the next day until the attempt limit', () => {
    expect(at('2026-06-10', 'unreachable', 1)).toBe('retry_later');
    expect(at('2026-06-11', 'unreachable', 2)).toBe('retry');
    expect(at('2026-06-11', 'unreachable', 3)).toBe('attempts_exhausted');
  });
  it('declined: 30 days; churned: a win-back after 14 days', () => {
    expect(at('2026-07-09', 'declined')).toBe('cooldown');
    expect(at('2026-07-10', 'declined')).toBe('retention');
    expect(at('2026-06-23', 'churned')).toBe('cooldown');
    expect(at('2026-06-24', 'churned')).toBe('win_back');
  });
  it('months are calendar months, the day kept where it exists', () => {
    expect(addMonths(parseDay('2026-12-31'), 2)).toBe(parseDay('2027-02-28'));
    expect(addMonths(parseDay('2026-11-30'), 2)).toBe(parseDay('2027-01-30'));
  });
  it('an unreachable contact yesterday gives a retry task today', () => {
    const p = pack();
    const plan = applyPolicy(input(p, [{ id: 'a', contact: { daysAgo: 1, outcome: 'unreachable' } }]));
    expect(TASK_TYPES[plan.taskType[0]!]).toBe('retry');
  });
});

describe('callable window', () => {
  it('keeps every due time inside the window of its day', () => {
    const w = { from: '09:00', to: '21:00' };
    expect(dueAt(D, '08:00', 48, 'Asia/Shanghai', w)).toBe('2026-11-25T09:00+08:00');
    expect(dueAt(D, '08:00', 6, 'Asia/Shanghai', w)).toBe('2026-11-23T14:00+08:00');
    expect(dueAt(D, '20:00', 3, 'Asia/Shanghai', w)).toBe('2026-11-23T21:00+08:00');
    for (let h = 0; h < 24 * 4; h += 0.5) {
      const hhmm = dueAt(D, '08:00', h, 'Asia/Shanghai', w).slice(11, 16);
      expect(hhmm >= '09:00' && hhmm <= '21:00').toBe(true);
    }
  });
});

describe('holdout', () => {
  const key = new TextEncoder().encode('2026-q4');
  const ids = TextColumn.from(Array.from({ length: 100_000 }, (_, k) => `S${String(k).padStart(8, '0')}`));
  const held = (share: number, k: Uint8Array) => {
    const out: number[] = [];
    for (let i = 0; i < ids.length; i++) if (isHeldOut(share, holdoutBucket(k, ids.bytes, ids.start(i), ids.end(i)))) out.push(i);
    return out;
  };
  it.each([0.05, 0.1, 0.2])('holds out %s of 100,000 subscribers within one point', (share) => {
    expect(Math.abs(held(share, key).length / ids.length - share)).toBeLessThanOrEqual(0.01);
  });
  it('holds out the same subscribers night after night while the key is unchanged, others under a new key', () => {
    const p = pack('policy:\n  holdout: { share: 0.05, key: "2026-q4" }\n');
    const subs = Array.from({ length: 2000 }, (_, k): Sub => ({ id: `S${String(k).padStart(8, '0')}`, loss: k % 97 }));
    const night1 = applyPolicy(input(p, subs, D))
      .heldOut.slice()
      .sort();
    const night2 = applyPolicy(
      input(
        p,
        subs.filter((_, k) => k % 10 !== 3),
        D + 1,
      ),
    )
      .heldOut.map((i) => subs.filter((_, k) => k % 10 !== 3)[i]!.id)
      .sort();
    expect(night2).toEqual(
      night1
        .map((i) => subs[i]!.id)
        .filter((id) => Number(id.slice(1)) % 10 !== 3)
        .sort(),
    );
    expect(night1.length).toBeGreaterThan(0);
    const other = applyPolicy(input(pack('policy:\n  holdout: { share: 0.05, key: "2027-q1" }\n'), subs, D))
      .heldOut.slice()
      .sort();
    expect(other).not.toEqual(night1);
    expect(held(0.05, key)).toEqual(held(0.05, key));
  });
  it('lists held-out subscribers apart from the tasks', () => {
    const p = pack('policy:\n  holdout: { share: 0.5 }\n');
    const plan = applyPolicy(
      input(
        p,
        Array.from({ length: 200 }, (_, k): Sub => ({ id: `H${k}` })),
      ),
    );
    for (const i of plan.heldOut) expect(plan.outcome[i]).toBe(HELD_OUT);
    expect(plan.perTier.flat().every((i) => plan.outcome[i] === TASK)).toBe(true);
  });
});

describe('capacity', () => {
  const subs = Array.from(
    { length: 300 },
    (_, k): Sub => ({ id: `C${k}`, loss: ((k * 7919) % 1000) + k / 1000, tier: k % 3, manager: `M${k % 4}` }),
  );
  it('keeps exactly the top N by expected loss per tier queue, the rest over capacity with rank and queue', () => {
    const p = pack('policy:\n  holdout: { share: 0 }\n  capacity: { mid: 10, mass: 25 }\n');
    const x = input(p, subs);
    const plan = applyPolicy(x);
    for (const [t, cap] of [
      [1, 10],
      [2, 25],
    ] as const) {
      const all = subs
        .map((_s, i) => i)
        .filter((i) => subs[i]!.tier === t)
        .sort((a, b) => x.scores.expectedLoss[b]! - x.scores.expectedLoss[a]!);
      expect(plan.perTier[t]).toEqual(all.slice(0, cap));
      const over = Array.from(plan.overflow.subscriber).filter((i) => subs[i]!.tier === t);
      expect(over).toEqual(all.slice(cap));
      over.forEach((i, k) => {
        const at = Array.from(plan.overflow.subscriber).indexOf(i);
        expect(plan.overflow.rank[at]).toBe(cap + k + 1);
        expect(plan.overflow.queues[plan.overflow.queue[at]!]).toBe(TIERS[t]);
        expect(plan.outcome[i]).toBe(OVERFLOW);
      });
    }
    expect(plan.perTier[0]!.length).toBe(100);
    expect(policyCounts(plan, x.scores.hits).over_capacity_by_queue).toEqual({ mid: 90, mass: 75 });
  });
  it('caps each customer manager of the high tier', () => {
    const p = pack('policy:\n  holdout: { share: 0 }\n  capacity: { per_manager: 5 }\n');
    const x = input(p, subs);
    const plan = applyPolicy(x);
    const perManager = new Map<string, number>();
    for (const i of plan.perTier[0]!) perManager.set(subs[i]!.manager!, (perManager.get(subs[i]!.manager!) ?? 0) + 1);
    expect([...perManager.values()]).toEqual([5, 5, 5, 5]);
    const counts = policyCounts(plan, x.scores.hits);
    expect(counts.over_capacity).toBe(100 - 20);
    expect(Object.keys(counts.over_capacity_by_queue).sort()).toEqual(['manager:M0', 'manager:M1', 'manager:M2', 'manager:M3']);
  });
});
