/**
 * churnwatch calibrate on generated extracts whose labels come from the generator's
 * planted churn process (src/generate/generate.ts PLANTED_CHURN): the calibrated
 * pack beats the default one on the held-out part, its points point the planted way,
 * two runs write the same bytes, and a fit no better than the old pack is refused.
 * Then the calibrated pack at work: explain's terms sum to the logit of every
 * subscriber, tasks name the terms that raised the score most, ranking: risk orders
 * the tasks by risk.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRulePack } from '../../src/config/rulepack.js';
import { cli } from '../helpers/cli.js';

const AS_OF = '2026-11-23';
const tmp = mkdtempSync(join(tmpdir(), 'cw-calibrate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const input = join(tmp, 'in');
const labels = join(input, 'labels.csv');

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r.out;
}

const calibrateArgs = (out: string, extra: string[] = []) => [
  'calibrate',
  '--input',
  input,
  '--labels',
  labels,
  '--as-of',
  AS_OF,
  '--out',
  out,
  '--measures',
  'D - activation_date',
  ...extra,
];

/** held-out figures as calibrate prints them: [old, new]. */
function figures(out: string, row: string): [number, number] {
  const line = out.split('\n').find((l) => l.startsWith(row))!;
  const [a, b] = line.slice(row.length).trim().split(/\s+/);
  return [Number.parseFloat(a!), Number.parseFloat(b!)];
}

let printed = '';
let packFile = '';

beforeAll(async () => {
  await ok(['generate', '--subscribers', '6000', '--out', input, '--as-of', AS_OF, '--seed', '21', '--labels']);
  packFile = join(tmp, 'calibrated.yaml');
  printed = await ok(calibrateArgs(packFile));
}, 120_000);

