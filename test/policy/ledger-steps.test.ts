/**
 * The ledger in steps (startLedger): a run decides the largest tier's ids and states
 * first, for the thread that writes its files, and the rest after. Whatever order the
 * tiers are decided in, the ledger is updateLedger's, closed episodes in their order.
 */
import { describe, expect, it } from 'vitest';
import { parseRulePack, type RuleDef } from '../../src/config/rulepack.js';
import { PriorLedger, startLedger, TASK_ID_WIDTH, updateLedger, type LedgerInput, type LedgerPlan } from '../../src/tasks/ledger.js';
import { HELD_OUT, NOT_FLAGGED, OVERFLOW, SUPPRESSED, SUPPRESSION_CODES, TASK, type PolicyPlan } from '../../src/tasks/policy.js';
import { parseDay } from '../../src/util/dates.js';
import { TextColumn } from '../../src/util/text-column.js';
import { packWithPolicy } from './pack-text.js';

const utf8 = new TextEncoder();
const D = parseDay('2026-11-23');

/** Last night's row: the cells in LEDGER_COLUMNS order, as the ledger reader hands them. */
function addRow(ledger: PriorLedger, cells: string[], firstSeen: number, open: boolean): void {
  const b = utf8.encode(cells.join(''));
  const start = new Int32Array(cells.length),
    end = new Int32Array(cells.length);
  let p = 0;
  cells.forEach((c, k) => {
    start[k] = p;
    p += utf8.encode(c).length;
    end[k] = p;
  });
  ledger.add(b, start, end, start[1]!, firstSeen, 0, open);
}

/** Twelve subscribers over three tiers, last night's open episodes for half of them (one expired, one closed by a policy). */
function input(): LedgerInput {
  const pack = parseRulePack(packWithPolicy('policy:\n  holdout: { share: 0 }\n  expire_days: 14\n'), 'test.yaml');
  const rules: RuleDef[] = pack.rules.filter((r) => r.enabled).slice(0, 3);
  const n = 12;
  const ids = TextColumn.from(Array.from({ length: n }, (_, i) => `S${String(i).padStart(3, '0')}`));
  const flags = rules.map((_, j) => Uint8Array.from({ length: n }, (_, i) => +((i + j) % 3 !== 0 || i % 4 === 0)));
  const perTier = [
    [7, 2],
    [11, 0, 5],
    [9, 1, 4, 8],
  ];
  const outcome = new Uint8Array(n).fill(NOT_FLAGGED);
  perTier.flat().forEach((i) => (outcome[i] = TASK));
  outcome[3] = SUPPRESSED;
  outcome[6] = HELD_OUT;
  outcome[10] = OVERFLOW;
  const code = new Uint8Array(n);
  code[3] = SUPPRESSION_CODES.indexOf('cooldown');
  const plan: PolicyPlan = {
    outcome,
    code,
    taskType: new Uint8Array(n),
    perTier,
    heldOut: [6],
    suppressed: [3],
    overflow: { subscriber: Int32Array.of(10), rank: Int32Array.of(1), queue: Int32Array.of(0), queues: ['mass'] },
  };
  const prior = new PriorLedger(D - 1);
  const priorRow = (i: number, reasons: string, firstSeen: number) =>
    addRow(prior, [`CW-PRIOR-${i}`, ids.get(i), 'mid', '', '', reasons, '0', 'open', ''], firstSeen, true);
  priorRow(2, rules[0]!.id, D - 3);
  priorRow(5, rules[1]!.id, D - 20); // expired: a new episode tonight
  priorRow(9, `${rules[0]!.id};${rules[1]!.id};${rules[2]!.id}`, D - 2);
  priorRow(4, rules[2]!.id, D - 5);
  priorRow(3, rules[0]!.id, D - 1); // stopped by a policy tonight
  priorRow(10, rules[0]!.id, D - 1); // over capacity: waits
  return { prior, plan, D, policy: pack.policy, ids, rules, flags, tier: new Uint8Array(n), contacts: null };
}

/** Everything the ledger file and the task files read of a plan. */
function view(l: LedgerPlan) {
  const rows = Array.from({ length: l.rows.length }, (_, r) => ({
    taskId: l.rows.taskId(r),
    subscriber: l.rows.subscriber[r],
    tier: l.rows.tier[r],
    firstSeen: l.rows.firstSeen[r],
    reasons: l.rows.reasons[r]! < 0 ? null : l.rows.reasonTexts[l.rows.reasons[r]!],
    state: l.rows.state[r],
    closedBy: l.rows.closedByTexts[l.rows.closedBy[r]!],
  }));
  return { rows, taskIds: l.taskIds.map(idsOf), states: l.states.map((s) => [...s]), counts: l.counts };
}

/** A tier's task ids, TASK_ID_WIDTH bytes each. */
function idsOf(b: Uint8Array): string[] {
  return Array.from({ length: b.length / TASK_ID_WIDTH }, (_, k) =>
    String.fromCharCode(...b.subarray(k * TASK_ID_WIDTH, (k + 1) * TASK_ID_WIDTH)),
  );
}

describe('the ledger in steps', () => {
  it('is the same ledger whichever tiers are decided first, and a tier decided early is complete before the rest', () => {
    const whole = view(updateLedger(input()));
    expect(whole.counts.closed).toBeGreaterThan(0);
    expect(whole.counts.waiting).toBe(1);
    for (const order of [[2], [2, 0], [1, 2, 0], []]) {
      const update = startLedger(input());
      for (const t of order) {
        update.tier(t);
        // What the tier's plan reads is there as soon as it is decided, before finish().
        expect(idsOf(update.taskIds[t]!)).toEqual(whole.taskIds[t]);
        expect([...update.states[t]!]).toEqual(whole.states[t]);
      }
      expect(view(update.finish())).toEqual(whole);
    }
  });

  it('refuses a tier decided twice, and a second finish', () => {
    const update = startLedger(input());
    update.tier(1);
    expect(() => update.tier(1)).toThrow(/twice/);
    update.finish();
    expect(() => update.finish()).toThrow(/twice/);
  });
});
