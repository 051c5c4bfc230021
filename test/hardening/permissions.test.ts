/**
 * Promise 10, permissions: output files are created 0600 and folders 0700 (or the
 * configured modes), whatever the umask: the published folder, the folders the run
 * creates for --out, and the failed-run report.
 */
import { appendFileSync, mkdirSync, chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, cleanup } from '../helpers/world.js';
import { AS_OF, ensureBuilt, runChild, tempDir } from './helpers.js';

let work: string;
let input: string;
beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('perm');
  const w = new World(AS_OF);
  w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
  input = join(work, 'in');
  mkdirSync(input);
  w.write(input);
}, 120_000);
afterAll(() => {
  if (work) cleanup(work);
});

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

/** Mode of every entry under `dir` (relative path → mode). */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': mode(dir) };
  for (const f of readdirSync(dir, { recursive: true }).map(String)) out[f] = mode(join(dir, f));
  return out;
}

describe('modes of what a run creates', () => {
  it.each(['000', '022', '077', '277'])('when the umask is %s then files are 0600 and folders 0700', async (umask) => {
    const out = join(work, `u${umask}`, 'nested', 'out');
    const r = await runChild(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'silent'], { umask });
    expect(r.code).toBe(0);
    // The folders the run had to create for --out.
    expect([mode(join(work, `u${umask}`)), mode(join(work, `u${umask}`, 'nested')), mode(out)]).toEqual(['0700', '0700', '0700']);
    const m = modes(join(out, AS_OF));
    expect(Object.keys(m).length).toBe(29); // the folder and 28 files: 9 task files (tier × channel) and their deltas, scores x2, rejects, suppressed, holdout, overflow, ledger, summary, report, manifest
    for (const [f, v] of Object.entries(m)) expect([f, v]).toEqual([f, f === '.' ? '0700' : '0600']);
  });

  it('when the run fails then the failed-run report has the same modes', async () => {
    const bad = join(work, 'bad-in');
    mkdirSync(bad);
    const w = new World(AS_OF);
    w.write(bad);
    appendFileSync(join(bad, 'billing_monthly.csv'), 'NOBODY,2026-10,1.00,,\n'.repeat(5));
    const out = join(work, 'failed-out');
    const r = await runChild(['run', '--input', bad, '--out', out, '--as-of', AS_OF, '--log-level', 'silent'], { umask: '000' });
    expect(r.code).toBe(65);
    expect(modes(join(out, 'failed'))).toEqual({
      '.': '0700',
      [AS_OF]: '0700',
      [`${AS_OF}/failure.json`]: '0600',
      [`${AS_OF}/rejects.csv`]: '0600',
    });
  });

  it('when the configuration asks for other modes then exactly those are used, and an existing --out keeps its own', async () => {
    const out = join(work, 'configured');
    mkdirSync(out);
    chmodSync(out, 0o755);
    const config = join(work, 'modes.yaml');
    writeFileSync(config, 'output:\n  file_mode: "0640"\n  dir_mode: "0750"\n');
    const r = await runChild(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--config', config, '--log-level', 'silent'], {
      umask: '077',
    });
    expect(r.code).toBe(0);
    expect(mode(out)).toBe('0755');
    for (const [f, v] of Object.entries(modes(join(out, AS_OF)))) expect([f, v]).toEqual([f, f === '.' ? '0750' : '0640']);
  });
});
