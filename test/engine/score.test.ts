/**
 * The duckdb engine's rules and scores (DuckDbEngine.score through analyse's engine
 * hook) against the in-process stages on the same extracts: the same flags, value,
 * exclusion, risk, expected loss, tier, hits and rank for every subscriber, bit for
 * bit; and the measure features come back only for the subscribers a rule flags, with
 * the in-process values there. Scored in slices of 500 subscribers (the last one
 * shorter), so that the rows of several slices meet in one set of columns, and a pack
 * that tiers by rank is ranked over all of them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyse, type Analysis } from '../../src/analyse.js';
import { loadRulePack } from '../../src/config/rulepack.js';
import { DuckDbEngine } from '../../src/engine/duckdb.js';
import { plainColumn } from '../../src/rules/compile.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { parseDay } from '../../src/util/dates.js';
import { cli } from '../helpers/cli.js';
import { loadDuckDb } from '../sql/helpers.js';

const AS_OF = '2026-03-15';
const duckdb = await loadDuckDb();
const tmp = mkdtempSync(join(tmpdir(), 'cw-engine-score-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const pack = (name: string) => loadRulePack(fileURLToPath(new URL(name, import.meta.url)));

async function both(input: string, packFile: string, all: boolean): Promise<[Analysis, Analysis]> {
  const p = pack(packFile);
  const opts = defaultInputOptions(input);
  const local = await analyse(opts, parseDay(AS_OF), p);
  const engine = await DuckDbEngine.open(
    { memoryLimit: '1GB', threads: 1, tempDir: join(tmp, `e-${packFile.length}-${all}`), sliceRows: 500 },
    opts,
  );
  try {
    const remote = await analyse(opts, parseDay(AS_OF), p, {
      ingest: { readFacts: engine.readFacts.bind(engine) },
      engine: { score: engine.score.bind(engine), all },
    });
    return [local, remote];
  } finally {
    engine.close();
  }
}

const bits = (a: ArrayLike<number>) => Buffer.from(Float64Array.from(a).buffer);

describe.skipIf(duckdb === null)('DuckDbEngine.score against the in-process stages', () => {
  let input = '';
  beforeAll(async () => {
    input = join(tmp, 'in');
    const r = await cli(['generate', '--subscribers', '1200', '--out', input, '--as-of', AS_OF, '--seed', '3', '--dirty', '0.004']);
    expect(r.code).toBe(0);
  });

  for (const packFile of ['../../rules/default.yaml', '../sql/logistic-pack.yaml', '../sql/hand-pack.yaml'])
    it(`gives the same results, and the measures of the flagged subscribers only (${packFile.split('/').pop()})`, async () => {
      const [a, b] = await both(input, packFile, false);
      const n = a.extracts.subscribers.n;
      expect(b.evaluation.ruleIds).toEqual(a.evaluation.ruleIds);
      a.evaluation.flags.forEach((f, j) => expect(Buffer.from(b.evaluation.flags[j]!), a.evaluation.ruleIds[j]).toEqual(Buffer.from(f)));
      (b.evaluation.named ?? []).forEach((f, j) => expect(Buffer.from(f)).toEqual(Buffer.from(a.evaluation.named![j]!)));
      expect(Buffer.from(b.evaluation.excluded)).toEqual(Buffer.from(a.evaluation.excluded));
      expect(bits(b.evaluation.value)).toEqual(bits(a.evaluation.value));
      for (const k of ['risk', 'expectedLoss', 'rank'] as const) expect(bits(b.scores[k]), k).toEqual(bits(a.scores[k]));
      expect(Buffer.from(b.scores.tier)).toEqual(Buffer.from(a.scores.tier));
      expect(Buffer.from(b.scores.hits)).toEqual(Buffer.from(a.scores.hits));

      const rows = b.table.rows!;
      expect(rows).toBeDefined();
      const flagged = [...Array(n).keys()].filter((i) => a.evaluation.flags.some((f) => f[i]));
      expect(flagged.length).toBeGreaterThan(0);
      expect(flagged.length).toBeLessThan(n);
      expect(b.table.n).toBe(flagged.length);
      expect([...Array(n).keys()].filter((i) => rows[i]! >= 0)).toEqual(flagged);
      for (const [key, scaled] of a.table.columns) {
        const col = plainColumn(scaled);
        const mine = plainColumn(b.table.columns.get(key)!);
        expect(mine.length, key).toBe(flagged.length);
        expect(bits(flagged.map((i) => col[i]!)), key).toEqual(bits(flagged.map((i) => mine[rows[i]!]!)));
      }
    });

  it('brings back every subscriber’s measures when asked (--with-measures)', async () => {
    const [a, b] = await both(input, '../../rules/default.yaml', true);
    expect(b.table.rows).toBeUndefined();
    for (const [key, col] of a.table.columns) expect(bits(plainColumn(b.table.columns.get(key)!)), key).toEqual(bits(plainColumn(col)));
  });
});
