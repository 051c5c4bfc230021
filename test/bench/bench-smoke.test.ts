/**
 * Smoke test of the benchmark harness (bench/bench.mjs) at a tiny size: it generates
 * extracts, runs churnwatch and the DuckDB SQL once each, and both sides (and the
 * independent JS reference) must flag the same subscribers. With --dialect all, every
 * export dialect is derived from the generated extracts in the shape it names, both
 * sides read it and agree, and churnwatch publishes the clean extracts' scores on it.
 * No timing is asserted:
 * the figures come from `npm run bench` and live in docs/performance.md.
 * Skipped, with a message, where @duckdb/node-api cannot load.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

let duckdbProblem: string | undefined;
try {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  (await DuckDBInstance.create(':memory:')).closeSync();
} catch (e) {
  duckdbProblem = e instanceof Error ? e.message : String(e);
  console.warn(`bench smoke test skipped: @duckdb/node-api cannot load here (${duckdbProblem})`);
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cw-bench-smoke-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** One run per side at 2,000 subscribers, on the extracts the first run generates. */
const benchAt2000 = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(
    process.execPath,
    ['bench/bench.mjs', '--subscribers', '2000', '--runs', '1', '--warmup', '0', '--data-dir', join(tmp, 'data'), ...args],
    { cwd: root, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 22, env: { ...process.env, ...env } },
  );

