/**
 * explain --json is for tools: every number is a JSON number, a value that is not
 * given is null, and the text form keeps showing both as before.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cleanup } from '../helpers/world.js';

async function explain(subscriber: string, extra: string[] = []) {
  let out = '',
    err = '';
  const code = await main(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', subscriber, ...extra], {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  expect(err).toBe('');
  expect(code).toBe(0);
  return out;
}

const scores = parse(readFileSync('fixtures/golden/expected/scores.csv'), { columns: true }) as Record<string, string>[];
const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

// A postpaid line: its prepaid balance is not given.
const POSTPAID = '0001000561';

describe('explain --json', () => {
  it('when a subscriber is explained then value, risk, loss and every numeric read are JSON numbers equal to scores.csv', async () => {
    const e = JSON.parse(await explain(POSTPAID, ['--json']));
    const row = scores.find((s) => s.subscriber_id === POSTPAID)!;
    expect(e.value).toBe(Number(row.value));
    expect(e.risk_score).toBe(Number(row.risk_score));
    expect(e.expected_loss).toBe(Number(row.expected_loss));
    const mou = e.rules.find((r: { id: string }) => r.id === 'mou_drop');
    expect(typeof mou.reads['mou(M1)']).toBe('number');
    for (const r of e.rules) {
      expect(typeof r.weight).toBe('number');
      for (const [k, v] of Object.entries(r.reads)) {
        // Enums and dates are text; anything else that looks like a number must be one.
        if (typeof v === 'string') expect([k, v]).toEqual([k, expect.not.stringMatching(/^[-+]?\d+(\.\d+)?$/)]);
      }
    }
  });

  it('when a value is not given then the JSON has null, and the text still says "(not given)"', async () => {
    const e = JSON.parse(await explain(POSTPAID, ['--json']));
    const low = e.rules.find((r: { id: string }) => r.id === 'low_balance');
    expect(low.reads).toEqual({ status: 'active', prepaid_balance: null });
    expect(await explain(POSTPAID)).toContain('      status = active\n      prepaid_balance = (not given)\n');
  });

  it('when a rule is disabled then its reads are null in JSON and "n/a" in text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-explain-'));
    dirs.push(dir);
    const pack = readFileSync('rules/default.yaml', 'utf8').replace('  - id: mou_drop\n', '  - id: mou_drop\n    enabled: false\n');
    writeFileSync(join(dir, 'pack.yaml'), pack);
    const e = JSON.parse(await explain(POSTPAID, ['--json', '--rules', join(dir, 'pack.yaml')]));
    const mou = e.rules.find((r: { id: string }) => r.id === 'mou_drop');
    expect(mou.enabled).toBe(false);
    expect(mou.reads).toEqual({ 'mou(M1)': null, 'mou(M0)': null });
    expect(await explain(POSTPAID, ['--rules', join(dir, 'pack.yaml')])).toContain(
      '[ ] mou_drop (disabled)  weight 0.25\n      when mou(M1) >= 60 and mou(M0) <= 0.50 * mou(M1)\n      mou(M1) = n/a\n',
    );
  });
});
