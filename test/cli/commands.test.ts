/**
 * The command line as a user meets it: help on every command, the version, rule
 * pack checking, and the generator's determinism through the CLI.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { VERSION } from '../../src/version.js';
import { cleanup } from '../helpers/world.js';

async function cli(args: string[]) {
  let out = '', err = '';
  const code = await main(args, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

describe('churnwatch CLI', () => {
  it('when --version is asked then it prints the version and exits 0', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(VERSION);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).version).toBe(VERSION);
  });

  it.each([[[]], [['run']], [['generate']], [['rules']], [['rules', 'check']]])('when --help is asked of %j then it exits 0 with usage text', async (cmd) => {
    const r = await cli([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: churnwatch');
  });

  it('when a required option is missing then it exits 64', async () => {
    const r = await cli(['run', '--input', 'x']);
    expect(r.code).toBe(64);
    expect(r.err).toContain("required option '--out <dir>' not specified");
  });

  it('when --as-of is not a date then it exits 64', async () => {
    const r = await cli(['run', '--input', 'x', '--out', 'y', '--as-of', '2026-02-30']);
    expect(r.code).toBe(64);
    expect(r.err).toContain('expected a date YYYY-MM-DD');
  });

  it('when an unknown command is given then it exits 64', async () => {
    expect((await cli(['frobnicate'])).code).toBe(64);
  });

  it('when the default rule pack is checked then it lists every rule with what it reads', async () => {
    const r = await cli(['rules', 'check']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('rule pack default v1');
    expect(r.out).toContain('12 rules, 12 enabled');
    expect(r.out).toContain('arpu_drop_mom: Bill dropped month over month');
    expect(r.out).toContain('reads: amount(M1), amount(M0) (from billing_monthly)');
    expect(r.out).toContain("reads: tickets('complaint', -90, -1), tickets('fault', -90, -1) (from tickets)");
    expect(r.out).toContain('extracts needed: subscribers, billing_monthly, usage_daily, tickets, contracts');
  });

  it('when a broken rule pack is checked then it exits 78 and points at the mistake', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-cli-'));
    dirs.push(dir);
    const pack = readFileSync('rules/default.yaml', 'utf8').replace('amount(M1) >= 10 and', 'amount(M1) >= 10 and and');
    writeFileSync(join(dir, 'bad.yaml'), pack);
    const r = await cli(['rules', 'check', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(78);
    expect(r.err).toContain('rule arpu_drop_mom.when');
    expect(r.err).toContain('^');
  });

  it('when a rule pack file does not exist then it exits 66', async () => {
    expect((await cli(['rules', 'check', '/nonexistent/pack.yaml'])).code).toBe(66);
  });

  it('when generate runs twice with one seed then the files are byte-identical, and differ with another seed', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cw-gen-'));
    dirs.push(base);
    const digest = (d: string) => Object.fromEntries(readdirSync(d).sort().map((f) => [f, createHash('sha256').update(readFileSync(join(d, f))).digest('hex')]));
    for (const [name, seed] of [['a', '5'], ['b', '5'], ['c', '6']]) {
      const r = await cli(['generate', '--subscribers', '300', '--seed', seed!, '--out', join(base, name!), '--as-of', '2026-11-23']);
      expect(r.code).toBe(0);
      expect(r.out).toContain('subscribers.csv\t300 rows');
    }
    expect(digest(join(base, 'a'))).toEqual(digest(join(base, 'b')));
    expect(digest(join(base, 'a'))['billing_monthly.csv']).not.toBe(digest(join(base, 'c'))['billing_monthly.csv']);
  });
});