describe.skipIf(duckdbProblem !== undefined)('bench harness at 2,000 subscribers', () => {
  it('when it runs once per side then it completes and both sides flag the same subscribers', async () => {
    const { stdout } = await benchAt2000(['--reference', '--results-dir', join(tmp, 'results')]);
    expect(stdout).toContain('agreement: both sides give the same 12 flags and tier for all 2,000 subscribers');

    const files = readdirSync(join(tmp, 'results'));
    expect(files).toHaveLength(1);
    const r = JSON.parse(readFileSync(join(tmp, 'results', files[0]!), 'utf8'));
    expect(r.agreement).toMatchObject({
      agree: true,
      subscribers_churnwatch: 2000,
      subscribers_duckdb: 2000,
      unmatched_ids: 0,
      mismatched_subscribers: 0,
      tier_differs: 0,
    });
    expect(r.reference).toMatchObject({ churnwatch: { agrees: true }, duckdb: { agrees: true } });
    // Every rule is hit at this size, so the agreement is not the trivial all-zero one.
    for (const c of Object.values(r.agreement.per_rule) as { churnwatch: number; duckdb: number }[]) {
      expect(c.churnwatch).toBeGreaterThan(0);
      expect(c.duckdb).toBe(c.churnwatch);
    }
    expect(r.runs).toHaveLength(2);
    expect(Object.keys(r.churnwatch_stages_ms_median)).toContain('ingest');
    // Outputs are removed unless --keep; the extracts stay for reuse.
    expect(readdirSync(join(tmp, 'data')).sort()).toEqual(['2000-1']);
  }, 60_000);

  it('when it runs with --sql text, a switch and an allocator setting then DuckDB runs the all-text SQL, agrees, and the result says all three', async () => {
    const results = join(tmp, 'results-text');
    const tunables = 'glibc.malloc.trim_threshold=268435456';
    const { stdout } = await benchAt2000(['--sql', 'text', '--results-dir', results], {
      CHURNWATCH_DIRECT_WRITES: '0',
      GLIBC_TUNABLES: tunables,
    });
    expect(stdout).toContain('churnwatch run with CHURNWATCH_DIRECT_WRITES=0');
    expect(stdout).toMatch(new RegExp(`both sides run with (.* )?GLIBC_TUNABLES=${tunables.replaceAll('.', '\\.')}`));
    expect(stdout).toContain('agreement: both sides give the same 12 flags and tier for all 2,000 subscribers');
    expect(stdout).toMatch(/target 1M|text SQL/);
    const files = readdirSync(results);
    expect(files).toEqual([expect.stringMatching(/^2000-text-sql-\d{4}-\d{2}-\d{2}\.json$/)]);
    const r = JSON.parse(readFileSync(join(results, files[0]!), 'utf8'));
    expect(r.machine.duckdb_sql).toBe('bench/rules-text.sql');
    expect(r.options.sql).toBe('text');
    expect(r.command).toMatch(
      /(^|.* )GLIBC_TUNABLES=glibc\.malloc\.trim_threshold=268435456 (.* )?CHURNWATCH_DIRECT_WRITES=0 npm run bench -- .*--sql text/,
    );
    expect(r.churnwatch_switches).toEqual({ CHURNWATCH_DIRECT_WRITES: '0' });
    expect(r.runtime_settings.GLIBC_TUNABLES).toBe(tunables);
  }, 60_000);

  it('when it runs --pack calibrated then churnwatch runs a pack calibrated here, agrees on tier and value, and the result names the pack', async () => {
    const results = join(tmp, 'results-pack');
    const { stdout } = await benchAt2000(['--pack', 'calibrated', '--results-dir', results]);
    expect(stdout).toContain('churnwatch (pack calibrated) vs DuckDB');
    expect(stdout).toContain(
      "agreement (pack calibrated: its flags are its own rules, not the SQL's twelve, so tier and value are compared): both sides give the same tier and value for all 2,000 subscribers",
    );
    const files = readdirSync(results);
    expect(files).toEqual([expect.stringMatching(/^2000-pack-calibrated-\d{4}-\d{2}-\d{2}\.json$/)]);
    const r = JSON.parse(readFileSync(join(results, files[0]!), 'utf8'));
    const packFile = join(tmp, 'data', 'calibration-3000-1', 'calibrated.yaml');
    expect(r.pack).toMatchObject({ name: 'calibrated', sha256: sha256(readFileSync(packFile)) });
    expect(r.pack.calibration.held_out.map((h: { measure: string }) => h.measure)).toEqual(['top-decile lift', 'AUC']);
    expect(r.options.pack).toBe('calibrated');
    expect(r.command).toContain('--pack calibrated');
    expect(r.agreement).toMatchObject({
      agree: true,
      compared: ['tier', 'value within 0.01'],
      tier_differs: 0,
      value_differs_over_1_fen: 0,
    });
    // The run read the calibrated pack: its step rules are among the hits, beside the twelve it keeps.
    expect(Object.keys(r.churnwatch_hits_per_rule).length).toBeGreaterThan(12);
    expect(readFileSync(packFile, 'utf8')).toMatch(/^pack: default-calibrated$/m);
  }, 120_000);

  it('when --rules names a pack whose tiers differ from the SQL then the sides disagree on tier and the run exits 1', async () => {
    const pack = join(tmp, 'high-70.yaml');
    writeFileSync(pack, readFileSync(join(root, 'rules', 'default.yaml'), 'utf8').replace(/^ {2}high: 60 .*$/m, '  high: 70'));
    const results = join(tmp, 'results-rules');
    const run = benchAt2000(['--rules', pack, '--results-dir', results]);
    await expect(run).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/DISAGREEMENT \(pack high-70, tier and value compared\).*tier differs for [1-9]/),
    });
    const files = readdirSync(results);
    expect(files).toEqual([expect.stringMatching(/^2000-pack-high-70-\d{4}-\d{2}-\d{2}\.json$/)]);
    const r = JSON.parse(readFileSync(join(results, files[0]!), 'utf8'));
    expect(r.pack.sha256).toBe(sha256(readFileSync(pack)));
    expect(r.agreement.value_differs_over_1_fen).toBe(0);
  }, 60_000);

  it.each([
    [['--pack', 'fancy'], '--pack must be calibrated'],
    [['--pack', 'calibrated', '--rules', 'rules/default.yaml'], '--rules and --pack both name the pack'],
    [['--rules', 'no-such.yaml'], 'no such file'],
    [['--pack', 'calibrated', '--reference'], "--reference checks the default pack's twelve flags"],
  ])('when the pack options are %j then it refuses with a usage error', async (args, message) => {
    const run = promisify(execFile)(process.execPath, ['bench/bench.mjs', ...args], { cwd: root, encoding: 'utf8' });
    await expect(run).rejects.toMatchObject({ code: 64, stderr: expect.stringContaining(message) });
  });

  it('when --sql text is asked for another dialect then it refuses with a usage error', async () => {
    const run = promisify(execFile)(process.execPath, ['bench/bench.mjs', '--sql', 'text', '--dialect', 'quoted'], {
      cwd: root,
      encoding: 'utf8',
    });
    await expect(run).rejects.toMatchObject({ code: 64, stderr: expect.stringContaining('--sql text reads the clean dialect only') });
  });
});

