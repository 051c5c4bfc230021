/**
 * A value the rule pack cannot compute (NaN, "not given"): the tier is mass under
 * either policy, the expected loss is 0, and explain says so instead of printing NaN.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseRulePack } from '../../src/config/rulepack.js';
import { assignTiers, score } from '../../src/score/score.js';
import { TIERS } from '../../src/contract/contract.js';
import { TextColumn } from '../../src/util/text-column.js';
import { World, cleanup } from '../helpers/world.js';

const pack = (tiers: string) =>
  parseRulePack(
    `pack: t\nvalue: amount(M0) / hotline_calls(M0)\ntiers: ${tiers}\nrules:\n  - { id: r1, when: "amount(M0) > 1", weight: 0.5, action: call }\n`,
    'p.yaml',
  );

describe('a value that is not given', () => {
  it('when tiers go by rank then NaN ranks below every value, ties by id, and the cut stays stable', () => {
    const value = Float64Array.of(NaN, 10, NaN, 70, 40, -5);
    const ids = TextColumn.from(['f', 'e', 'a', 'd', 'c', 'b']);
    const tiers = assignTiers(pack('{ method: rank, high_share: 0.34, mid_share: 0.34 }'), value, ids);
    // Order: 70 (d), 40 (c), 10 (e), -5 (b), then the NaNs by id: a, f. Two high, two mid, the rest mass.
    expect([...tiers].map((t) => TIERS[t])).toEqual(['mass', 'mid', 'mass', 'high', 'high', 'mid']);
  });

  it('when tiers go by threshold then NaN is mass and its expected loss is 0, not NaN', () => {
    const p = pack('{ high: 60, mid: 30 }');
    const ids = TextColumn.from(['a', 'b']);
    const s = score(
      p,
      {
        rules: p.rules.filter((r) => r.enabled),
        ruleIds: ['r1'],
        flags: [Uint8Array.of(1, 1)],
        excluded: Uint8Array.of(0, 0),
        value: Float64Array.of(NaN, 80),
      },
      ids,
    );
    expect([...s.tier].map((t) => TIERS[t])).toEqual(['mass', 'high']);
    expect([...s.risk]).toEqual([0.5, 0.5]);
    expect([...s.expectedLoss]).toEqual([0, 40]);
  });

  it('when explain shows a subscriber whose value is not given then it says so, in text and JSON', async () => {
    const w = new World('2026-11-23');
    w.sub('S1', {}).bills('S1', ['80.00', '80.00'], [{ hotline_calls: '0' }]);
    const dir = w.write();
    try {
      writeFileSync(
        join(dir, 'p.yaml'),
        `pack: t\nvalue: amount(M0) / hotline_calls(M0)\ntiers: { high: 60, mid: 30 }\nrules:\n  - { id: r1, when: "amount(M0) > 1", weight: 0.5, action: call, reason: "per call {amount(M0) / hotline_calls(M0)}" }\n`,
      );
      const run = async (extra: string[]) => {
        let out = '',
          err = '';
        const code = await main(
          ['explain', '--input', dir, '--as-of', '2026-11-23', '--subscriber', 'S1', '--rules', join(dir, 'p.yaml'), ...extra],
          {
            out: (s) => {
              out += s;
            },
            err: (s) => {
              err += s;
            },
          },
        );
        return { code, out, err };
      };
      const text = await run([]);
      expect(text.err).toBe('');
      expect(text.out).toContain('value (not given) (amount(M0) / hotline_calls(M0)) → tier mass; risk 0.5000; expected loss 0.00');
      expect(text.out).toContain('reason: per call n/a');
      expect(text.out).not.toMatch(/NaN|Infinity/);
      const json = JSON.parse((await run(['--json'])).out);
      expect([json.value, json.tier, json.expected_loss]).toEqual([null, 'mass', 0]);
    } finally {
      cleanup(dir);
    }
  });
});
