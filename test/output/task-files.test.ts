/**
 * The plain task files with the task-files worker (compiled CLI,
 * CHURNWATCH_WRITE_PARALLEL=1: it writes the largest tier, and any other tier it is
 * free for first) are the publication the main thread writes alone, byte for byte: on
 * a first night (every delta a copy of its full file) and on a night that continues
 * the ledger (new, open and escalated tasks: the deltas written beside the full files),
 * in Chinese with masked names and numbers.
 * A tier the worker cannot write fails the run as it fails in the main thread: exit
 * 73, the same failure report, nothing published. The failure is a real one: a pack
 * that puts every task in the mass tier makes its files the largest outputs, and a
 * file-size limit (RLIMIT_FSIZE, set with prlimit) between them and every other output
 * stops only them.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup } from '../helpers/world.js';
import {
  AS_OF,
  ensureBuilt,
  failureReport,
  generate,
  reproducibleOutputs,
  runUnderLimit,
  summaryWithoutTimings,
  tempDir,
  verifyPublished,
  type ChildRun,
} from '../hardening/helpers.js';

const HAS_PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].some((p) => existsSync(p));
const NEXT_DAY = '2026-11-24';

/** Every subscriber flagged and in the mass tier: its call and SMS files are the largest outputs. */
const ALL_MASS = `pack: all-mass
value: amount(M0)
tiers: { high: 1000000000, mid: 999999999 }
rules:
  - id: any_bill
    when: "amount(M0) > -1000000000"
    weight: 0.5
    reason: "bill {amount(M0)} this month"
    action: call
`;

let work: string;
let first: string;
let second: string;

beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('task-files');
  first = join(work, 'in-1');
  second = join(work, 'in-2');
  // The second night's extracts differ (another seed): some tasks stay open, some are new or escalated.
  await generate(first, ['--subscribers', '4000', '--seed', '2']);
  await generate(second, ['--subscribers', '4000', '--seed', '3', '--as-of', NEXT_DAY]);
  writeFileSync(join(work, 'all-mass.yaml'), ALL_MASS);
  writeFileSync(join(work, 'zh-masked.yaml'), 'output:\n  locale: zh-CN\n  mask: true\n');
}, 120_000);

afterAll(() => {
  if (work) cleanup(work);
});

function run(input: string, out: string, asOf: string, parallel: '0' | '1', fsizeLimit?: number, extra: string[] = []): Promise<ChildRun> {
  const args = ['run', '--input', input, '--out', out, '--as-of', asOf, '--log-level', 'debug', ...extra];
  return runUnderLimit(args, { CHURNWATCH_WRITE_PARALLEL: parallel }, fsizeLimit);
}

/** Which thread wrote each tier's task files, as the log says. */
function writersOf(r: ChildRun): Record<string, string> | undefined {
  for (const line of r.stderr.split('\n')) {
    try {
      const j = JSON.parse(line) as { msg?: string; tiers?: Record<string, string> };
      if (j.msg === 'task files written') return j.tiers;
    } catch {
      /* not a log line */
    }
  }
  return undefined;
}

describe('plain task files on the task-files worker', () => {
  it('when the worker writes tiers then two nights publish the files the main thread writes alone, byte for byte', async () => {
    for (const parallel of ['1', '0'] as const) {
      const out = join(work, `nights-${parallel}`);
      const a = await run(first, out, AS_OF, parallel);
      // The second night in Chinese and masked: the worker compiles the localised reason texts itself.
      const b = await run(second, out, NEXT_DAY, parallel, undefined, ['--config', join(work, 'zh-masked.yaml')]);
      for (const r of [a, b]) expect([r.code, r.stderr.includes('"level":50')]).toEqual([0, false]);
      const writers = [writersOf(a), writersOf(b)];
      if (parallel === '1') for (const w of writers) expect(w?.mass).toBe('worker');
      else for (const w of writers) expect(w).toEqual({ high: 'main', mid: 'main', mass: 'main' });
    }
    for (const day of [AS_OF, NEXT_DAY]) {
      const w = verifyPublished(join(work, 'nights-1', day));
      const m = verifyPublished(join(work, 'nights-0', day));
      expect(w.outputs.map((o) => o.file)).toEqual(m.outputs.map((o) => o.file));
      expect(reproducibleOutputs(w)).toEqual(reproducibleOutputs(m));
      expect(summaryWithoutTimings(join(work, 'nights-1', day))).toEqual(summaryWithoutTimings(join(work, 'nights-0', day)));
    }
    // The second night's mass deltas were written beside their full files, not copied.
    const sizes = Object.fromEntries(verifyPublished(join(work, 'nights-1', NEXT_DAY)).outputs.map((o) => [o.file, o.bytes]));
    expect(sizes['tasks-mass-call-delta.csv']!).toBeLessThan(sizes['tasks-mass-call.csv']!);
    expect(sizes['tasks-mass-call-delta.csv']!).toBeGreaterThan(1000);
  }, 120_000);

  it.skipIf(!HAS_PRLIMIT)(
    'when the worker cannot write its tier then the run exits 73 as in the main thread and publishes nothing',
    async () => {
      const pack = ['--rules', join(work, 'all-mass.yaml')];
      const ok = await run(first, join(work, 'all-mass'), AS_OF, '1', undefined, pack);
      expect([ok.code, writersOf(ok)?.mass]).toEqual([0, 'worker']);
      const outputs = verifyPublished(join(work, 'all-mass', AS_OF)).outputs;
      const mass = Math.min(...outputs.filter((o) => /^tasks-mass-(call|sms)\.csv$/.test(o.file)).map((o) => o.bytes));
      const others = Math.max(...outputs.filter((o) => !o.file.startsWith('tasks-mass-')).map((o) => o.bytes));
      expect(mass).toBeGreaterThan(others + 1024);
      const limit = Math.floor((mass + others) / 2);
      const reports: Record<string, unknown>[] = [];
      for (const parallel of ['1', '0'] as const) {
        const out = join(work, `efbig-${parallel}`);
        const r = await run(first, out, AS_OF, parallel, limit, pack);
        expect([parallel, r.code]).toEqual([parallel, 73]);
        expect(r.stderr).toContain('CW_OUTPUT_UNWRITABLE');
        expect(readdirSync(out)).toEqual(['failed']);
        reports.push(failureReport(out));
      }
      expect(reports[0]).toEqual(reports[1]);
      expect(String(reports[0]!.file)).toMatch(/\/tasks-mass-call\.csv$/);
    },
    120_000,
  );
});
