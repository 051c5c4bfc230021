/**
 * explain: for any subscriber, the verdicts it prints are the flags the run
 * publishes, with the values each rule read; no phone number or name.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const scores = parse(readFileSync('fixtures/golden/expected/scores.csv'), { columns: true }) as Record<string, string>[];
const subscribers = parse(readFileSync('fixtures/golden/input/subscribers.csv'), { columns: true }) as Record<string, string>[];

describe('churnwatch explain', () => {
  it('when subscribers are explained then every verdict equals the published flag', async () => {
    const sample = scores.filter((_, k) => k % 25 === 0).concat(scores.filter((s) => s.risk_score !== '0.0000').slice(0, 5));
    for (const row of sample) {
      const r = await cli([
        'explain',
        '--input',
        'fixtures/golden/input',
        '--as-of',
        '2026-11-23',
        '--subscriber',
        row.subscriber_id!,
        '--json',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const e = JSON.parse(r.out);
      expect(e.value).toBe(Number(row.value));
      expect(e.tier).toBe(row.tier);
      expect(e.risk_score).toBe(Number(row.risk_score));
      for (const rule of e.rules) expect(`${rule.id}=${rule.flagged ? 1 : 0}`).toBe(`${rule.id}=${row[rule.id]}`);
    }
  });

  it('when a flagged subscriber is explained as text then it shows the values read and the reason, but no phone or name', async () => {
    const r = await cli(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', '0001000917']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('[x] arrears_suspended');
    expect(r.out).toContain('      mou(M1) = 243\n      mou(M0) = 0\n      reason: minutes of use 0 after 243 (−100%)');
    expect(r.out).toContain('[ ] arpu_drop_mom');
    const s = subscribers.find((x) => x.subscriber_id === '0001000917')!;
    expect(r.out).not.toContain(s.msisdn);
    expect(r.out).not.toContain(s.name);
  });

  it('when the subscriber is unknown then it exits 64', async () => {
    const r = await cli(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', 'nobody']);
    expect(r.code).toBe(64);
    expect(r.err).toContain('is not in subscribers.csv');
  });
});
