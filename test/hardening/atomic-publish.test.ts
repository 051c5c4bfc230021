/**
 * Promise 1, atomic publish: a run killed with SIGKILL at any point leaves either no
 * publication or a complete one at OUTDIR/<date>, never a partial file where an
 * importer looks, and the rerun succeeds and cleans up after it.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, cleanup, runCli } from '../helpers/world.js';
import {
  AS_OF,
  collect,
  ensureBuilt,
  generate,
  reproducibleOutputs,
  runChild,
  runInProcess,
  spawnCli,
  tempDir,
  verifyPublished,
  type Manifest,
} from './helpers.js';

const SUBSCRIBERS = '20000';

let work: string;
let input: string;
let fresh: Manifest; // what a complete run of the compiled CLI on `input` publishes
let freshInProcess: Manifest; // the same run in-process, what the reruns must publish
let previous: Manifest; // an earlier, different publication of the same date
let previousDir: string;

beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('kill');
  input = join(work, 'in');
  await generate(input, ['--subscribers', SUBSCRIBERS]);
  const r = await runChild(['run', '--input', input, '--out', join(work, 'ref'), '--as-of', AS_OF]);
  expect(r.stderr.split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);
  expect(r.code).toBe(0);
  fresh = verifyPublished(join(work, 'ref', AS_OF));
  // The reruns after each kill run in-process (only the killed runs need a process of their own), so they
  // have their own reference: report.html embeds its script's source text, which vitest's transform of src
  // words differently from the compiled CLI.
  const h = await runInProcess(['run', '--input', input, '--out', join(work, 'ref-here'), '--as-of', AS_OF]);
  expect([h.code, h.stderr.includes('"level":50')]).toEqual([0, false]);
  freshInProcess = verifyPublished(join(work, 'ref-here', AS_OF));
  const oldInput = join(work, 'old-in');
  await generate(oldInput, ['--subscribers', '2000', '--seed', '7']);
  const o = await runInProcess(['run', '--input', oldInput, '--out', join(work, 'old'), '--as-of', AS_OF]);
  expect(o.code).toBe(0);
  previousDir = join(work, 'old', AS_OF);
  previous = verifyPublished(previousDir);
}, 120_000);

afterAll(() => {
  if (work) cleanup(work);
});

/** Where an importer looks: the non-hidden entries of OUTDIR. */
function visible(out: string): string[] {
  return existsSync(out)
    ? readdirSync(out)
        .filter((e) => !e.startsWith('.'))
        .sort()
    : [];
}

interface KillPoint {
  /** A log event ("msg" or "msg:stage") after which to kill, or 'spawn'. */
  at: string;
  delayMs: number;
  /** Whether an earlier publication of the date is in place (the run uses --force). */
  replacing: boolean;
}

// Spread over the whole run: start-up, lock, each read, computing, writing, the commit.
const POINTS: KillPoint[] = [
  { at: 'spawn', delayMs: 40, replacing: false },
  { at: 'lock taken', delayMs: 0, replacing: true },
  { at: 'stage start:read billing', delayMs: 0, replacing: false },
  { at: 'stage start:read usage', delayMs: 30, replacing: true },
  { at: 'stage done:score', delayMs: 0, replacing: true },
  { at: 'stage done:score', delayMs: 40, replacing: false },
  { at: 'stage done:write', delayMs: 0, replacing: true },
  { at: 'publishing', delayMs: 0, replacing: false },
  { at: 'publishing', delayMs: 0, replacing: true },
];

function eventOf(line: string): string | undefined {
  try {
    const j = JSON.parse(line) as { msg?: string; stage?: string };
    return j.stage ? `${j.msg}:${j.stage}` : j.msg;
  } catch {
    return undefined;
  }
}

describe('atomic publish under SIGKILL', () => {
  it('when a run is killed at any point then OUTDIR shows no publication or a complete one, and the rerun succeeds', async () => {
    const seen: string[] = [];
    for (const [k, p] of POINTS.entries()) {
      const out = join(work, `out-${k}`);
      if (p.replacing) {
        mkdirSync(out, { recursive: true });
        cpSync(previousDir, join(out, AS_OF), { recursive: true });
      }
      const args = ['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'debug', ...(p.replacing ? ['--force'] : [])];
      const child = spawnCli(args);
      let timer: NodeJS.Timeout | undefined;
      const kill = () => {
        timer = setTimeout(() => child.kill('SIGKILL'), p.delayMs);
      };
      if (p.at === 'spawn') kill();
      const run = await collect(child, (line) => {
        if (timer === undefined && eventOf(line) === p.at) kill();
      });
      clearTimeout(timer);
      const label = `${p.at}+${p.delayMs}ms${p.replacing ? ' (replacing)' : ''}`;

      // Right after the kill: only the date folder may be visible, and only complete.
      const shown = visible(out);
      expect([label, shown.filter((e) => e !== AS_OF)]).toEqual([label, []]);
      let state = 'nothing published';
      if (shown.includes(AS_OF)) {
        const m = verifyPublished(join(out, AS_OF));
        const outputs = reproducibleOutputs(m);
        if (JSON.stringify(outputs) === JSON.stringify(reproducibleOutputs(fresh))) state = 'new publication';
        else if (JSON.stringify(outputs) === JSON.stringify(reproducibleOutputs(previous))) state = 'previous publication';
        else throw new Error(`${label}: a publication that is neither the previous nor the new one`);
      }
      seen.push(`${label}: ${run.signal ?? `exit ${run.code}`} after ${Math.round(run.ms)} ms, ${state}`);
      if (run.signal === null) expect([label, run.code]).toEqual([label, 0]);

      // The rerun succeeds, publishes the complete outputs and leaves nothing behind.
      const again = await runInProcess(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--force', '--log-level', 'warn']);
      expect([label, again.code, again.stderr.includes('"level":50')]).toEqual([label, 0, false]);
      const m = verifyPublished(join(out, AS_OF));
      expect(reproducibleOutputs(m)).toEqual(reproducibleOutputs(freshInProcess));
      expect([label, readdirSync(out).sort()]).toEqual([label, [AS_OF]]);
    }
    // Most of the runs must really have been killed, or the test proves little.
    expect(seen.filter((s) => s.includes('SIGKILL')).length, seen.join('\n')).toBeGreaterThanOrEqual(5);
  }, 120_000);
});

describe('leftovers of killed runs', () => {
  it('when a --force replacement was killed between its renames then the next run puts the previous publication back', async () => {
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    const dir = w.write();
    try {
      const first = await w.run([], dir);
      expect(first.code).toBe(0);
      // What a run killed after "rename the old folder aside" and before "rename the new one in" leaves:
      const out = first.outDir;
      cpSync(first.published, join(out, `.old-${AS_OF}-999999`), { recursive: true });
      cpSync(first.published, join(out, `.tmp-${AS_OF}-999999`), { recursive: true });
      writeFileSync(join(out, `.tmp-${AS_OF}-999999`, 'tasks-high-call.csv'), 'partial');
      const { rmSync } = await import('node:fs');
      rmSync(first.published, { recursive: true });
      // Without --force the restored publication is there, so the rerun refuses to replace it.
      const refused = await runCli(dir, AS_OF, []);
      expect(refused.code).toBe(73);
      expect(refused.stderr).toContain('already published');
      expect(verifyPublished(first.published).outputs.map((o) => o.file)).toContain('tasks-high-call.csv');
      expect(readFileSync(join(first.published, 'tasks-high-call.csv'), 'utf8')).toContain('U1');
      expect(readdirSync(out).sort()).toEqual([AS_OF]);
    } finally {
      cleanup(dir);
    }
  });
});