describe('churnwatch calibrate on labels of the planted churn process', () => {
  it('beats the default pack on the held-out part: higher top-decile lift and AUC', () => {
    const [oldLift, newLift] = figures(printed, 'top-decile lift');
    const [oldAuc, newAuc] = figures(printed, 'AUC');
    expect(newLift).toBeGreaterThan(oldLift);
    expect(newAuc).toBeGreaterThan(oldAuc);
    expect(printed).toContain(`wrote ${packFile}`);
  });

  it('writes a readable logistic pack: the old sections kept, a header and a fitted: record saying where the numbers came from', () => {
    const text = readFileSync(packFile, 'utf8');
    const pack = parseRulePack(text, packFile);
    const old = parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'default.yaml');
    expect(pack.score).toBe('logistic');
    expect([pack.tiers, pack.tasks, pack.policy, pack.channels, pack.locales, pack.value.expr]).toEqual([
      old.tiers,
      old.tasks,
      old.policy,
      old.channels,
      old.locales,
      old.value.expr,
    ]);
    expect(text.startsWith('# Calibrated scorecard, written by churnwatch')).toBe(true);
    expect(text).toMatch(/data sha256 [0-9a-f]{64}/);
    expect(pack.fitted).toMatchObject({ as_of: AS_OF, seed: '1', labelled: expect.any(Number), held_out: expect.any(Number) });
    expect(pack.scorecard.some((m) => m.measure === 'amount(M0) / amount(M1)')).toBe(true);
    // Every rule of the old pack is kept, with points instead of a weight.
    for (const r of old.rules) expect(pack.rules.find((p) => p.id === r.id)?.action).toBe(r.action);
    expect(text).not.toMatch(/^\s+weight:/m);
  });

  it('recovers the planted directions: a bill drop, a suspended line and a young line add points', () => {
    const pack = parseRulePack(readFileSync(packFile, 'utf8'), packFile);
    const points = (id: string) => pack.rules.find((r) => r.id === id)!.weight;
    // Planted: +3.0 × drop, +1.2 for arrears or hold.
    expect(points('arpu_drop_mom')).toBeGreaterThan(0.5);
    expect(points('arrears_suspended')).toBeGreaterThan(0.5);
    expect(points('number_hold')).toBeGreaterThan(0.5);
    // Planted: +0.8 under 365 days of tenure: the youngest step outscores the oldest.
    const age = pack.scorecard.find((m) => m.measure === 'D - activation_date')!;
    expect(age.steps[0]!.from).toBeNull();
    expect(age.steps[0]!.points).toBeGreaterThan(age.steps[age.steps.length - 1]!.points);
  });

  it('writes the same pack byte for byte from the same inputs', async () => {
    const again = join(tmp, 'again.yaml');
    await ok(calibrateArgs(again));
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(packFile, 'utf8'));
  });

  it("with --monotone, merges steps until every measure's points run one way", async () => {
    const mono = join(tmp, 'monotone.yaml');
    await ok(calibrateArgs(mono, ['--monotone']));
    const pack = parseRulePack(readFileSync(mono, 'utf8'), mono);
    const loose = parseRulePack(readFileSync(packFile, 'utf8'), packFile);
    const runsOneWay = (p: number[]) => p.every((x, k) => k === 0 || x >= p[k - 1]!) || p.every((x, k) => k === 0 || x <= p[k - 1]!);
    expect(pack.scorecard.length).toBeGreaterThan(3);
    for (const m of pack.scorecard) expect(runsOneWay(m.steps.map((s) => s.points))).toBe(true);
    expect(loose.scorecard.some((m) => !runsOneWay(m.steps.map((s) => s.points)))).toBe(true);
    expect(pack.fitted?.monotone).toBe('yes');
  });

  it('refuses, with exit 65 and nothing written, a pack worse than the old one on the held-out part, unless --force', async () => {
    // Labels independent of everything (every 7th subscriber): no fit can be better than
    // chance, and with this seed the new pack's held-out lift falls below the old one's.
    const rows = readFileSync(labels, 'utf8').trim().split('\n').slice(1);
    const noise = join(tmp, 'noise.csv');
    writeFileSync(noise, ['subscriber_id,churned', ...rows.map((r, k) => `${r.split(',')[0]},${k % 7 === 3 ? 1 : 0}`)].join('\n') + '\n');
    const out = join(tmp, 'worse.yaml');
    const args = ['calibrate', '--input', input, '--labels', noise, '--as-of', AS_OF, '--out', out, '--seed', '3'];
    const r = await cli(args);
    const [oldLift, newLift] = figures(r.out, 'top-decile lift');
    expect(newLift).toBeLessThan(oldLift);
    expect(r.code).toBe(65);
    expect(r.err).toMatch(/worse than .* on the held-out part .*--force.*\[CW_CALIBRATE_WORSE\]/);
    expect(existsSync(out)).toBe(false);
    expect((await cli([...args, '--force'])).code).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('refuses --out naming the pack it starts from (64) and a listed measure that is not a number expression (78)', async () => {
    expect((await cli(calibrateArgs(join(tmp, 'x.yaml'), ['--rules', packFile, '--out', packFile]))).code).toBe(64);
    const r = await cli(calibrateArgs(join(tmp, 'y.yaml'), ['--measures', "status == 'active'"]));
    expect(r.code).toBe(78);
    expect(r.err).toContain('[CW_RULE_EXPRESSION]');
  });
});