const DIALECTS = ['clean', 'quoted', 'compact-dates', 'crlf', 'shuffled', 'gbk-pipe', 'gz'];

describe.skipIf(duckdbProblem !== undefined)('bench harness, every dialect at 300 subscribers', () => {
  it('when it runs --dialect all then each dialect has its shape and both sides agree on it, with the clean scores', async () => {
    const data = join(tmp, 'dialects', 'data');
    const results = join(tmp, 'dialects', 'results');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        'bench/bench.mjs',
        '--subscribers',
        '300',
        '--runs',
        '1',
        '--warmup',
        '0',
        '--dialect',
        'all',
        '--data-dir',
        data,
        '--results-dir',
        results,
      ],
      { cwd: root, encoding: 'utf8', timeout: 240_000, maxBuffer: 1 << 24 },
    );

    const summaryFile = readdirSync(results).find((f) => f.startsWith('300-dialects-'));
    expect(summaryFile).toBeDefined();
    const summary = JSON.parse(readFileSync(join(results, summaryFile!), 'utf8'));
    expect(summary.table.map((t: { dialect: string }) => t.dialect)).toEqual(DIALECTS);
    for (const t of summary.table) {
      expect(t).toMatchObject({ exit: 0, agree: true, same_scores_as_clean: true });
      expect(stdout).toContain(`| ${t.dialect} |`);
    }
    // One result per dialect besides the table.
    expect(
      readdirSync(results)
        .filter((f) => f !== summaryFile)
        .sort(),
    ).toEqual(DIALECTS.map((d) => `300-${d === 'clean' ? '' : `${d}-`}${summaryFile!.slice(-15)}`).sort());

    const clean = readFileSync(join(data, '300-1', 'usage_daily.csv'), 'utf8');
    const dir = (d: string) => join(data, `300-1-${d}`);
    const usage = (d: string) => readFileSync(join(dir(d), 'usage_daily.csv'));
    expect(usage('quoted').toString('utf8').split('\n')[1]).toMatch(/^"\d+","/);
    expect(usage('compact-dates').toString('utf8')).toMatch(/\n\d+,\d{8},/);
    expect(usage('compact-dates').toString('utf8')).not.toMatch(/\d{4}-\d{2}-\d{2}/);
    expect(usage('crlf').toString('utf8').split('\r\n')).toHaveLength(clean.split('\n').length);
    const shuffled = usage('shuffled').toString('utf8');
    expect(shuffled).not.toBe(clean);
    expect(shuffled).toMatch(/,\d{8},/);
    expect(shuffled).toMatch(/,\d{4}\/\d{2}\/\d{2},/);
    const subscribersGbk = readFileSync(join(dir('gbk-pipe'), 'subscribers.csv'));
    expect(subscribersGbk.toString('latin1').split('\n')[0]).toContain('subscriber_id|msisdn|');
    // GBK: the Chinese names are not valid UTF-8.
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(subscribersGbk)).toThrow();
    expect(readFileSync(join(dir('gz'), 'usage_daily.csv.gz')).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  }, 240_000);
});
