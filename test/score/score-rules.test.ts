/**
 * score() takes each rule's weight from the rules the evaluation carries, not from
 * the pack by position: an evaluation of a subset of the pack's rules (or of rules
 * in another order) must still weigh each flag column with its own rule.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import type { Evaluation } from '../../src/evaluate/evaluate.js';
import { score } from '../../src/score/score.js';
import { TextColumn } from '../../src/util/text-column.js';

const pack = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'rules/default.yaml');

describe('score', () => {
  it('weighs each flag column with the rule the evaluation names for it', () => {
    const enabled = pack.rules.filter((r) => r.enabled);
    const [first, other] = [enabled[0]!, enabled.find((r) => r.weight !== enabled[0]!.weight)!];
    const ev: Evaluation = {
      rules: [other, first],
      ruleIds: [other.id, first.id],
      flags: [Uint8Array.of(1, 0, 1), Uint8Array.of(0, 1, 1)],
      excluded: new Uint8Array(3),
      value: Float64Array.of(100, 100, 100),
    };
    const s = score(pack, ev, TextColumn.from(['a', 'b', 'c']));
    expect(s.risk[0]).toBeCloseTo(other.weight, 12);
    expect(s.risk[1]).toBeCloseTo(first.weight, 12);
    expect(s.risk[2]).toBeCloseTo(1 - (1 - other.weight) * (1 - first.weight), 12);
  });
});
