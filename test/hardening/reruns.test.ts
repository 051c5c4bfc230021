/**
 * Promise 2, idempotent reruns: the same inputs, rule pack and --as-of give
 * byte-identical task files, scores, rejects and manifest (but for summary.json's
 * entry, whose only differences are its timings), whatever the wall clock and TZ say.
 * A published date is refused without --force (73) and replaced atomically with it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, cleanup, runCli } from '../helpers/world.js';
import { AS_OF, ensureBuilt, generate, runChild, summaryWithoutTimings, tempDir, verifyPublished, type Manifest } from './helpers.js';

const CLOCK_SHIFT = pathToFileURL(join(import.meta.dirname, 'clock-shift.mjs')).href;

let work: string;
beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('rerun');
}, 120_000);
afterAll(() => {
  if (work) cleanup(work);
});

function files(dir: string): Record<string, Buffer> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f))]),
  );
}

function manifestWithoutSummary(dir: string): unknown {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  return { ...m, outputs: m.outputs.filter((o) => o.file !== 'summary.json') };
}

describe('idempotent reruns', () => {
  it('when the same run is repeated under other time zones and wall clocks then every output but summary.json timings is byte-identical', async () => {
    const input = join(work, 'in');
    await generate(input, ['--subscribers', '3000', '--dirty', '0.003']);
    const setups = [
      { TZ: 'UTC', CW_CLOCK_SHIFT_MS: '0' },
      { TZ: 'Pacific/Kiritimati', CW_CLOCK_SHIFT_MS: String((3 * 365 + 0.6) * 86_400_000) }, // UTC+14, three years on
      { TZ: 'America/Adak', CW_CLOCK_SHIFT_MS: String(-400.3 * 86_400_000) }, // UTC-10/-9, a year back
    ];
    const outs: string[] = [];
    for (const [k, env] of setups.entries()) {
      const out = join(work, `out-${k}`);
      const r = await runChild(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'warn'], {
        env,
        nodeArgs: ['--import', CLOCK_SHIFT],
      });
      expect([env.TZ, r.code, r.stderr]).toEqual([env.TZ, 0, '']);
      outs.push(join(out, AS_OF));
    }
    const [a, ...rest] = outs.map((d) => files(d));
    const rejects = a!['rejects.csv']!.toString('utf8').trim().split('\n');
    expect(rejects.length).toBeGreaterThan(5); // the rejects path is part of what is compared
    for (const [k, b] of rest.entries()) {
      for (const f of Object.keys(a!)) {
        if (f === 'summary.json' || f === 'manifest.json') continue;
        expect([k, f, b[f]!.equals(a![f]!)]).toEqual([k, f, true]);
      }
      expect(Object.keys(b).sort()).toEqual(Object.keys(a!).sort());
      expect(manifestWithoutSummary(outs[k + 1]!)).toEqual(manifestWithoutSummary(outs[0]!));
      expect(summaryWithoutTimings(outs[k + 1]!)).toEqual(summaryWithoutTimings(outs[0]!));
    }
    // The manifest holds no time and no path: its text differs from run to run only in summary.json's entry.
    const strip = (d: string) =>
      readFileSync(join(d, 'manifest.json'), 'utf8').replace(
        /("file": "summary\.json",\s*"bytes": )\d+,(\s*"sha256": )"[0-9a-f]+"/,
        '$1N,$2"H"',
      );
    expect(strip(outs[1]!)).toBe(strip(outs[0]!));
    expect(strip(outs[2]!)).toBe(strip(outs[0]!));
    const summary = JSON.parse(readFileSync(join(outs[0]!, 'summary.json'), 'utf8'));
    expect(Object.keys(summary.timings_ms)).toEqual(['ingest', 'gates', 'features', 'rules', 'score', 'policy', 'write']);
  }, 60_000);

  it('when the date is already published then a rerun without --force exits 73 and leaves it untouched', async () => {
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    const dir = w.write();
    try {
      const first = await w.run([], dir);
      expect(first.code).toBe(0);
      const before = files(first.published);
      const mtime = statSync(join(first.published, 'manifest.json')).mtimeMs;
      const again = await w.run([], dir);
      expect(again.code).toBe(73);
      expect(again.stderr).toContain('already published; rerun with --force');
      expect(again.stderr).toContain('[CW_OUTPUT_EXISTS]');
      expect(files(first.published)).toEqual(before);
      expect(statSync(join(first.published, 'manifest.json')).mtimeMs).toBe(mtime);
      expect(readdirSync(first.outDir).sort()).toEqual([AS_OF]);
      const forced = await w.run(['--force'], dir);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toBe('');
      expect(readdirSync(first.outDir).sort()).toEqual([AS_OF]);
    } finally {
      cleanup(dir);
    }
  });

  it('when --force replaces a date over and over then a reader polling the folder never sees a file that disagrees with the manifest beside it', async () => {
    const worlds = ['80.00', '20.00'].map((amount) => {
      const w = new World(AS_OF);
      for (let s = 0; s < 40; s++) w.sub(`U${s}`, { status: 'suspended_arrears' }).bills(`U${s}`, [amount, amount, amount, amount]);
      return w.write();
    });
    const out = join(work, 'force-out');
    const stop = join(work, 'stop-watch');
    const date = join(out, AS_OF);
    // A separate process, so that it really runs while the commit does.
    const watcher = spawn(process.execPath, ['-e', WATCHER, date, stop], { stdio: ['ignore', 'pipe', 'inherit'] });
    let report = '';
    let ready: () => void;
    const isReady = new Promise<void>((res) => {
      ready = res;
    });
    watcher.stdout.setEncoding('utf8').on('data', (s: string) => {
      report += s;
      if (report.startsWith('ready\n')) ready();
    });
    const done = new Promise((res) => watcher.on('close', res));
    await isReady;
    try {
      const versions = new Set<string>();
      for (let k = 0; k < 16; k++) {
        const r = await runCli(worlds[k % 2]!, AS_OF, ['--force'], out);
        expect(r.code).toBe(0);
        versions.add(verifyPublished(date).outputs.find((o) => o.file === 'tasks-high-call.csv')?.sha256 ?? 'none');
        await new Promise((res) => setTimeout(res, 15));
      }
      expect(versions.size).toBe(2);
    } finally {
      writeFileSync(stop, '');
      await done;
      for (const d of worlds) cleanup(d);
    }
    const seen = JSON.parse(report.slice('ready\n'.length)) as { complete: number; absent: number; torn: number; violations: string[] };
    expect(seen.violations).toEqual([]);
    expect(seen.complete).toBeGreaterThan(10);
    expect(readdirSync(out).sort()).toEqual([AS_OF]);
  }, 60_000);
});

/** Polls a published folder until the stop file appears; prints what it saw. */
const WATCHER = `
const { readFileSync, existsSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { join } = require('node:path');
const [dir, stop] = process.argv.slice(1);
const seen = { complete: 0, absent: 0, torn: 0, violations: [] };
const read = (p) => { try { return readFileSync(p); } catch { return undefined; } };
process.stdout.write('ready\\n');
while (!existsSync(stop)) {
  const m1 = read(join(dir, 'manifest.json'));
  if (m1 === undefined) { seen.absent++; continue; }
  const m = JSON.parse(m1.toString('utf8'));
  const bad = [];
  for (const o of m.outputs) {
    const b = read(join(dir, o.file));
    if (b === undefined || b.length !== o.bytes || createHash('sha256').update(b).digest('hex') !== o.sha256) bad.push(o.file);
  }
  const m2 = read(join(dir, 'manifest.json'));
  // The folder was swapped while this reader was in it: what it read spans two versions by its own doing.
  if (m2 === undefined || !m2.equals(m1)) { seen.torn++; continue; }
  if (bad.length) seen.violations.push(bad.join(','));
  else seen.complete++;
}
process.stdout.write(JSON.stringify(seen));
`;
