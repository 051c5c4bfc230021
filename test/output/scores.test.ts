/**
 * scores.csv and scores.arrow written from the flat columns (ids as UTF-8 bytes, flags
 * eight at a time) are the same bytes as the string-by-string version they replaced,
 * kept here as the reference: any ids, any numbers, any number of rules.
 */
import { Dictionary, Float64, Table, Uint8, Utf8, makeData, makeVector, tableToIPC, type Vector } from 'apache-arrow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvLine, neutraliseFormula, quoteCell } from '../../src/output/csv.js';
import type { ChunkedFile } from '../../src/output/publish.js';
import { fromWorkerInput, toRulesPart, toScoresPart, toWorkerInput } from '../../src/output/scores-protocol.js';
import {
  flagKeys,
  scoresArrow,
  scoresHeader,
  writeScoresArrow,
  writeScoresCsv,
  type ScoreRules,
  type ScoreValues,
} from '../../src/output/scores.js';
import { TIERS } from '../../src/contract/contract.js';
import { parseRulePack, requiredFeatures } from '../../src/config/rulepack.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { score } from '../../src/score/score.js';
import { TextColumn, TextColumnBuilder } from '../../src/util/text-column.js';
import type { FeatureColumn } from '../../src/rules/compile.js';

interface Case {
  ids: string[];
  ev: ScoreRules;
  s: ScoreValues;
}

/** n subscribers and `rules` rules, every column varied (some ids start like a formula). */
function largeCase(n: number, rules: number): Case {
  const ids = Array.from({ length: n }, (_, i) => (i % 997 === 0 ? `=${i},"x"` : String(1_000_000 + i * 7)));
  const flags = Array.from({ length: rules }, (_, j) => Uint8Array.from({ length: n }, (_, i) => ((i * (j + 3)) % 17 === 0 ? 1 : 0)));
  return {
    ids,
    ev: { ruleIds: flags.map((_, j) => `r${j}`), flags, value: Float64Array.from({ length: n }, (_, i) => i * 1.37 - 50) },
    s: {
      risk: Float64Array.from({ length: n }, (_, i) => (i % 3 ? 0 : (i % 101) / 101)),
      expectedLoss: Float64Array.from({ length: n }, (_, i) => i / 7),
      tier: Uint8Array.from({ length: n }, (_, i) => i % 3),
    },
  };
}

function referenceCsv({ ids, ev, s }: Case): string {
  let out = csvLine(scoresHeader(ev));
  for (let i = 0; i < ids.length; i++) {
    const value = Number.isFinite(ev.value[i]) ? ev.value[i]!.toFixed(2) : '';
    let line = `${quoteCell(neutraliseFormula(ids[i]!))},${value},${TIERS[s.tier[i]!]},${s.risk[i]!.toFixed(4)},${s.expectedLoss[i]!.toFixed(2)}`;
    for (const f of ev.flags) line += f[i] ? ',1' : ',0';
    out += line + '\n';
  }
  return out;
}

/**
 * A Utf8 vector made with apache-arrow's modules (scores.ts loads the package's one-file
 * build): the reference files are written by the modules alone.
 */
function utf8Vector(strings: readonly string[]): Vector {
  const bytes = strings.map((v) => Buffer.from(v, 'utf8'));
  const valueOffsets = new Int32Array(strings.length + 1);
  bytes.forEach((b, i) => {
    valueOffsets[i + 1] = valueOffsets[i]! + b.length;
  });
  return makeVector(makeData({ type: new Utf8(), length: strings.length, nullCount: 0, valueOffsets, data: Buffer.concat(bytes) }));
}

/** A value that is not finite is null over a 0 (and with no nulls the column has no bitmap). */
function referenceValues(value: Float64Array): Vector {
  const finite = [...value].map((v) => Number.isFinite(v));
  if (finite.every((f) => f)) return makeVector({ type: new Float64(), data: value });
  const bitmap = new Uint8Array(Math.ceil(value.length / 8));
  finite.forEach((f, i) => {
    if (f) bitmap[Math.floor(i / 8)] += 2 ** (i % 8);
  });
  const data = Float64Array.from(value, (v, i) => (finite[i] ? v : 0));
  return makeVector(
    makeData({ type: new Float64(), length: value.length, nullCount: finite.filter((f) => !f).length, nullBitmap: bitmap, data }),
  );
}

