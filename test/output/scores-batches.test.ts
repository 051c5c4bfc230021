/**
 * A scorecard's step columns are not held whole: the score files read them off their
 * measures' bins. scores.csv's flag combinations must be the ones the columns give, and
 * scores.arrow must hold the same table whether it is one record batch or many (a run
 * of more than ARROW_BATCH_ROWS subscribers), and be the same bytes as the file written
 * from the columns when it is one.
 */
import { tableFromIPC } from 'apache-arrow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stepSources, withStepColumns, type StepBins } from '../../src/evaluate/step-columns.js';
import type { ChunkedFile } from '../../src/output/publish.js';
import type { MeasureColumn } from '../../src/output/scores-protocol.js';
import { flagKeys, scoresArrow, writeScoresCsv, type ScoreRules, type ScoreValues } from '../../src/output/scores.js';
import { TextColumn } from '../../src/util/text-column.js';

interface Case {
  n: number;
  ids: TextColumn;
  plain: Uint8Array[];
  bins: StepBins[];
  /** Every rule's column as it would be held whole: the plain ones, then each measure's steps. */
  columns: Uint8Array[];
  s: ScoreValues;
  value: Float64Array;
  measures: MeasureColumn[];
}

const caseOf = caseOfSize(1, 90);

function caseOfSize(min: number, max: number): fc.Arbitrary<Case> {
  return fc
    .record({
      n: fc.integer({ min, max }),
      plainRules: fc.integer({ min: 0, max: 10 }),
      stepsPerMeasure: fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
      seed: fc.integer(),
    })
    .map(({ n, plainRules, stepsPerMeasure, seed }): Case => {
      let state = seed >>> 0 || 1;
      const rand = () => {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        return (state >>> 0) / 2 ** 32;
      };
      const plain = Array.from({ length: plainRules }, () => Uint8Array.from({ length: n }, () => +(rand() < 0.3)));
      let first = plainRules;
      const bins = stepsPerMeasure.map((steps) => {
        const bin = Uint8Array.from({ length: n }, () => Math.floor(rand() * (steps + 1)));
        const hits = new Int32Array(steps + 1);
        for (const b of bin) hits[b]!++;
        const m = { first, steps, bin, hits };
        first += steps;
        return m;
      });
      const columns = [...plain, ...bins.flatMap((m) => Array.from({ length: m.steps }, (_, k) => m.bin.map((b) => +(b === k + 1))))];
      const value = Float64Array.from({ length: n }, () => (rand() < 0.1 ? Number.NaN : Math.round(rand() * 10000) / 100));
      const s: ScoreValues = {
        risk: Float64Array.from({ length: n }, rand),
        expectedLoss: Float64Array.from({ length: n }, () => rand() * 50),
        tier: Uint8Array.from({ length: n }, () => Math.floor(rand() * 3)),
      };
      const measures: MeasureColumn[] = [
        { name: 'amount_m0', kind: 'money', scale: 2, data: Float64Array.from(value) },
        {
          name: 'status',
          kind: 'enum',
          scale: 0,
          values: ['active', 'closed'],
          data: Uint8Array.from({ length: n }, () => [0, 1, 255][Math.floor(rand() * 3)]!),
        },
        {
          name: 'activation_date',
          kind: 'day',
          scale: 0,
          data: Float64Array.from({ length: n }, () => (rand() < 0.2 ? Number.NaN : 20_000 + Math.floor(rand() * 400))),
        },
      ];
      const ids = TextColumn.from(Array.from({ length: n }, (_, i) => (rand() < 0.1 ? `ü-${i}` : String(1_000_000 + i))));
      return { n, ids, plain, bins, columns, s, value, measures };
    });
}

/** What writeScoresCsv hands a file, in order, as one buffer. */
function csvBytes(c: Case, ev: ScoreRules, keys?: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  const file = { write: (t: string) => parts.push(Buffer.from(t, 'utf8')), writeBytes: (b: Uint8Array) => parts.push(Buffer.from(b)) };
  writeScoresCsv(file as unknown as ChunkedFile, c.ids, ev, c.s, c.measures, keys);
  return Buffer.concat(parts);
}

const ruleIds = (c: Case) => c.columns.map((_, j) => `rule_${j}`);

/** The rules as the evaluation holds them: steps read off their bins. */
function byBins(c: Case): ScoreRules {
  const flags = withStepColumns([...c.plain, ...c.columns.slice(c.plain.length).map(() => null)], stepSources(c.bins));
  return { ruleIds: ruleIds(c), flags, bins: c.bins, value: c.value };
}

/** The rules with every column held whole, as before steps were read off bins. */
function byColumns(c: Case): ScoreRules {
  return { ruleIds: ruleIds(c), flags: c.columns, value: c.value };
}

describe('score files from a scorecard’s bins', () => {
  it('when steps are read off their bins then the flag combinations are those of the columns', () => {
    fc.assert(
      fc.property(caseOf, (c) => {
        const ev = byBins(c);
        const fromBins = flagKeys([...c.plain, ...c.columns.slice(c.plain.length).map(() => null)], c.n, c.bins);
        expect(fromBins).toEqual(flagKeys(c.columns, c.n));
        expect(flagKeys(ev.flags, c.n, ev.bins)).toEqual(fromBins);
        // And a step's column, when read, is its bin's.
        ev.flags.forEach((f, j) => expect([...f]).toEqual([...c.columns[j]!]));
      }),
      { numRuns: 150 },
    );
  });

  it('when scores.csv makes the flag combinations as it goes, over several blocks of rows, then it is the file made with them ahead', () => {
    fc.assert(
      fc.property(caseOfSize(65_530, 140_000), (c) => {
        const ahead = csvBytes(c, byColumns(c), flagKeys(c.columns, c.n));
        expect(csvBytes(c, byBins(c)).equals(ahead)).toBe(true);
        expect(csvBytes(c, byColumns(c)).equals(ahead)).toBe(true);
      }),
      { numRuns: 4 },
    );
  });

  it('when the rows fit one record batch then scores.arrow is the bytes written from the columns', () => {
    fc.assert(
      fc.property(caseOf, (c) => {
        const whole = scoresArrow(c.ids, byColumns(c), c.s, c.measures);
        expect(Buffer.from(scoresArrow(c.ids, byBins(c), c.s, c.measures)).equals(Buffer.from(whole))).toBe(true);
        expect(
          Buffer.from(scoresArrow(c.ids, byBins(c), c.s, c.measures, { oneBatchRows: c.n, batchRows: 1 })).equals(Buffer.from(whole)),
        ).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('when the rows take several record batches then the table read back is the same, cell by cell', () => {
    fc.assert(
      fc.property(caseOf, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 40 }), (c, oneBatchRows, batchRows) => {
        const whole = tableFromIPC(scoresArrow(c.ids, byColumns(c), c.s, c.measures));
        const batched = tableFromIPC(scoresArrow(c.ids, byBins(c), c.s, c.measures, { oneBatchRows, batchRows }));
        expect(batched.batches.length).toBe(c.n <= oneBatchRows ? 1 : Math.ceil(c.n / batchRows));
        expect(batched.schema.fields.map((f) => [f.name, String(f.type), f.nullable])).toEqual(
          whole.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
        );
        expect(batched.numRows).toBe(c.n);
        for (const f of whole.schema.fields) {
          const want = [...whole.getChild(f.name)!].map(String);
          expect([...batched.getChild(f.name)!].map(String), f.name).toEqual(want);
        }
      }),
      { numRuns: 60 },
    );
  });
});
