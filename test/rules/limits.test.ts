/**
 * Size limits of the rule language: an expression too deep or too long, or a pack
 * too large, is refused with CW_RULE_EXPRESSION / CW_RULEPACK_INVALID (exit 78) that
 * names the rule and the limit, never a stack overflow (exit 70); an expression just
 * under the limits compiles and computes what a plain evaluation computes.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PACK_CHARS, MAX_RULES, parseRulePack } from '../../src/config/rulepack.js';
import { ChurnwatchError } from '../../src/errors.js';
import { MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH, MAX_EXPRESSION_OPERANDS, parseExpression } from '../../src/rules/parse.js';
import { checkExpression } from '../../src/rules/check.js';
import { compileCondition, compileNumber } from '../../src/rules/compile.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { World, cleanup } from '../helpers/world.js';

function packWith(when: string, extra = ''): string {
  return `pack: t\nvalue: amount(M0)\ntiers: { high: 60, mid: 30 }\nrules:\n  - id: deep_one\n    when: "${when}"\n    weight: 0.5\n    action: call${extra}\n`;
}

function errorOf(fn: () => unknown): ChurnwatchError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ChurnwatchError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

const sum = (term: string, count: number) => Array.from({ length: count }, () => term).join(' + ');

describe('rule expression limits', () => {
  it.each([
    ['2,000 nested parentheses', `${'('.repeat(2000)}amount(M0)${')'.repeat(2000)} > 1`, `more than ${MAX_EXPRESSION_DEPTH} levels deep`],
    ['2,000 nested calls', `${'abs('.repeat(2000)}amount(M0)${')'.repeat(2000)} > 1`, `more than ${MAX_EXPRESSION_DEPTH} levels deep`],
    ['2,000 nots', `${'not '.repeat(2000)}amount(M0) > 1`, `more than ${MAX_EXPRESSION_DEPTH} levels deep`],
    ['2,000 minus signs', `${'-'.repeat(2000)}amount(M0) > 1`, `more than ${MAX_EXPRESSION_DEPTH} levels deep`],
    ['a 2,000-term sum', `${sum('1', 2000)} > 1`, `more than the limit of ${MAX_EXPRESSION_OPERANDS}`],
    ['a 1 MB expression', `${sum('amount(M0)', 80_000)} > 1`, `more than the limit of ${MAX_EXPRESSION_LENGTH}`],
    ['a number of 400 digits', `amount(M0) > ${'9'.repeat(400)}`, 'must be below 10^15'],
  ])('when a rule has %s then the pack is refused with 78 naming the rule and the limit', (_, when, message) => {
    const e = errorOf(() => parseRulePack(packWith(when), 'p.yaml'));
    expect(e.code).toBe('CW_RULE_EXPRESSION');
    expect(e.exitCode).toBe(78);
    expect(e.message).toContain('rule deep_one.when: ');
    expect(e.message).toContain(message);
    // The expression is quoted around the problem only: the message stays a few lines.
    expect(e.message.length).toBeLessThan(600);
  });

  it('when an expression is just under the depth and operand limits then it compiles and computes the plain sum', () => {
    // abs(), 62 parentheses and amount(): 64 levels; 999 amounts and the 1 compared with: 1000 operands.
    const inner = sum('amount(M0)', MAX_EXPRESSION_OPERANDS - 1);
    const src = `abs(${'('.repeat(MAX_EXPRESSION_DEPTH - 2)}${inner}${')'.repeat(MAX_EXPRESSION_DEPTH - 2)}) > 1`;
    const c = checkExpression(parseExpression(src));
    const f = compileCondition(c.tree, c.features.keys());
    // One temporary per operation, none nested: the engine never sees a deep expression.
    let depth = 0,
      deepest = 0;
    for (const ch of f.source) {
      depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
      deepest = Math.max(deepest, depth);
    }
    expect(deepest).toBeLessThanOrEqual(2);
    const out = new Uint8Array(3);
    f.run([{ values: new Float64Array([0.002, -0.001, 0.0005]), unit: 1 }], 3, 0, out);
    expect([...out]).toEqual([1, 0, 0]); // 999 × 0.002 = 1.998 > 1; |−0.999| < 1; 0.4995 < 1
    const n = checkExpression(parseExpression(`${sum('amount(M0) * 2', 499)} - amount(M1)`));
    const value = compileNumber(n.tree, n.features.keys());
    expect(
      value.at(
        [
          { values: Int32Array.of(150), unit: 100 },
          { values: Int32Array.of(50), unit: 100 },
        ],
        0,
        0,
      ),
    ).toBeCloseTo(499 * 3 - 0.5, 9);
  });

  it('when right-nested conditions reach the depth limit then they compile and short-circuit correctly', () => {
    const depth = MAX_EXPRESSION_DEPTH - 1;
    const src = `${'(amount(M0) > 1 and '.repeat(depth)}amount(M1) > 1${')'.repeat(depth)}`;
    const c = checkExpression(parseExpression(src));
    const out = new Uint8Array(3);
    compileCondition(c.tree, c.features.keys()).run(
      [
        { values: Int32Array.of(2, 2, 0), unit: 1 },
        { values: Int32Array.of(2, 0, 2), unit: 1 },
      ],
      3,
      0,
      out,
    );
    expect([...out]).toEqual([1, 0, 0]);
  });

  it('when a pack has 10,000 rules or is larger than the limit then it is refused with 78 before compiling anything', () => {
    const rules = Array.from({ length: 10_000 }, (_, k) => `  - { id: r${k}, when: "amount(M0) > ${k}", weight: 0.1, action: call }`).join(
      '\n',
    );
    const many = errorOf(() => parseRulePack(`pack: t\nvalue: amount(M0)\ntiers: { high: 60, mid: 30 }\nrules:\n${rules}\n`, 'p.yaml'));
    expect([many.code, many.exitCode]).toEqual(['CW_RULEPACK_INVALID', 78]);
    expect(many.message).toContain(`has 10000 rules, more than the limit of ${MAX_RULES}`);
    const huge = errorOf(() => parseRulePack(`pack: t\ndescription: "${'x'.repeat(MAX_PACK_CHARS)}"\n`, 'p.yaml'));
    expect([huge.code, huge.exitCode]).toEqual(['CW_RULEPACK_INVALID', 78]);
    expect(huge.message).toContain(`more than the limit of ${MAX_PACK_CHARS}`);
  });

  it('when a reason text holds too many {expressions} then it is refused with 78', () => {
    const e = errorOf(() => parseRulePack(packWith('amount(M0) > 1', `\n    reason: "${'{amount(M0)} '.repeat(10_000)}"`), 'p.yaml'));
    expect(e.code).toBe('CW_RULEPACK_INVALID');
    expect(e.message).toContain('rule deep_one.reason: has more than 50 {expressions}');
  });

  it('when the nightly run is given a pack with 2,000 nested parentheses then it exits 78 with the rule named and no stack trace', async () => {
    const w = new World('2026-11-23');
    w.sub('S1', { status: 'active' }).bills('S1', ['80.00', '80.00', '80.00', '80.00']);
    const dir = w.write();
    try {
      const pack = join(dir, 'deep.yaml');
      writeFileSync(pack, packWith(`${'('.repeat(2000)}amount(M0)${')'.repeat(2000)} > 1`));
      const r = await w.run(['--rules', pack], dir);
      expect(r.code).toBe(78);
      expect(r.stderr).toContain('rule deep_one.when: the expression nests more than 64 levels deep');
      expect(r.stderr).toContain('[CW_RULE_EXPRESSION]');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      cleanup(dir);
    }
  });
});
