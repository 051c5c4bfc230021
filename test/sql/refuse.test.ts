/**
 * What `churnwatch sql` refuses, and how: a rule whose SQL would be too large to
 * submit, or a logistic pack whose risk the script could not compute exactly, is
 * refused at compile time naming the rule (exit 78), never cut short;
 * a missing or unknown dialect is a usage error (64).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli as run } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cw-sql-refuse-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `churnwatch sql` on this pack text: refused at compile time (78, nothing printed), naming `what`. */
async function expectRefused(packText: string, dialect: string, what: string): Promise<void> {
  const file = join(tmp, 'pack.yaml');
  writeFileSync(file, packText);
  const r = await run(['sql', '--dialect', dialect, '--as-of', '2026-03-15', '--rules', file]);
  expect(r.code).toBe(78);
  expect(r.out).toBe('');
  expect(r.err).toContain(what);
  expect(r.err).toContain('CW_SQL_UNSUPPORTED');
}

describe('churnwatch sql refuses', () => {
  it('a rule whose min/max nesting would repeat its operands past the size limit, naming the rule (78)', async () => {
    // min(min(min(... 60 deep (2^60 copies if nothing stopped it): each level writes its operands twice (NULL check, then least).
    let expr = 'amount(M0)';
    for (let k = 0; k < 60; k++) expr = `min(${expr}, amount(M${k % 3}))`;
    const pack = readFileSync('rules/default.yaml', 'utf8').replace('when: hotline_calls(M0) >= 5', `when: ${expr} >= 5`);
    expect(pack).toContain(expr);
    await expectRefused(pack, 'spark', 'rule hotline_calls');
  });

  it('compiles a rule over a measure the pack declares from its declaration (the column read, checked and summed in fen)', async () => {
    const pack = readFileSync('rules/default.yaml', 'utf8')
      .replace(/^rules:/m, 'measures:\n  recharge: { extract: billing_monthly, column: recharge_amount, unit: money }\nrules:')
      .replace('when: hotline_calls(M0) >= 5', 'when: recharge(M0) >= 5');
    expect(pack).toContain('recharge(M0) >= 5');
    const file = join(tmp, 'declared.yaml');
    writeFileSync(file, pack);
    const r = await run(['sql', '--dialect', 'duckdb', '--as-of', '2026-03-15', '--rules', file]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('trim(recharge_amount)');
    expect(r.out).toContain('AS f_recharge_m0');
  });

  it('a logistic pack whose logit can pass the range where its exp() is exact, naming the rule with the most points (78)', async () => {
    // Points are at most 50 a rule; fifteen rules of 50 can reach 750 together.
    const big = Array.from(
      { length: 15 },
      (_, k) =>
        `  - { id: big_${k}, title: Big, when: "status == 'suspended_arrears'", points: ${k === 3 ? -50 : 49}, reason: big, action: Call. }\n`,
    ).join('');
    const pack = readFileSync('test/sql/logistic-pack.yaml', 'utf8').replace(/^rules:\n/m, `rules:\n${big}`);
    expect(pack).toContain('id: big_14');
    await expectRefused(pack, 'duckdb', 'rule big_3:');
    // Within the range, the same pack compiles.
    expect((await run(['sql', '--dialect', 'duckdb', '--as-of', '2026-03-15', '--rules', 'test/sql/logistic-pack.yaml'])).code).toBe(0);
  });

  it.each([[[]], [['--dialect', 'oracle']]])('a missing or unknown dialect (64): %j', async (extra) => {
    const r = await run(['sql', '--as-of', '2026-03-15', ...extra]);
    expect(r.code).toBe(64);
    expect(r.out).toBe('');
  });

  it('prints a script for a pack in the default contract', async () => {
    const r = await run(['sql', '--dialect', 'duckdb', '--as-of', '2026-03-15']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^-- churnwatch default v1/);
    expect(r.out).toContain("read_csv('billing_monthly.csv'");
  });
});
