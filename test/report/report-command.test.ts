/**
 * report.html in every publication and `churnwatch report`: listed in the manifest,
 * the same bytes on a rerun and from the command, no personal data, earlier runs in
 * the trend, and clear errors for what cannot be read. The page itself is checked in
 * a browser by report-browser.test.ts.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { cleanup } from '../helpers/world.js';

const DATES = ['2026-11-22', '2026-11-23'];
let work: string;
let outDir: string;
const report = (date: string) => readFileSync(join(outDir, date, 'report.html'), 'utf8');

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cw-report-'));
  outDir = join(work, 'out');
  for (const d of DATES) {
    const r = await cli(['run', '--input', 'fixtures/sample', '--out', outDir, '--as-of', d, '--log-level', 'silent']);
    expect([d, r.code, r.err]).toEqual([d, 0, '']);
  }
}, 60_000);
afterAll(() => cleanup(work));

describe('report.html of a nightly run', () => {
  it('when a run publishes then report.html is listed in the manifest with its size and sha256', () => {
    const m = JSON.parse(readFileSync(join(outDir, '2026-11-23', 'manifest.json'), 'utf8')) as {
      outputs: { file: string; bytes: number; sha256: string }[];
    };
    const entry = m.outputs.find((o) => o.file === 'report.html');
    const bytes = readFileSync(join(outDir, '2026-11-23', 'report.html'));
    expect(entry).toEqual({ file: 'report.html', bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  });

  it('when the run is repeated with --force then report.html is byte-identical', async () => {
    const before = report('2026-11-23');
    const r = await cli([
      'run',
      '--input',
      'fixtures/sample',
      '--out',
      outDir,
      '--as-of',
      '2026-11-23',
      '--force',
      '--log-level',
      'silent',
    ]);
    expect(r.code).toBe(0);
    expect(report('2026-11-23')).toBe(before);
  }, 30_000);

  it('when the report is written then it holds no subscriber id, phone number or name of the extracts', () => {
    const html = report('2026-11-23');
    const subs = parse(readFileSync('fixtures/sample/subscribers.csv'), { columns: true }) as Record<string, string>[];
    const leaks = subs.flatMap((s) => [s.subscriber_id!, s.msisdn!, s.name!]).filter((v) => v.length >= 2 && html.includes(v));
    expect(leaks).toEqual([]);
  });

  it('when earlier runs are in the output folder then the trend has them, and a later run is not part of an earlier one', () => {
    const data = (html: string) => JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!);
    expect(data(report('2026-11-23')).trend.dates).toEqual(DATES);
    expect(data(report('2026-11-22')).trend.dates).toEqual(['2026-11-22']);
    const s = JSON.parse(readFileSync(join(outDir, '2026-11-23', 'summary.json'), 'utf8'));
    const t = data(report('2026-11-23')).trend;
    expect(t.tasks.map((x: { name: string; values: number[] }) => [x.name, x.values[1]])).toEqual(Object.entries(s.tasks_per_tier));
  });

  it('when an earlier folder has a damaged summary.json then the run still publishes and the report names the date it left out', async () => {
    const out = join(work, 'damaged');
    cpSync(join(outDir, '2026-11-22'), join(out, '2026-11-21'), { recursive: true });
    writeFileSync(join(out, '2026-11-21', 'summary.json'), '{"as_of": "2026-11-21", ');
    const r = await cli(['run', '--input', 'fixtures/sample', '--out', out, '--as-of', '2026-11-23', '--log-level', 'silent']);
    expect([r.code, r.err]).toEqual([0, '']);
    const html = readFileSync(join(out, '2026-11-23', 'report.html'), 'utf8');
    expect(html).toContain('Left out (summary.json unreadable): 2026-11-21.');
  }, 30_000);
});

describe('churnwatch report', () => {
  it('when a published folder is given then it writes the page the run wrote, byte for byte', async () => {
    const file = join(work, 'r.html');
    const r = await cli(['report', join(outDir, '2026-11-23'), '--out', file]);
    expect([r.code, r.err, r.out]).toEqual([0, '', `wrote ${file}\n`]);
    expect(readFileSync(file, 'utf8')).toBe(report('2026-11-23'));
    const stdout = await cli(['report', join(outDir, '2026-11-22'), '--out', '-']);
    expect(stdout.out).toBe(report('2026-11-22'));
  });

  it('when a backtest result is given then the page carries its deciles and names the file, not its path', async () => {
    const r = await cli(['report', join(outDir, '2026-11-23'), '--out', '-', '--backtest', 'test/report/backtest-sample.json']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('id="chart-deciles"');
    expect(r.out).toContain('From backtest-sample.json:');
    expect(r.out).not.toContain('test/report');
  });

  it('when the folder, its summary or the backtest cannot be read then it says what and where, with the exit code of the cause', async () => {
    const missing = await cli(['report', join(work, 'nope', '2026-11-23')]);
    expect([missing.code, missing.err]).toEqual([66, expect.stringContaining('does not exist; pass the folder of a published run')]);
    const empty = join(work, 'empty', '2026-11-23');
    mkdirSync(empty, { recursive: true });
    const noSummary = await cli(['report', empty]);
    expect([noSummary.code, noSummary.err]).toEqual([66, expect.stringContaining(`${join(empty, 'summary.json')} does not exist`)]);
    writeFileSync(join(empty, 'summary.json'), '{\n  "as_of": "2026-11-23",\n  oops\n}\n');
    const bad = await cli(['report', empty]);
    expect([bad.code, bad.err]).toEqual([
      65,
      'churnwatch: 2026-11-23/summary.json: not valid JSON at line 3, column 3; check that the file is complete [CW_REPORT_INPUT]\n',
    ]);
    const bt = join(work, 'bt.json');
    writeFileSync(bt, JSON.stringify({ deciles: [{ decile: 1, churn_rate: 0.2, lift: 2 }] }));
    const badBt = await cli(['report', join(outDir, '2026-11-23'), '--backtest', bt, '--out', '-']);
    expect([badBt.code, badBt.out]).toEqual([65, '']);
    expect(badBt.err).toContain('bt.json: deciles[0].cumulative_share is missing or not a number');
    const unwritable = await cli(['report', join(outDir, '2026-11-23'), '--out', join(work, 'no-such-dir', 'r.html')]);
    expect([unwritable.code, unwritable.err]).toEqual([73, expect.stringContaining('cannot write')]);
    expect(existsSync(join(work, 'no-such-dir'))).toBe(false);
  });
});