describe('a calibrated pack at work', () => {
  let out = '';
  let scores: Record<string, string>[] = [];
  beforeAll(async () => {
    out = join(tmp, 'out');
    await ok(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--rules', packFile, '--log-level', 'silent']);
    scores = parseCsv(readFileSync(join(out, AS_OF, 'scores.csv')), { columns: true }) as Record<string, string>[];
  }, 120_000);

  it("explain's terms sum to the logit for every subscriber, and σ(logit) is the published risk", async () => {
    const ids = join(tmp, 'ids.txt');
    writeFileSync(ids, scores.map((s) => s.subscriber_id).join('\n') + '\n');
    const r = await cli(['explain', '--input', input, '--as-of', AS_OF, '--rules', packFile, '--subscribers-file', ids, '--json']);
    expect(r.code).toBe(0);
    const es = JSON.parse(r.out) as {
      subscriber_id: string;
      excluded: boolean;
      risk_score: number;
      rules: { id: string; flagged: boolean; points: number }[];
      logit: { intercept: number; terms: { rule: string; points: number }[]; total: number };
    }[];
    const pack = parseRulePack(readFileSync(packFile, 'utf8'), packFile);
    expect(es).toHaveLength(scores.length);
    // Every subscriber's disagreements, collected and compared once: an expect per cell took seconds for 6,000.
    const wrong: string[] = [];
    es.forEach((e, k) => {
      const row = scores[k]!;
      const hit = e.rules.filter((x) => x.flagged);
      const say = (what: string) => wrong.push(`${e.subscriber_id}: ${what}`);
      if (e.logit.terms.map((t) => t.rule).join() !== hit.map((x) => x.id).join()) say('terms are not the rules hit');
      for (const x of hit) if (Number(row[x.id]) !== 1) say(`${x.id} hit in explain, not in scores.csv`);
      const sum = hit.reduce((s, x) => s + x.points, pack.intercept);
      if (!(Math.abs(e.logit.total - sum) < 5e-10)) say(`logit ${e.logit.total}, terms sum to ${sum}`);
      const risk = e.excluded ? 0 : 1 / (1 + Math.exp(-e.logit.total));
      if (Number(risk.toFixed(4)) !== e.risk_score) say(`risk ${e.risk_score}, σ(logit) ${risk}`);
      if (e.risk_score !== Number(row.risk_score)) say(`risk ${e.risk_score}, scores.csv ${row.risk_score}`);
    });
    expect(wrong).toEqual([]);
  }, 120_000);

  it('a task names at most three terms, those hit with the most positive points, most first in its reason text', () => {
    const pack = parseRulePack(readFileSync(packFile, 'utf8'), packFile);
    const byId = new Map(scores.map((s) => [s.subscriber_id!, s]));
    const order = pack.rules.map((r) => r.id);
    const tasks = parseCsv(readFileSync(join(out, AS_OF, 'tasks-mass-call.csv')), { columns: true }) as Record<string, string>[];
    expect(tasks.length).toBeGreaterThan(0);
    let manyHits = 0;
    for (const t of tasks.slice(0, 300)) {
      const row = byId.get(t.subscriber_id!)!;
      const hit = pack.rules.filter((r) => row[r.id] === '1');
      if (hit.length > 3) manyHits++;
      const top = hit
        .filter((r) => r.weight > 0)
        .sort((a, b) => b.weight - a.weight || order.indexOf(a.id) - order.indexOf(b.id))
        .slice(0, 3);
      expect(t.reason_codes!.split(';')).toEqual(order.filter((id) => top.some((r) => r.id === id)));
      const parts = t.reason_text!.split('; ');
      expect(parts).toHaveLength(top.length);
      top.forEach((r, k) => {
        const first = r.reason[0];
        expect(parts[k]!.startsWith(typeof first === 'string' ? first : '')).toBe(true);
      });
    }
    expect(manyHits).toBeGreaterThan(100); // the cut is not vacuous: most tasks hit more terms than they name
  });

  it('with ranking: risk, every task file is in risk order; with expected_loss it is not', async () => {
    const text = readFileSync(packFile, 'utf8').replace(/^ranking: expected_loss$/m, 'ranking: risk');
    const riskPack = join(tmp, 'risk.yaml');
    writeFileSync(riskPack, text);
    const riskOut = join(tmp, 'out-risk');
    await ok(['run', '--input', input, '--out', riskOut, '--as-of', AS_OF, '--rules', riskPack, '--log-level', 'silent']);
    const ordered = (dir: string) =>
      readdirSync(join(dir, AS_OF))
        .filter((f) => /^tasks-(high|mid|mass)-(call|sms|visit)\.csv$/.test(f))
        .every((f) => {
          const r = (parseCsv(readFileSync(join(dir, AS_OF, f)), { columns: true }) as Record<string, string>[]).map((t) =>
            Number(t.risk_score),
          );
          return r.every((v, k) => k === 0 || v <= r[k - 1]!);
        });
    expect(ordered(riskOut)).toBe(true);
    expect(ordered(out)).toBe(false);
  }, 120_000);
});