function referenceArrow({ ids, ev, s }: Case): Uint8Array {
  const columns: Record<string, Vector> = {
    subscriber_id: utf8Vector(ids),
    value: referenceValues(ev.value),
    tier: makeVector(
      makeData({
        type: new Dictionary(new Utf8(), new Uint8(), 0),
        length: ids.length,
        nullCount: 0,
        data: s.tier,
        dictionary: utf8Vector(TIERS),
      }),
    ),
    risk_score: makeVector({ type: new Float64(), data: s.risk }),
    expected_loss: makeVector({ type: new Float64(), data: s.expectedLoss }),
  };
  ev.ruleIds.forEach((id, j) => {
    columns[id] = makeVector({ type: new Uint8(), data: ev.flags[j]! });
  });
  return tableToIPC(new Table(columns), 'file');
}

/** What writeScoresCsv hands a file, in order, as one buffer. */
function csvBytes(ids: TextColumn, ev: ScoreRules, s: ScoreValues, keys?: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  const file = { write: (t: string) => parts.push(Buffer.from(t, 'utf8')), writeBytes: (b: Uint8Array) => parts.push(Buffer.from(b)) };
  writeScoresCsv(file as unknown as ChunkedFile, ids, ev, s, [], keys);
  return Buffer.concat(parts);
}

const idText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 14 }),
  fc.string({
    unit: fc.constantFrom('0', '9', 'A', ',', '"', '\n', '\r', '=', '+', '-', '@', '\t', '\0', '＝', '＋', '－', '＠', '张', ' ', "'"),
    maxLength: 8,
  }),
);
const number = fc.oneof(
  fc.double(),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.integer({ min: -100_000, max: 100_000 }).map((c) => c / 100),
  fc.integer({ min: -2_000_000, max: 2_000_000 }).map((c) => c / 1000 + 0.0005), // near the half cent
  fc.constantFrom(0, -0, 0.005, 0.015, 1.005, 2.675, 0.00005, 1e21, -1e21, NaN, Infinity, -Infinity),
);

const caseOf = (rows: number) =>
  fc
    .integer({ min: 0, max: 19 })
    .chain((rules) =>
      fc.record({
        ids: fc.array(idText, { minLength: rows === 0 ? 0 : 1, maxLength: Math.max(1, rows) }),
        rules: fc.constant(rules),
      }),
    )
    .chain(({ ids, rules }) => {
      const n = ids.length;
      const col = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { minLength: n, maxLength: n });
      return fc.record({
        ids: fc.constant(ids),
        value: col(number),
        risk: col(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true }), number)),
        loss: col(fc.oneof(fc.constant(0), number)),
        tier: col(fc.integer({ min: 0, max: 2 })),
        flags: fc.array(col(fc.constantFrom(0, 1)), { minLength: rules, maxLength: rules }),
      });
    })
    .map(
      (r): Case => ({
        ids: r.ids,
        ev: {
          ruleIds: r.flags.map((_, j) => `rule_${j}`),
          flags: r.flags.map((f) => Uint8Array.from(f)),
          value: Float64Array.from(r.value),
        },
        s: { risk: Float64Array.from(r.risk), expectedLoss: Float64Array.from(r.loss), tier: Uint8Array.from(r.tier) },
      }),
    );

describe('scores.csv from columns', () => {
  it('when any ids, numbers and rule flags are written then the bytes equal the string version', () => {
    fc.assert(
      fc.property(caseOf(30), (c) => {
        expect(csvBytes(TextColumn.from(c.ids), c.ev, c.s).toString('utf8')).toBe(referenceCsv(c));
      }),
      { numRuns: 300 },
    );
  });

  it('when the rows pass a megabyte then the chunks join into the same bytes', () => {
    const c = largeCase(40_000, 12);
    const got = csvBytes(TextColumn.from(c.ids), c.ev, c.s);
    expect(got.length).toBeGreaterThan(2 << 20);
    expect(got.equals(Buffer.from(referenceCsv(c), 'utf8'))).toBe(true);
  });
});

