/**
 * The rule pack and the run configuration are read with js-yaml (config/yaml-text.ts)
 * for the speed of start-up; they must read as `yaml.parse` (YAML 1.2 core) read them
 * before: the same value, or an error both ways.
 *
 * Differences accepted (none reaches a bundled pack, a fixture or a pack calibrate writes):
 * - explicit tags: `yaml` warns and keeps the text of `!foo x`, `!!binary`, `!!float 1`;
 *   js-yaml refuses the document (a pack or configuration uses no tags);
 * - a `%YAML 1.1` document: `yaml` switches to 1.1 (yes/no are booleans), js-yaml reads
 *   1.2; a yes where a boolean belongs is then refused by the checks, never read as false;
 * - a collection as a mapping key (`? [a, b]`): another text key, which the checks refuse;
 * - an empty key (`: 1`), an alias inside its own anchor, and a document that is a block
 *   scalar at column 0 (`|` then `x`): `yaml` reads them, js-yaml or the size guard refuse them;
 * - the noncharacters U+FFFE and U+FFFF, which YAML does not count as printable: `yaml`
 *   writes and reads them unquoted, js-yaml refuses the stream;
 * - more than 100 uses of one anchor: `yaml` refuses them; here only aliases that expand
 *   to more values than the guard allows are refused (both refuse the "billion laughs");
 * - the errors' texts and the line and column they point at (each parser's own).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ToStringOptions, parse as yamlParse, stringify } from 'yaml';
import { parseRulePack } from '../../src/config/rulepack.js';
import { parseRunConfig } from '../../src/config/run-config.js';
import { YamlTextError, parseYamlText } from '../../src/config/yaml-text.js';
import { ChurnwatchError } from '../../src/errors.js';
import { candidateMeasures, scorecardPackText } from '../../src/report/calibrate.js';

type Outcome = { value: unknown } | { error: true };

function reference(text: string): Outcome {
  try {
    // logLevel error: the snippets with unknown tags would fill the test's output with warnings.
    return { value: yamlParse(text, { logLevel: 'error' }) };
  } catch {
    return { error: true };
  }
}

function ours(text: string): Outcome {
  try {
    return { value: parseYamlText(text) };
  } catch (e) {
    expect(e).toBeInstanceOf(YamlTextError);
    return { error: true };
  }
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && /\.ya?ml$/.test(d.name))
    .map((d) => join(d.parentPath, d.name));
}

const SNIPPETS: Record<string, string> = {
  dates: 'as_of: 2026-11-23\nat: 2026-11-23T10:00:00Z\nday: 2026-1-2',
  'yes, no, on, off': '[yes, no, on, off, y, n, Yes, NO, On, OFF]',
  booleans: '[true, True, TRUE, false, False, FALSE, tRue]',
  nulls: '[~, null, Null, NULL, nUll, ]\nempty:\nnext: 1',
  octal: '[0o17, 017, -0o17, 0o8, 0O17]',
  hex: '[0x1F, 0X1F, -0x1F, +0x1f, 0xg]',
  exponents: '[1e3, 1E3, -1.5e-3, .5e2, 1.e2, 1e, e3, 6.02e+23, 1e400]',
  'inf and nan': '[.inf, -.inf, +.inf, .Inf, .INF, .nan, .NaN, .NAN, inf, nan, -.NaN]',
  numbers: '[0, -0, +12, 1_000, 0b101, 1.0, 1., .5, -.5, -0.0, 1.50, 12345678901234567890, 007, 3:25, +, ., -]',
  'quoted strings': `["2026-11-23", 'yes', "1e3", "a\\tb\\u00e9\\u4e2d", 'it''s', "~", '']`,
  'block strings': 'a: |\n  line1\n  line2\nb: >\n  folded\n  text\n\n  para\nc: |-\n  x\nd: >+\n  y\n\ne: |2\n    indented\nf: 1',
  'multi-line plain and quoted': 'a: one\n  two\n  three\nb: "x\n  y"\nc: \'p\n\n  q\'',
  'anchors and aliases': 'a: &x {k: 1, l: [1, 2]}\nb: *x\nc: &s hello\nd: *s\ne: [*s, *x]',
  'merge key stays a key': 'a: &x {k: 1}\nb:\n  <<: *x\n  m: 2',
  'duplicate keys': 'a: 1\na: 2',
  'duplicate keys in flow': '{a: 1, a: 2}',
  'duplicate null keys': 'null: 1\n~: 2',
  'tab indentation': 'a:\n\tb: 1',
  'tabs as separation': 'a: \t1\nb: [1,\t2]\nc: "x\ty"',
  'empty document': '',
  'comment only': '# only a comment\n',
  markers: '---\na: 1\n...',
  'two documents': 'a: 1\n---\nb: 2',
  'scalar keys': 'true: 1\n1: 2\n1.5: 3\n0x10: 4',
  __proto__: '__proto__: {a: 1}\nb: 2',
  'bad indentation': 'a:\n  b: 1\n c: 2',
  'unclosed flow': 'a: [1, 2',
  'unclosed quote': 'a: "abc',
  'str tag': 'a: !!str 12\nb: !!int "12"',
  'set-like keys': '? a\n? b',
  'unsupported version': '%YAML 1.3\n---\na: 1',
  'byte order mark': '\ufeffa: 1',
  'CR LF': 'a: 1\r\nb: two\r\n',
  unicode: 'a: 挽留成功后回访：确认客户对新套餐满意。\nb: "\\u4e2d"',
  'colon in value': 'a: b: c',
  'hash without space': 'a: b#c\nd: e # f',
  'reserved characters': 'a: @x',
  backtick: 'a: `x`',
  'dash values': 'a: --x\nb: ?x\nc: "%"',
  'block sequences': '- a\n- - b\n  - c\n-\n',
  'sequence at the key indent': 'a:\n- 1\n- 2',
  nesting: 'a: {b: [1, {c: d}]}',
  'flow with empty values': '{a: , b}',
  'undefined alias': 'a: *nope',
  'leading space': ' a: 1',
  'quoted keys': '"a b": 1\n\'c\': 2',
  'billion laughs': `a: &a [x,x,x,x,x,x,x,x,x,x]\n${['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']
    .map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefghi'[i]}`).join(',')}]`)
    .join('\n')}`,
};

describe('YAML text read with js-yaml, as yaml.parse read it', () => {
  it('the bundled packs, the fixtures and the tests’ packs and configurations: the same value', () => {
    const files = ['rules', 'fixtures', 'test'].flatMap(yamlFiles);
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(ours(text), f).toEqual(reference(text));
    }
  });

  it('a pack calibrate writes (comments, fitted figures, scorecard steps): the same value', () => {
    const old = readFileSync('rules/default.yaml', 'utf8');
    const measures = candidateMeasures(parseRulePack(old, 'default.yaml'), []).slice(0, 4);
    const text = scorecardPackText(old, {
      intercept: -2.125,
      flagRisk: 0.1,
      rulePoints: new Map([['suspended', 1.5]]),
      measures: measures.map((m, i) => ({ ...m, edges: [-1.5, 0, 7.07 * i, 1e6], points: [0.5, 0, -0.25, 1.125, 2] })),
      fitted: { as_of: '2026-11-23', auc: 0.678, lift: '2.84x', data_sha256: 'a9f202e6', train: 2001 },
      header: ' Calibrated scorecard\n fitted as of 2026-11-23',
    });
    expect(text).toContain('as_of: 2026-11-23');
    const read = ours(text);
    expect(read).toEqual(reference(text));
    expect((read as { value: { fitted: { as_of: unknown } } }).value.fitted.as_of).toBe('2026-11-23');
  });

  for (const [name, text] of Object.entries(SNIPPETS)) {
    it(`${name}: the same value, or an error both ways`, () => {
      expect(ours(text)).toEqual(reference(text));
    });
  }

  it('the differences accepted (top of this file) are what they are said to be', () => {
    expect(ours('a: !foo bar')).toEqual({ error: true });
    expect(reference('a: !foo bar')).toEqual({ value: { a: 'bar' } });
    expect(ours('%YAML 1.1\n---\na: yes')).toEqual({ value: { a: 'yes' } });
    expect(ours('? [a, b]\n: c')).toEqual({ value: { 'a,b': 'c' } });
    expect(ours(': 1')).toEqual({ error: true });
    expect(ours('a: &x [1, *x]')).toEqual({ error: true });
    expect(ours('|-\nx\n')).toEqual({ error: true });
    expect(ours(stringify({ 'a\uFFFEb': 0 }))).toEqual({ error: true });
    expect(reference(stringify({ 'a\uFFFEb': 0 }))).toEqual({ value: { 'a\uFFFEb': 0 } });
    const manyUses = `a: &a 1\nb: [${Array(150).fill('*a').join(', ')}]`;
    expect(reference(manyUses)).toEqual({ error: true });
    expect(ours(manyUses)).toEqual({ value: { a: 1, b: Array(150).fill(1) } });
  });

  it('random documents as yaml writes them, with texts that look like other scalars: the same value', () => {
    const lookalike = fc.constantFrom(
      '2026-11-23',
      'yes',
      'No',
      'on',
      '0o17',
      '017',
      '0x1F',
      '1_000',
      '0b101',
      '1e3',
      '.inf',
      '-.Inf',
      '.NaN',
      '~',
      'null',
      'NULL',
      'True',
      '+12',
      '3:25',
      '- a',
      'a: b',
      '#x',
      '',
      ' lead',
      'tail ',
      'two\nlines',
      '"q"',
      "'q'",
      '挽留',
    );
    const printable = (t: string) => !/[\uFFFE\uFFFF]/.test(t); // an accepted difference (top of this file)
    const text = fc.oneof(lookalike, fc.string().filter(printable), fc.string({ unit: 'binary' }).filter(printable));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(text, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const options = fc.constantFrom<ToStringOptions>(
      {},
      { defaultStringType: 'QUOTE_DOUBLE' },
      { defaultStringType: 'QUOTE_SINGLE' },
      { defaultStringType: 'BLOCK_LITERAL' },
      { defaultStringType: 'BLOCK_FOLDED', lineWidth: 20 },
      { collectionStyle: 'flow' },
      { indentSeq: false, indent: 4 },
    );
    // A pack and a configuration are mappings (js-yaml refuses a document that is a block scalar at column 0).
    fc.assert(
      fc.property(fc.dictionary(text, value, { maxKeys: 6 }), options, (v, opts) => {
        const written = stringify(v, opts);
        expect(ours(written)).toEqual(reference(written));
      }),
      { numRuns: 400 },
    );
  });
});

function refusal(read: () => unknown): ChurnwatchError {
  try {
    read();
  } catch (e) {
    expect(e).toBeInstanceOf(ChurnwatchError);
    return e as ChurnwatchError;
  }
  throw new Error('the text was accepted');
}

describe('YAML errors of a pack and of a configuration', () => {
  it('a pack: CW_RULEPACK_INVALID with file:line:column and the parser’s reason', () => {
    const e = refusal(() => parseRulePack('pack: p\nrules:\n  - id: a\n  - id: b\n id: c\n', 'p.yaml'));
    expect(e.code).toBe('CW_RULEPACK_INVALID');
    expect(e.message).toMatch(/^p\.yaml:5:\d+: not valid YAML: bad indentation/);
  });

  it('a pack whose aliases expand past the guard is refused before any check walks it', () => {
    const bomb = `pack: p\nx: &a [x,x,x,x,x,x,x,x,x,x]\n${'bcdefgh'
      .split('')
      .map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(',')}]`)
      .join('\n')}\n`;
    const e = refusal(() => parseRulePack(bomb, 'p.yaml'));
    expect(e.code).toBe('CW_RULEPACK_INVALID');
    expect(e.message).toMatch(/^p\.yaml: not valid YAML: its aliases repeat more than/);
  });

  it('a configuration: CW_CONFIG_INVALID naming the line and column', () => {
    const e = refusal(() => parseRunConfig('input:\n  delimiter: ","\n  delimiter: ";"\n', 'run.yaml'));
    expect(e.code).toBe('CW_CONFIG_INVALID');
    expect(e.message).toMatch(/^run\.yaml: line 3, column 3: not valid YAML: duplicated mapping key/);
  });
});
