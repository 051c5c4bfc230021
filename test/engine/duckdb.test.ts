/**
 * `run --engine duckdb` against the in-process engine, on generated extracts with
 * their boundary cases: every published file is the same byte for byte (summary.json
 * apart from its timings, manifest.json apart from summary.json's hash), and so is
 * the DuckDB dialect of `churnwatch sql` run on the same files (scores.csv); also for a
 * pack that declares its own measures over extra columns. Gates trip the same way (a cut
 * month, a dead day, a file delivered twice, too many rejects), with the same
 * message, failure.json and rejects.csv. Inputs the engine cannot check the same
 * way are refused with CW_ENGINE_UNSUPPORTED.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { csvBody, loadDuckDb, runSql } from '../sql/helpers.js';

const AS_OF = '2026-03-15';
const DEFAULT_PACK = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));
const duckdb = await loadDuckDb();
const tmp = mkdtempSync(join(tmpdir(), 'cw-engine-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
async function generate(extra: string[]): Promise<string> {
  const dir = join(tmp, `in-${++seq}`);
  const r = await cli(['generate', '--subscribers', '1500', '--out', dir, '--as-of', AS_OF, ...extra]);
  expect(r.code).toBe(0);
  return dir;
}

async function run(input: string, engine: 'in-process' | 'duckdb', extra: string[] = []) {
  const out = join(tmp, `out-${++seq}`);
  const r = await cli(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--engine', engine, '--log-level', 'silent', ...extra]);
  return { ...r, out };
}

/** The published files of a run, summary.json without its timings and manifest.json without summary.json's hash. */
function published(out: string): Map<string, string> {
  const dir = join(out, AS_OF);
  const files = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    let text = readFileSync(join(dir, name), 'utf8');
    if (name === 'summary.json') text = JSON.stringify(JSON.parse(text), (k, v) => (k === 'timings_ms' || k === 'ms' ? undefined : v), 1);
    if (name === 'manifest.json') {
      const m = JSON.parse(text);
      m.outputs = m.outputs.filter((o: { file?: string; name?: string }) => (o.file ?? o.name) !== 'summary.json');
      text = JSON.stringify(m, null, 1);
    }
    files.set(name, text);
  }
  return files;
}

async function sameBothWays(input: string, extra: string[] = []): Promise<Map<string, string>> {
  const a = await run(input, 'in-process', extra);
  const b = await run(input, 'duckdb', extra);
  expect(a.err).toBe('');
  expect(b.err).toBe('');
  expect([a.code, b.code]).toEqual([0, 0]);
  const x = published(a.out),
    y = published(b.out);
  expect([...y.keys()]).toEqual([...x.keys()]);
  for (const [name, text] of x) expect(y.get(name), name).toBe(text);
  return x;
}

/** Reads a (possibly gzipped) extract of a generated set as lines, and writes it back plain under the same name. */
function lines(dir: string, name: string): { get: () => string[]; set: (l: string[]) => void } {
  const gz = join(dir, `${name}.csv.gz`);
  const plain = join(dir, `${name}.csv`);
  return {
    get: () =>
      (existsSync(gz) ? gunzipSync(readFileSync(gz)).toString('utf8') : readFileSync(plain, 'utf8')).replace(/\n$/, '').split('\n'),
    set: (l) => {
      rmSync(gz, { force: true });
      writeFileSync(plain, `${l.join('\n')}\n`);
    },
  };
}

/**
 * The SQL script's rows as scores.csv: its columns up to the rule flags (the measure
 * columns it adds after them for the task step are checked in test/sql/differential).
 */
function sqlScores(scores: string, rows: string[][]): string {
  const header = scores.slice(0, scores.indexOf('\n') + 1);
  const width = header.split(',').length;
  return header + csvBody(rows.map((r) => r.slice(0, width)));
}