describe('scores.csv fast paths', () => {
  it('when most ids are plain and the flags are views at any byte offset then the bytes equal the string version', () => {
    fc.assert(
      fc.property(
        // Mostly digits (copied as they are), some any text (written again by putCell) in between.
        caseOf(40).map((c) => ({ ...c, ids: c.ids.map((id, i) => (i % 3 === 2 ? id : String(1_000_000 + i * 13))) })),
        fc.integer({ min: 0, max: 7 }),
        (c, shift) => {
          // Each flag column inside a larger buffer, so the four-at-a-time or finds it unaligned as well as aligned.
          const flags = c.ev.flags.map((f, j) => {
            const at = (shift + j) % 8;
            const backing = new Uint8Array(f.length + 16).fill(1);
            backing.set(f, at);
            return backing.subarray(at, at + f.length);
          });
          const viewed = { ...c, ev: { ...c.ev, flags } };
          expect(csvBytes(TextColumn.from(c.ids), viewed.ev, c.s).toString('utf8')).toBe(referenceCsv(c));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('the score files from their two parts', () => {
  it("when the rules' columns go first and their flags' keys are made then the scores after give the same bytes", () => {
    fc.assert(
      fc.property(caseOf(30), (c) => {
        const ids = TextColumn.from(c.ids);
        const place = { dir: '/nowhere', fileMode: 0o600, directWrites: false };
        const rules = toRulesPart(place, ids, c.ev);
        const keys = flagKeys(rules.flags, rules.n);
        const back = fromWorkerInput({ ...rules, ...toScoresPart(c.s) });
        expect(csvBytes(back.ids, back.ev, back.s, keys).toString('utf8')).toBe(referenceCsv(c));
      }),
      { numRuns: 100 },
    );
  });
});

describe('scores.arrow from columns', () => {
  it('when any ids and columns are written then the file equals the one built from strings', () => {
    fc.assert(
      fc.property(caseOf(20), (c) => {
        expect(Buffer.from(scoresArrow(TextColumn.from(c.ids), c.ev, c.s)).equals(Buffer.from(referenceArrow(c)))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('when the file is written piece by piece then no piece is the whole file and the pieces join into the same bytes', () => {
    const n = 5_000;
    const c = largeCase(n, 3);
    const pieces: Buffer[] = [];
    writeScoresArrow((p) => pieces.push(Buffer.from(p)), TextColumn.from(c.ids), c.ev, c.s);
    const whole = Buffer.concat(pieces);
    expect(whole.equals(Buffer.from(referenceArrow(c)))).toBe(true);
    // The largest piece is one column's buffer (the ids' bytes, or a Float64 column), not the file.
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(n * 8);
  });

  it('when the id column is a view into larger buffers then the file is the same', () => {
    fc.assert(
      fc.property(caseOf(10), fc.string({ maxLength: 5 }), (c, before) => {
        const plain = TextColumn.from(c.ids);
        // The same values behind some other text, with spare offsets and bytes at the end.
        const lead = Buffer.from(before, 'utf8');
        const bytes = new Uint8Array(lead.length + plain.bytes.length + 9);
        bytes.set(lead);
        bytes.set(plain.bytes, lead.length);
        const offsets = new Int32Array(plain.length + 4);
        for (let i = 0; i <= plain.length; i++) offsets[i] = plain.offsets[i]! + lead.length;
        const view = new TextColumn(bytes, offsets, plain.length);
        const want = Buffer.from(referenceArrow(c));
        expect(Buffer.from(scoresArrow(view, c.ev, c.s)).equals(want)).toBe(true);
        expect(csvBytes(view, c.ev, c.s).toString('utf8')).toBe(referenceCsv(c));
        // What the worker gets: its own compact copy, giving the same files.
        const back = fromWorkerInput(toWorkerInput({ dir: '/nowhere', fileMode: 0o600, directWrites: false }, view, c.ev, c.s));
        expect(back.ids.toArray()).toEqual(c.ids);
        expect(Buffer.from(scoresArrow(back.ids, back.ev, back.s)).equals(want)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

describe('the columns the score-files worker gets', () => {
  it('when the evaluation and the scores hand over their columns then the worker reads them where they are, uncopied', () => {
    const pack = parseRulePack(
      'pack: t\nvalue: amount(M0)\ntiers: { high: 60, mid: 30 }\nrules:\n  - { id: r1, when: "amount(M0) > 1", weight: 0.5, action: call }\n',
      'p.yaml',
    );
    const n = 4;
    const ids = TextColumn.from(['a', 'b', 'c', 'd']);
    // amount(M0) for the rule and the value; every other feature (the exclusion's status) 0.
    const columns = new Map(
      [...requiredFeatures(pack).keys()].map((k): [string, FeatureColumn] => [
        k,
        k.startsWith('amount') ? { values: Int32Array.of(0, 200, 7000, 4000), unit: 100 } : new Uint8Array(n),
      ]),
    );
    const table = { n, columns };
    const ev = evaluate(pack, table, 20_000);
    const s = score(pack, ev, ids);
    const w = toWorkerInput({ dir: '/nowhere', fileMode: 0o600, directWrites: false }, ids, ev, s);
    // Made in shared memory, so handed over as they are: no second copy at the run's peak.
    expect(w.value).toBe(ev.value);
    expect(w.flags[0]).toBe(ev.flags[0]);
    expect(w.risk).toBe(s.risk);
    expect(w.expectedLoss).toBe(s.expectedLoss);
    expect(w.tier).toBe(s.tier);
    expect([...w.tier].map((t) => TIERS[t])).toEqual(['mass', 'mass', 'high', 'mid']);
    // Ids from a plain column are copied into shared memory; ids made there (as subscribers.csv's are) go over as they are.
    expect(w.idBytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    const b = new TextColumnBuilder(4, 16, true);
    for (const id of ['a', 'b', 'c', 'd']) b.pushString(id);
    const sharedIds = b.finish();
    const w2 = toWorkerInput({ dir: '/nowhere', fileMode: 0o600, directWrites: false }, sharedIds, ev, s);
    expect(w2.idBytes.buffer).toBe(sharedIds.bytes.buffer);
    expect(w2.idOffsets.buffer).toBe(sharedIds.offsets.buffer);
    expect(fromWorkerInput(w2).ids.toArray()).toEqual(['a', 'b', 'c', 'd']);
  });

  it("when a scorecard's steps are flagged then their bins go over uncopied, and the worker reads the same flags off them", () => {
    const pack = parseRulePack(
      [
        'pack: t',
        'value: amount(M0)',
        'tiers: { high: 60, mid: 30 }',
        'score: logistic',
        'intercept: -1',
        'flag_risk: 0.1',
        'rules:',
        '  - { id: r1, when: "amount(M0) > 1", points: 0.5, action: call }',
        'scorecard:',
        '  - id: bill',
        '    measure: amount(M0)',
        '    action: call',
        '    steps:',
        '      - { below: 10, points: -0.5 }',
        '      - { from: 10, below: 50, points: 0.4 }',
        '      - { from: 50, points: 0.7 }',
        '',
      ].join('\n'),
      'p.yaml',
    );
    const n = 4;
    const columns = new Map(
      [...requiredFeatures(pack).keys()].map((k): [string, FeatureColumn] => [
        k,
        k.startsWith('amount') ? { values: Int32Array.of(0, 2000, 7000, 4000), unit: 100 } : new Uint8Array(n),
      ]),
    );
    const ev = evaluate(pack, { n, columns }, 20_000);
    const ids = TextColumn.from(['a', 'b', 'c', 'd']);
    const w = toWorkerInput({ dir: '/nowhere', fileMode: 0o600, directWrites: false }, ids, ev, score(pack, ev, ids));
    expect(ev.ruleIds).toEqual(['r1', 'bill_1', 'bill_2', 'bill_3']);
    expect(ev.flags.map((f) => [...f])).toEqual([
      [0, 1, 1, 1],
      [1, 0, 0, 0],
      [0, 1, 0, 1],
      [0, 0, 1, 0],
    ]);
    // The rule's own column goes over as it is; the steps' columns are not made for the worker: it gets their bins.
    expect(w.flags[0]).toBe(ev.flags[0]);
    expect(w.flags.slice(1)).toEqual([null, null, null]);
    expect(w.bins.map((b) => [b.first, b.steps])).toEqual([[1, 3]]);
    expect(w.bins[0]!.bin).toBe(ev.bins![0]!.bin);
    expect(fromWorkerInput(w).ev.flags.map((f) => [...f])).toEqual(ev.flags.map((f) => [...f]));
  });
});
