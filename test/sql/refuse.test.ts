/**
 * What `churnwatch sql` refuses, and how: a rule whose SQL would be too large to
 * submit is refused at compile time naming the rule (exit 78), never cut short;
 * a missing or unknown dialect is a usage error (64).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli as run } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'cw-sql-refuse-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('churnwatch sql refuses', () => {
  it('a rule whose min/max nesting would repeat its operands past the size limit, naming the rule (78)', async () => {
    // min(min(min(... 60 deep (2^60 copies if nothing stopped it): each level writes its operands twice (NULL check, then least).
    let expr = 'amount(M0)';
    for (let k = 0; k < 60; k++) expr = `min(${expr}, amount(M${k % 3}))`;
    const pack = readFileSync('rules/default.yaml', 'utf8').replace('when: hotline_calls(M0) >= 5', `when: ${expr} >= 5`);
    expect(pack).toContain(expr);
    const file = join(tmp, 'deep.yaml');
    writeFileSync(file, pack);
    const r = await run(['sql', '--dialect', 'spark', '--as-of', '2026-03-15', '--rules', file]);
    expect(r.code).toBe(78);
    expect(r.out).toBe('');
    expect(r.err).toContain('rule hotline_calls');
    expect(r.err).toContain('CW_SQL_UNSUPPORTED');
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