describe.skipIf(duckdb === null)('run --engine duckdb and the SQL script against the in-process engine', () => {
  let clean = '';
  let dirty = '';
  beforeAll(async () => {
    clean = await generate(['--seed', '7']);
    dirty = await generate(['--seed', '11', '--dirty', '0.01', '--gzip']);
  });

  it('publishes the same files on clean extracts, and the SQL script gives the same scores.csv', async () => {
    const files = await sameBothWays(clean);
    const scores = files.get('scores.csv')!;
    expect(scores.split('\n').length).toBe(1502);
    const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', AS_OF, '--rules', DEFAULT_PACK, '--input', clean]);
    expect(sqlScores(scores, await runSql(duckdb!, script.out))).toBe(scores);
  });

  it('publishes the same files for a logistic pack, and with every measure in the scores (--with-measures)', async () => {
    const logistic = fileURLToPath(new URL('../sql/logistic-pack.yaml', import.meta.url));
    await sameBothWays(clean, ['--rules', logistic]);
    const files = await sameBothWays(clean, ['--with-measures']);
    expect(files.get('scores.csv')!.split('\n')[0]).toContain('amount_m0');
  });

  it('publishes the same files, rejects.csv included, on gzipped extracts with invalid rows', async () => {
    const files = await sameBothWays(dirty);
    const rejects = files.get('rejects.csv')!.split('\n');
    // Every kind of row check of the measure extracts is exercised, with a line and a column.
    for (const code of ['CW_ROW_BAD_MONTH', 'CW_ROW_BAD_DATE', 'CW_ROW_BAD_NUMBER', 'CW_ROW_NEGATIVE', 'CW_ROW_UNKNOWN_SUBSCRIBER'])
      expect(
        rejects.some((l) => l.includes(code) && /^(billing_monthly|usage_daily)/.test(l)),
        code,
      ).toBe(true);
  });

  it('publishes the same files for a pack that declares measures over extra columns, with CR LF line ends', async () => {
    const input = await generate(['--seed', '5', '--dirty', '0.003']);
    const billing = lines(input, 'billing_monthly');
    billing.set(
      billing
        .get()
        .map((l, k) => `${l},${k === 0 ? 'recharge_amount' : k % 13 === 0 ? '' : k % 301 === 0 ? 'x' : ((k * 7) % 50) / 4 - 2}\r`),
    );
    const usage = lines(input, 'usage_daily');
    usage.set(usage.get().map((l, k) => `${l},${k === 0 ? 'roaming_mb' : k % 401 === 0 ? '-1' : ((k * 31) % 900) / 10}`));
    const pack = join(tmp, 'measures.yaml');
    writeFileSync(
      pack,
      readFileSync(DEFAULT_PACK, 'utf8').replace(
        /^rules:\n/m,
        `measures:
  recharge: { extract: billing_monthly, column: recharge_amount, unit: money }
  roaming_mb: { extract: usage_daily, column: roaming_mb, unit: number }
rules:
  - id: recharge_drop
    when: recharge(M0) < recharge(M1) - 3 and roaming_mb(d1) + roaming_mb(d2) >= 40
    weight: 0.2
    reason: recharge {recharge(M0)} after {recharge(M1)}
    action: Call about the recharges.
    texts:
      zh-CN:
        title: 充值下降
        reason: 充值 {recharge(M0)}，上月 {recharge(M1)}
        action: 呼出了解充值下降原因。
`,
      ),
    );
    const files = await sameBothWays(input, ['--rules', pack]);
    const scores = files.get('scores.csv')!;
    const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', AS_OF, '--rules', pack, '--input', input]);
    expect(sqlScores(scores, await runSql(duckdb!, script.out))).toBe(scores);
    const header = scores.split('\n')[0]!;
    expect(header).toContain('recharge_drop');
    expect(
      files
        .get('scores.csv')!
        .split('\n')
        .filter((l) => l.endsWith(',1') || /,1,/.test(l)).length,
    ).toBeGreaterThan(0);
    expect(files.get('rejects.csv')).toContain('recharge_amount');
    expect(files.get('rejects.csv')).toContain('roaming_mb');
  });

  it('reads numbers past DECIMAL(18, 2), with leading zeros or zero decimals as the readers do (rejected or kept), in the engine and the SQL script', async () => {
    const input = await generate(['--seed', '41']);
    // 17 and 16 digits and 2^53 + 1 units (rejected); 2^53 units, leading zeros and zero decimals (kept).
    const amounts = ['12345678901234567', '-1234567890123456', '00000000000000000000012.50', '7.2300', '90071992547409.93'];
    const calls = ['12345678901234567', '90071992547409.92', '000000000000000000003', '4.000', '90071992547409.93'];
    /** Sets the cell of every `every`-th row to the next of `cells`; gives each changed line's number and cell. */
    const set = (name: string, column: number, cells: string[], every: number) => {
      const file = lines(input, name);
      const changed: [number, string][] = [];
      file.set(
        file.get().map((l, k) => {
          if (k === 0 || k % every !== 0) return l;
          const f = l.split(',');
          f[column] = cells[(k / every) % cells.length]!;
          changed.push([k + 1, f[column]]);
          return f.join(',');
        }),
      );
      return changed;
    };
    const changed = [
      ...set('billing_monthly', 2, amounts, 97).map(([line, cell]) => ({
        file: 'billing_monthly.csv',
        line,
        cell,
        bad: /^-?1234|93$/.test(cell),
      })),
      ...set('usage_daily', 2, calls, 89).map(([line, cell]) => ({ file: 'usage_daily.csv', line, cell, bad: /^1234|93$/.test(cell) })),
    ];
    set('subscribers', 10, ['12345678901234567', '0000000000000000000000000001.10'], 211);
    const files = await sameBothWays(input);
    const rejected = new Set(
      files
        .get('rejects.csv')!
        .split('\n')
        .filter((l) => l.includes(',CW_ROW_BAD_NUMBER,'))
        .map((l) => l.split(',').slice(0, 2).join(':')),
    );
    expect(changed.filter((c) => c.bad).length).toBeGreaterThan(10);
    expect(changed.filter((c) => !c.bad).length).toBeGreaterThan(10);
    for (const c of changed) expect(rejected.has(`${c.file}:${c.line}`), `${c.file}:${c.line} ${c.cell}`).toBe(c.bad);
    const scores = files.get('scores.csv')!;
    const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', AS_OF, '--rules', DEFAULT_PACK, '--input', input]);
    expect(script.code).toBe(0);
    expect(sqlScores(scores, await runSql(duckdb!, script.out))).toBe(scores);
  });

  it('tiers ties by rank in id byte order, as the in-process engine does (the engine and the SQL script)', async () => {
    const input = await generate(['--seed', '43']);
    // Every subscriber's value is 1, or not given (no balance): the rank is the ids' order alone. Ids whose byte
    // order is not that of UTF-16 or of a locale: upper before lower case, accents, U+FFFD before an emoji.
    const heads = ['B', 'a', 'é', 'z', '\ufffd', '\u{1f600}', 'Z', '0'];
    for (const name of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts', 'contact_history']) {
      const file = lines(input, name);
      const all = file.get();
      const at = all[0]!.split(',').indexOf('subscriber_id');
      file.set(
        all.map((l, k) => {
          if (k === 0) return l;
          const f = l.split(',');
          const n = Number(f[at]);
          f[at] = `${heads[n % heads.length]}${f[at]}`;
          return f.join(',');
        }),
      );
    }
    const pack = join(tmp, 'rank-ties.yaml');
    writeFileSync(
      pack,
      readFileSync(DEFAULT_PACK, 'utf8')
        .replace(/^value: .*$/m, 'value: prepaid_balance * 0 + 1')
        .replace(/^ {2}method: threshold.*\n {2}high: .*\n {2}mid: .*$/m, '  method: rank\n  high_share: 0.05\n  mid_share: 0.05'),
    );
    expect(readFileSync(pack, 'utf8')).toContain('method: rank');
    const files = await sameBothWays(input, ['--rules', pack]);
    const scores = files.get('scores.csv')!;
    const rows = scores
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    // Ties across the cuts: value 1 in all three tiers, and subscribers without a value.
    for (const tier of ['high', 'mid', 'mass'])
      expect(
        rows.some((r) => r[1] === '1.00' && r[2] === tier),
        tier,
      ).toBe(true);
    expect(rows.some((r) => r[1] === '')).toBe(true);
    const script = await cli(['sql', '--dialect', 'duckdb', '--as-of', AS_OF, '--rules', pack, '--input', input]);
    expect(sqlScores(scores, await runSql(duckdb!, script.out))).toBe(scores);
  });

  describe('gates trip the same way', () => {
    async function sameFailure(input: string, code: string) {
      const a = await run(input, 'in-process');
      const b = await run(input, 'duckdb');
      expect(a.code).toBe(65);
      expect(b.code).toBe(65);
      expect(a.err).toContain(code);
      expect(b.err).toBe(a.err);
      const failed = (o: string) => join(o, 'failed', AS_OF);
      for (const f of ['failure.json', 'rejects.csv'])
        expect(readFileSync(join(failed(b.out), f), 'utf8'), f).toBe(readFileSync(join(failed(a.out), f), 'utf8'));
    }

    it('a cut bill month', async () => {
      const input = await generate(['--seed', '21']);
      const billing = lines(input, 'billing_monthly');
      billing.set(billing.get().filter((l, k) => !l.includes(',2026-01,') || k % 10 === 0));
      await sameFailure(input, 'CW_GATE_BILLING_COMPLETE');
    });

    it('a dead usage day', async () => {
      const input = await generate(['--seed', '22']);
      const usage = lines(input, 'usage_daily');
      usage.set(usage.get().map((l) => (l.includes(',2026-03-13,') ? l.replace(/,2026-03-13,.*$/, ',2026-03-13,0,0,0,0') : l)));
      await sameFailure(input, 'CW_GATE_USAGE_ACTIVE');
    });

    it('a billing file delivered twice', async () => {
      const input = await generate(['--seed', '23']);
      const billing = lines(input, 'billing_monthly');
      const all = billing.get();
      billing.set([...all, ...all.slice(1)]);
      await sameFailure(input, 'CW_GATE_DUPLICATES');
    });

    it('too many rejected rows', async () => {
      await sameFailure(await generate(['--seed', '24', '--dirty', '0.2']), 'CW_GATE_REJECT_SHARE');
    });
  });

  describe('inputs it cannot check the same way are refused', () => {
    it('a quoted field', async () => {
      const input = await generate(['--seed', '31']);
      const usage = lines(input, 'usage_daily');
      usage.set(usage.get().map((l, k) => (k === 5 ? l.replace(/,(\d+),/, ',"$1",') : l)));
      const r = await run(input, 'duckdb');
      expect(r.code).toBe(78);
      expect(r.err).toContain('usage_daily.csv: it has a quote character');
      expect(r.err).toContain('--engine in-process');
      expect(r.err).toContain('CW_ENGINE_UNSUPPORTED');
      // Nothing published, and the engine's temp folder is gone.
      expect(existsSync(join(r.out, AS_OF))).toBe(false);
      expect(readdirSync(r.out).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
    });

    it('an encoding other than UTF-8, from the run configuration', async () => {
      const input = await generate(['--seed', '32']);
      const config = join(tmp, 'gbk.yaml');
      writeFileSync(config, 'input:\n  encoding: gbk\nengine:\n  name: duckdb\n  memory_limit: 512MB\n');
      const r = await cli([
        'run',
        '--input',
        input,
        '--out',
        join(tmp, 'out-gbk'),
        '--as-of',
        AS_OF,
        '--config',
        config,
        '--log-level',
        'silent',
      ]);
      expect(r.code).toBe(78);
      expect(r.err).toContain('billing_monthly.csv: it is configured as gbk');
      expect(r.err).toContain('CW_ENGINE_UNSUPPORTED');
    });
  });
});

describe('engine options', () => {
  it('refuses a memory limit without a unit', async () => {
    const r = await cli(['run', '--input', tmp, '--out', join(tmp, 'x'), '--engine', 'duckdb', '--memory-limit', '2']);
    expect(r.code).toBe(64);
    expect(r.err).toContain('--memory-limit');
  });

  it('explain, backtest and diff take --engine in-process and refuse duckdb by name (exit 64)', async () => {
    for (const [command, ...args] of [
      ['explain', '--subscriber', 'S1'],
      ['backtest', '--labels', join(tmp, 'labels.csv')],
      ['diff', '--rules-b', DEFAULT_PACK],
    ] as const) {
      const r = await cli([command, '--input', tmp, ...args, '--engine', 'duckdb']);
      expect(r.code, command).toBe(64);
      expect(r.err).toContain(`--engine duckdb is for run: ${command} reads the extracts in process`);
    }
    const r = await cli(['explain', '--input', tmp, '--subscriber', 'S1', '--engine', 'in-process']);
    expect(r.err).not.toContain('--engine');
  });

  it('refuses an unknown engine in the run configuration', async () => {
    const config = join(tmp, 'bad-engine.yaml');
    writeFileSync(config, 'engine:\n  name: spark\n');
    const r = await cli(['run', '--input', tmp, '--out', join(tmp, 'y'), '--config', config]);
    expect(r.code).toBe(78);
    expect(r.err).toContain('engine.name');
  });
});
