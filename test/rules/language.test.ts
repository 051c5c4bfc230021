/**
 * The rule language: what parses, what the allow-list refuses (with the rule named,
 * the expression quoted and the position pointed at), and what code it generates.
 */
import { describe, expect, it } from 'vitest';
import { parseExpression } from '../../src/rules/parse.js';
import { checkExpression } from '../../src/rules/check.js';
import { compileCondition, compileNumber, type Compiler } from '../../src/rules/compile.js';
import { parseRulePack } from '../../src/config/rulepack.js';
import { ChurnwatchError } from '../../src/errors.js';
import { readFileSync } from 'node:fs';

const check = (src: string) => checkExpression(parseExpression(src));

/** A condition compiled through a compiler that keeps each body it is handed (the condition's source, at its first run). */
function compiledSeen(c: ReturnType<typeof check>) {
  const bodies: string[] = [];
  const spy: Compiler = (params, body) => {
    bodies.push(body);
    return new Function(...params, body) as never;
  };
  const compiled = compileCondition(c.tree, c.features.keys(), spy);
  return { compiled, seen: compiled.source, bodies };
}

function packWith(when: string, extra = ''): string {
  return `pack: t\nvalue: amount(M0)\ntiers: { high: 60, mid: 30 }\nrules:\n  - id: r1\n    when: "${when}"\n    weight: 0.5\n    action: call${extra}\n`;
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

describe('rule expressions', () => {
  it.each([
    ['amount(M1) >= 10 and amount(M0) <= 0.70 * amount(M1)', ['amount(M1)', 'amount(M0)']],
    ["status == 'active' and not given(prepaid_balance)", ['status', 'prepaid_balance']],
    [
      "tickets('complaint', -90, -1) >= 2 || tickets('fault', -90, -1) >= 3",
      ["tickets('complaint', -90, -1)", "tickets('fault', -90, -1)"],
    ],
    ['activation_date <= d3', ['activation_date']],
    ['amount(M3) > amount(M2) > amount(M1)', ['amount(M3)', 'amount(M2)', 'amount(M1)']],
    ['min(mou(M0), mou(M1)) - abs(-3) > 2 * (1 + 1)', ['mou(M0)', 'mou(M1)']],
  ])('when "%s" is checked then it reads %j', (src, features) => {
    const c = check(src);
    expect(c.unit).toBe('bool');
    expect([...c.features.keys()]).toEqual(features);
  });

  it.each([
    ['constructor.prototype', 'is not allowed'],
    ['process.exit(1)', 'is not allowed'],
    ['amount(M0)[0] > 1', 'is not allowed'],
    ["require('fs')", 'unknown function "require"'],
    ['eval(1) > 0', 'unknown function "eval"'],
    ['tenure_mo > 3', 'unknown name "tenure_mo"'],
    ['amount(d1) > 3', 'takes a month'],
    ['activity(M0) > 3', 'takes a day'],
    ["status == 'gone'", "'gone' is not a value of status"],
    ["status > 'active'", 'can only be compared with == or !='],
    ['status + 1 > 2', 'can only be compared'],
    ['amount(M0) > d1', 'a date can only be compared with another date'],
    ['(amount(M0) > 1) + 1 > 0', 'needs numbers on both sides'],
    ["tickets('spam', -90, -1) > 0", 'tickets() takes a kind first'],
    ["tickets('fault', -1, -90) > 0", 'window is empty'],
    ['contracts_expiring(x, 30) > 0', 'must be a whole number'],
    ['amount(M0) > 0.123456', 'at most 4 decimal places'],
    ['amount(M0) >', 'expected a value'],
    ['amount(M0) > 1 1', 'unexpected "1"'],
    ['pct_change(amount(M0), amount(M1)) > 3', 'only for reason texts'],
    ['a = 1', 'is not allowed'],
  ])('when "%s" is checked then it is refused: %s', (src, message) => {
    expect(() => check(src)).toThrow(message);
  });

  it('when a rule pack has a bad expression then the error names the rule, quotes it and points at the problem', () => {
    const e = errorOf(() => parseRulePack(packWith('amount(M0) > tenure_mo'), 'p.yaml'));
    expect(e.code).toBe('CW_RULE_EXPRESSION');
    expect(e.exitCode).toBe(78);
    expect(e.message).toContain('rule r1.when: unknown name "tenure_mo"');
    expect(e.message).toContain('  amount(M0) > tenure_mo\n               ^');
  });

  it('when a rule pack has an unknown key then it is refused with the key named', () => {
    const e = errorOf(() => parseRulePack(packWith('amount(M0) > 1', '\n    wieght: 1'), 'p.yaml'));
    expect(e.code).toBe('CW_RULEPACK_INVALID');
    expect(e.message).toContain('rules[0].wieght: unknown key');
  });

  it('when a rule pack is not YAML then the error gives the line', () => {
    const e = errorOf(() => parseRulePack('pack: [unclosed\n', 'p.yaml'));
    expect(e.code).toBe('CW_RULEPACK_INVALID');
    expect(e.message).toMatch(/^p\.yaml:\d+:\d+: not valid YAML/);
  });

  it('when a condition compiles then the generated loop reads typed arrays only, dividing each measure once, a short side of and without a branch', () => {
    const c = check('amount(M1) >= 10 and amount(M0) <= 0.70 * amount(M1)');
    const { compiled, seen, bodies } = compiledSeen(c);
    // Made at the first run only (a pack's hundreds of functions, most never run), and once.
    expect(bodies).toEqual([]);
    expect(seen).toContain('const c0 = cols[0].values, u0 = cols[0].unit;');
    expect(seen).toContain('const c1 = cols[1].values, u1 = cols[1].unit;');
    // A measure handed over as a plain array is refused, not read as NaN.
    expect(() => compiled.run([new Float64Array(1), new Float64Array(1)], 1, 0, new Uint8Array(1))).toThrow(/not a scaled measure column/);
    expect(seen).toContain(
      [
        'for (let i = 0; i < n; i++) {',
        '  const s0 = c0[i] / u0;',
        '  const s1 = c1[i] / u1;',
        '  const t1 = s0 - 10;',
        '  let t2 = +(t1 >= -1e-7);',
        '  const t3 = 0.7 * s0;',
        '  const t4 = s1 - t3;',
        '  t2 = t2 & (t4 <= 1e-7);',
        '  out[i] = t2 ? 1 : 0;',
        '}',
      ].join('\n'),
    );
    const out = new Uint8Array(4);
    compiled.run(
      [
        { values: Int32Array.of(1010, 10000, 999, 1010), unit: 100 },
        { values: Float64Array.of(707, 7001, 0, 708), unit: 100 },
      ],
      4,
      0,
      out,
    );
    expect([...out]).toEqual([1, 0, 0, 0]);
    expect(bodies).toEqual([seen]);
  });

  it('when the right side of or is long then it is computed only where the left side does not decide', () => {
    const long = Array.from({ length: 10 }, (_, k) => `amount(M${k % 4}) * ${k + 2}`).join(' + ');
    const c = check(`amount(M0) > 100 or not (${long} > 50)`);
    const { compiled, seen } = compiledSeen(c);
    expect(seen).toContain('  if (!t2) {');
    expect(seen).toContain('    t2 = +(');
    const m = [Int32Array.of(20000, 100, 0, 100), Int32Array.of(0, 100, 0, 100), Int32Array.of(0, 100, 0, 0), Int32Array.of(0, 100, 0, 0)];
    const out = new Uint8Array(4);
    compiled.run(
      [...c.features.keys()].map((key: string) => ({ values: m[Number(/M(\d)/.exec(key)![1])]!, unit: 100 })),
      4,
      0,
      out,
    );
    // 200 > 100; 1 each: 2 + 3 + ... + 11 = 65 > 50; all 0: not (0 > 50); M0, M1 1: 2 + 3 + 6 + 7 + 10 + 11 = 39.
    expect([...out]).toEqual([1, 0, 1, 1]);
  });

  it('when 0.70 × 10.10 is computed in floating point then the comparison still holds exactly at the boundary', () => {
    expect(0.7 * 10.1).toBeLessThan(7.07); // the trap
    const c = check('amount(M0) <= 0.70 * amount(M1)');
    const out = new Uint8Array(1);
    // The sums as the reader keeps them, in fen, divided where the rule reads them.
    compileCondition(c.tree, c.features.keys()).run(
      [
        { values: Int32Array.of(707), unit: 100 },
        { values: Int32Array.of(1010), unit: 100 },
      ],
      1,
      0,
      out,
    );
    expect(out[0]).toBe(1);
  });

  it('when a number expression compiles then at() gives one value', () => {
    const c = checkExpression(parseExpression('(amount(M0) + amount(M1) + amount(M2)) / 3'));
    const f = compileNumber(c.tree, c.features.keys());
    const fen = (v: number) => ({ values: Int32Array.of(v), unit: 100 });
    expect(f.at([fen(6000), fen(6000), fen(6003)], 0, 0)).toBeCloseTo(60.01, 10);
  });

  it('the default rule pack loads and has the twelve rules of the contract', () => {
    const pack = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'default.yaml');
    expect(pack.rules.map((r) => r.id)).toEqual([
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
    ]);
  });

  describe('"not given": x / 0, overflow and missing attributes (SQL NULL, three-valued conditions)', () => {
    // Columns a, b (amounts), prepaid_balance; one subscriber per case.
    const a = { values: Int32Array.of(10, 10, 0, 10, 5, 10), unit: 1 };
    const b = { values: Int32Array.of(0, 0, 0, 4, 5, 2), unit: 1 };
    const bal = new Float64Array([NaN, 1, NaN, NaN, 3, 5]);
    const run = (src: string): number[] => {
      const c = check(src);
      const cols = [...c.features.keys()].map((k) => (k === 'amount(M0)' ? a : k === 'amount(M1)' ? b : bal));
      const out = new Uint8Array(bal.length);
      compileCondition(c.tree, c.features.keys()).run(cols, bal.length, 0, out);
      return [...out];
    };
    it.each([
      // x / 0 and 0 / 0 are not given: every comparison with them is unknown, and so is its negation.
      ['amount(M0) / amount(M1) > 1', [0, 0, 0, 1, 0, 1]],
      ['amount(M0) / amount(M1) <= 1', [0, 0, 0, 0, 1, 0]],
      ['not (amount(M0) / amount(M1) > 1)', [0, 0, 0, 0, 1, 0]],
      ['not not (amount(M0) / amount(M1) > 1)', [0, 0, 0, 1, 0, 1]],
      ['amount(M0) / amount(M1) == amount(M0) / amount(M1)', [0, 0, 0, 1, 1, 1]],
      ['amount(M0) / amount(M1) != 2', [0, 0, 0, 1, 1, 1]],
      // It goes through arithmetic and functions, even where infinity would not: 1 / (x / 0) is not 0.
      ['1 / (amount(M0) / amount(M1)) >= 0', [0, 0, 0, 1, 1, 1]],
      ['min(amount(M0) / amount(M1), 1) <= 1', [0, 0, 0, 1, 1, 1]],
      ['abs(amount(M0) / amount(M1) - 100) > 0', [0, 0, 0, 1, 1, 1]],
      ['amount(M0) / amount(M1) * 0 == 0', [0, 0, 0, 1, 1, 1]],
      // and / or / not as in SQL: false and unknown is false, true or unknown is true, unknown or false is unknown.
      ['amount(M0) / amount(M1) > 1 or amount(M0) > 5', [1, 1, 0, 1, 0, 1]],
      ['not (amount(M0) / amount(M1) > 1 or amount(M0) > 5)', [0, 0, 0, 0, 1, 0]],
      ['not (amount(M0) / amount(M1) > 1 and amount(M0) > 5)', [0, 0, 1, 0, 1, 0]],
      ['not (amount(M0) / amount(M1) > 1) or amount(M1) == 0', [1, 1, 1, 0, 1, 0]],
      // A missing attribute is the same "not given"; given() is never unknown.
      ['prepaid_balance < 4', [0, 1, 0, 0, 1, 0]],
      ['not (prepaid_balance >= 4)', [0, 1, 0, 0, 1, 0]],
      ['not given(prepaid_balance) or prepaid_balance < 4', [1, 1, 1, 1, 1, 0]],
      ['not (given(prepaid_balance) and prepaid_balance >= 4)', [1, 1, 1, 1, 1, 0]],
    ])('when "%s" is evaluated then it holds for %j', (src, expected) => {
      expect(run(src)).toEqual(expected);
    });

    it('when a missing enum attribute is compared then == and != are both unknown', () => {
      const c = check("member_level != 'gold' or not (member_level == 'gold')");
      const out = new Uint8Array(3);
      compileCondition(c.tree, c.features.keys()).run([new Uint8Array([1, 2, 255])], 3, 0, out);
      expect([...out]).toEqual([0, 1, 0]);
    });

    it('when a number expression divides by zero or overflows then its value is NaN, never infinite', () => {
      const at = (src: string, ...cols: number[]) => {
        const c = checkExpression(parseExpression(src));
        return compileNumber(c.tree, c.features.keys()).at(
          cols.map((v) => ({ values: new Float64Array([v]), unit: 1 })),
          0,
          0,
        );
      };
      expect(at('amount(M0) / amount(M1)', 5, 0)).toBeNaN();
      expect(at('amount(M0) / amount(M1)', 0, 0)).toBeNaN();
      expect(at('-amount(M0) / amount(M1) + 1', 5, 0)).toBeNaN();
      expect(at('amount(M0) / amount(M1)', 5, 2)).toBe(2.5);
      expect(at('(amount(M0) + amount(M1)) / 0', 5, 2)).toBeNaN();
      const huge = `${Array.from({ length: 22 }, () => '999999999999999').join(' * ')} * amount(M0)`;
      expect(at(huge, 5)).toBeNaN();
      expect(at(`${huge} / 100000000000000 / 999999999999999`, 5)).toBeNaN(); // once infinite, not given for good
      expect(at('max(amount(M0) / amount(M1), 3)', 5, 0)).toBeNaN();
    });
  });
});
