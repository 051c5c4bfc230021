/**
 * Output profiles (output/profiles.ts, task-outputs.ts) on the golden extracts: each
 * profile's files equal their golden copies in fixtures/golden/profiles/<profile>/
 * (the xlsx files as the xlsx library reads them back, kept as JSON); the row
 * limits split files in rank order under predictable names; the tools' phone and
 * time forms; Excel's byte order mark and GBK. When a change alters them on purpose,
 * regenerate with
 *   CW_UPDATE_GOLDEN=1 npx vitest run test/output/profiles.test.ts
 * and review the diff of fixtures/golden/profiles before committing it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILE_LAYOUTS, rowLimit } from '../../src/output/profiles.js';
import { cut, fixZipTimes } from '../../src/output/task-outputs.js';
import { cleanup, runCli, World } from '../helpers/world.js';

const GOLDEN = 'fixtures/golden/profiles';
const UPDATE = process.env.CW_UPDATE_GOLDEN === '1';
const work = mkdtempSync(join(tmpdir(), 'cw-profiles-'));
afterAll(() => cleanup(work));

let runs = 0;
/** Runs the golden extracts with an output section; returns the published folder. */
async function publish(output: string, input = 'fixtures/golden/input'): Promise<string> {
  const dir = join(work, `run-${++runs}`);
  mkdirSync(dir);
  const config = join(dir, 'run.yaml');
  writeFileSync(config, `output:\n${output}`);
  const r = await runCli(input, '2026-11-23', ['--config', config], join(dir, 'out'));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.published;
}

const taskFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('tasks-'))
    .sort();

/** An xlsx file's first sheet as rows of cell texts (every cell is text). */
async function sheetRows(file: string): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(readFileSync(file) as unknown as ArrayBuffer);
  const ws = wb.worksheets[0]!;
  const rows: string[][] = [];
  ws.eachRow({ includeEmpty: true }, (row) => {
    const cells: string[] = [];
    for (let c = 1; c <= ws.columnCount; c++) {
      const v = row.getCell(c).value;
      cells.push(v === null || v === undefined ? '' : String(v));
    }
    rows.push(cells);
  });
  return rows;
}

/** What the golden copy of a published file holds: its text, or for an xlsx its cells as JSON. */
async function comparable(dir: string, file: string): Promise<[string, Buffer]> {
  if (file.endsWith('.xlsx'))
    return [`${file}.json`, Buffer.from(JSON.stringify(await sheetRows(join(dir, file)), null, 1) + '\n', 'utf8')];
  return [file, readFileSync(join(dir, file))];
}

const PROFILES: [string, string][] = [
  ['excel-csv', '  profile: excel-csv\n  locale: zh-CN\n'],
  ['jsonl', '  profile: jsonl\n'],
  ['genesys', '  profile: genesys\n'],
  ['huawei-cec', '  profile: huawei-cec\n  locale: zh-CN\n'],
  ['alibaba-ccc', '  profile: alibaba-ccc\n  locale: zh-CN\n'],
];

describe('each profile against its golden files', () => {
  it.each(PROFILES)('when the golden extracts are written as %s then every task file equals its golden copy', async (profile, output) => {
    const dir = await publish(output);
    const golden = join(GOLDEN, profile);
    const files = taskFiles(dir);
    expect(files).toHaveLength(18); // 3 tiers × 3 channels, full and delta
    if (UPDATE) {
      rmSync(golden, { recursive: true, force: true });
      mkdirSync(golden, { recursive: true });
    }
    for (const file of files) {
      const [name, text] = await comparable(dir, file);
      if (UPDATE) writeFileSync(join(golden, name), text);
      expect(text.equals(readFileSync(join(golden, name))), name).toBe(true);
    }
    expect(readdirSync(golden).sort()).toEqual((await Promise.all(files.map((f) => comparable(dir, f)))).map(([n]) => n).sort());
    // Every file is in the manifest, with its size.
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { outputs: { file: string; bytes: number }[] };
    for (const file of files) expect(manifest.outputs.find((o) => o.file === file)?.bytes).toBe(readFileSync(join(dir, file)).length);
  });
});

describe("the tools' limits", () => {
  it("when no lower limit is configured then each tool's published rows per file hold, and a configured one never raises them", () => {
    expect(rowLimit(PROFILE_LAYOUTS.genesys, undefined)).toBe(1_000_000);
    expect(rowLimit(PROFILE_LAYOUTS['alibaba-ccc'], undefined)).toBe(100_000);
    expect(rowLimit(PROFILE_LAYOUTS['huawei-cec'], undefined)).toBe(1_048_575);
    expect(rowLimit(PROFILE_LAYOUTS['excel-csv'], undefined)).toBe(1_048_575);
    expect(rowLimit(PROFILE_LAYOUTS.jsonl, undefined)).toBeNull();
    expect(rowLimit(PROFILE_LAYOUTS.genesys, 5_000_000)).toBe(1_000_000);
    expect(rowLimit(PROFILE_LAYOUTS.jsonl, 7)).toBe(7);
  });

  it('when a file passes the row limit then it is split into numbered parts that keep the rank order', async () => {
    const whole = await publish('  profile: genesys\n');
    const split = await publish('  profile: genesys\n  max_rows_per_file: 10\n');
    const lines = (dir: string, f: string) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '');
    const all = lines(whole, 'tasks-mass-call-001.csv');
    expect(all.length - 1).toBe(33); // the golden mass tier's tasks after the contact policy (tasks-mass.csv)
    const parts = taskFiles(split).filter((f) => /^tasks-mass-call-\d{3}\./.test(f));
    expect(parts).toEqual(['tasks-mass-call-001.csv', 'tasks-mass-call-002.csv', 'tasks-mass-call-003.csv', 'tasks-mass-call-004.csv']);
    const rows = parts.map((f) => lines(split, f));
    for (const p of rows) {
      expect(p[0]).toBe(all[0]);
      expect(p.length - 1).toBeLessThanOrEqual(10);
    }
    expect(rows.flatMap((p) => p.slice(1))).toEqual(all.slice(1));
  });

  it('when Genesys files are written then the phone is E.164, a time zone column is there and times have seconds and an offset', async () => {
    const dir = await publish('  profile: genesys\n');
    const [header, ...rows] = readFileSync(join(dir, 'tasks-high-call-001.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const at = (name: string) => header!.indexOf(name);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r[at('phone')]).toMatch(/^\+86\d{11}$/);
      expect(r[at('time_zone')]).toBe('Asia/Shanghai');
      expect(r[at('contact_id')]!.length).toBeLessThanOrEqual(32);
    }
    const text = readFileSync(join(dir, 'tasks-high-call-001.csv'), 'utf8');
    expect(text).toMatch(/,2026-11-2\dT\d\d:\d\d:\d\d\+08:00,/);
  });

  it("when Huawei CEC files are written then the xlsx library reads them back in the template's columns: called as [{calledNo}], callData JSON within 1,024 characters, recycleTime as yyyy-mm-dd hh:mm:ss", async () => {
    const dir = await publish('  profile: huawei-cec\n  locale: zh-CN\n  max_rows_per_file: 10\n');
    const parts = taskFiles(dir).filter((f) => /^tasks-mass-call-\d{3}\./.test(f));
    expect(parts).toHaveLength(4);
    const [header, ...rows] = await sheetRows(join(dir, parts[0]!));
    expect(header).toEqual(['sessionId', 'called', 'callData', 'customField', 'recycleTime']);
    expect(rows).toHaveLength(10);
    for (const r of rows) {
      expect(r[0]!).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
      expect(JSON.parse(r[1]!)).toEqual([{ calledNo: expect.stringMatching(/^1\d{10}$/) }]);
      expect(r[2]!.length).toBeLessThanOrEqual(1024);
      expect(JSON.parse(r[2]!)).toMatchObject({ tier: 'mass', channel: 'call', attempt_limit: 3 });
      expect(r[3]!.length).toBeLessThanOrEqual(200);
      expect(r[4]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    }
  });

  it("when a cell would pass a tool's limit then its free text is cut to the limit, ending in '…' (Genesys: 512 characters a cell, Huawei CEC: 1,024 of call data)", () => {
    expect(cut('abcdef', 4)).toBe('abc…');
    expect(cut('abc', 4)).toBe('abc');
    expect(cut('ab\u{20000}cd', 4)).toBe('ab…'); // the pair is not split
    const limits = Object.values(PROFILE_LAYOUTS).map((l) => l.maxCellChars);
    expect(limits).toEqual([null, null, 512, 1024, null]);
    // Genesys: at most 50 columns a contact list; Alibaba: at most 10 custom variables.
    expect(PROFILE_LAYOUTS.genesys.columns!.length).toBeLessThanOrEqual(50);
    const custom = PROFILE_LAYOUTS['alibaba-ccc'].columns!.find((c) => c.header === 'CustomVariables')!;
    expect(custom.fields!.length).toBeLessThanOrEqual(PROFILE_LAYOUTS['alibaba-ccc'].maxProperties!);
  });

  it('when a reason text is longer than a Genesys cell then the published cell is cut to 512 characters', async () => {
    const long = 'x'.repeat(600);
    const pack = readFileSync('rules/default.yaml', 'utf8').replace(/^(\s+reason: ")/m, `$1${long} `);
    const dir = join(work, `long-${++runs}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'pack.yaml'), pack);
    writeFileSync(join(dir, 'run.yaml'), 'output:\n  profile: genesys\n');
    const r = await runCli(
      'fixtures/golden/input',
      '2026-11-23',
      ['--config', join(dir, 'run.yaml'), '--rules', join(dir, 'pack.yaml')],
      join(dir, 'out'),
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    const cells = taskFiles(r.published)
      .flatMap((f) => readFileSync(join(r.published, f), 'utf8').split('\n'))
      .flatMap((l) => l.split(','));
    const cutCells = cells.filter((c) => c.includes('xxxxx'));
    expect(cutCells.length).toBeGreaterThan(0);
    for (const c of cutCells) expect(c.length).toBeLessThanOrEqual(512 + 2); // the cell's quotes, when it has any
    expect(cutCells.some((c) => c.replaceAll('"', '').endsWith('…'))).toBe(true);
  });

  it('when an xlsx profile runs twice then the files are the same bytes (the zip entries carry a fixed time)', async () => {
    const a = await publish('  profile: huawei-cec\n');
    await new Promise((r) => {
      setTimeout(r, 2100);
    }); // a zip time has two-second steps
    const b = await publish('  profile: huawei-cec\n');
    for (const f of taskFiles(a)) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
  });

  it('when LibreOffice is installed then it converts a Huawei CEC file to CSV with the same cells', async (ctx) => {
    const soffice = ['soffice', 'libreoffice'].find((b) => {
      try {
        execFileSync('which', [b]);
        return true;
      } catch {
        return false;
      }
    });
    if (soffice === undefined) {
      ctx.skip();
      return;
    }
    const dir = await publish('  profile: huawei-cec\n');
    const out = join(work, 'lo');
    execFileSync(soffice, ['--headless', '--convert-to', 'csv', '--outdir', out, join(dir, 'tasks-high-call-001.xlsx')], {
      stdio: 'ignore',
    });
    const csv = readFileSync(join(out, 'tasks-high-call-001.csv'), 'utf8');
    const rows = await sheetRows(join(dir, 'tasks-high-call-001.xlsx'));
    expect(csv.split('\n')[0]).toBe(rows[0]!.join(','));
  });

  it('when Alibaba CCC files are written then each case has PhoneNumber, ReferenceId and CustomVariables as AddCases takes them (a JSON object as text, at most 10 properties)', async () => {
    const dir = await publish('  profile: alibaba-ccc\n');
    const cases = JSON.parse(readFileSync(join(dir, 'tasks-mass-call-001.json'), 'utf8')) as Record<string, unknown>[];
    expect(cases).toHaveLength(33);
    for (const c of cases) {
      expect(Object.keys(c)).toEqual(['PhoneNumber', 'ReferenceId', 'CustomVariables']);
      expect(c.PhoneNumber).toMatch(/^1\d{10}$/);
      expect(c.ReferenceId).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
      expect(typeof c.CustomVariables).toBe('string');
      const custom = JSON.parse(c.CustomVariables as string) as Record<string, unknown>;
      expect(Object.keys(custom).length).toBeLessThanOrEqual(10);
      expect(custom).toMatchObject({ tier: 'mass', state: 'new' });
    }
    expect(JSON.parse(readFileSync(join(dir, 'tasks-high-sms-001.json'), 'utf8'))).toEqual([]);
  });
});

describe('Excel on Chinese Windows', () => {
  it('when excel-csv is written then UTF-8 starts with a byte order mark, and GBK decodes to the same text', async () => {
    const bom = await publish('  profile: excel-csv\n  locale: zh-CN\n');
    const gbk = await publish('  profile: excel-csv\n  locale: zh-CN\n  excel_encoding: gbk\n');
    for (const f of taskFiles(bom)) {
      const utf8 = readFileSync(join(bom, f));
      expect([...utf8.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      // The same text, but for the minus sign GBK lacks (its full-width hyphen-minus stands in).
      expect(iconv.decode(readFileSync(join(gbk, f)), 'gbk')).toBe(utf8.subarray(3).toString('utf8').replaceAll('\u2212', '\uff0d'));
    }
    // A "+86..." phone would be a formula to Excel: it is neutralised.
    expect(readFileSync(join(bom, 'tasks-high-call-001.csv'), 'utf8')).toMatch(/,'\+86\d{11},/);
  });

  it('when a name has a character GBK cannot hold then GBK stops with 65 naming the line, and GB18030 writes it', async () => {
    const w = new World();
    w.sub('X1', { status: 'suspended_arrears', name: '王\u{20000}' }).bills('X1', ['10', '10', '10', '10']);
    const dir = w.write();
    const config = join(dir, 'run.yaml');
    writeFileSync(config, 'output:\n  profile: excel-csv\n  excel_encoding: gbk\n');
    const r = await runCli(dir, w.asOf, ['--config', config], join(dir, 'out-gbk'));
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('tasks-mass-call-001.csv: line 2');
    expect(r.stderr).toContain('gb18030');
    expect(r.stderr).not.toContain('\u{20000}');
    expect(existsSync(join(dir, 'out-gbk', w.asOf))).toBe(false);
    writeFileSync(config, 'output:\n  profile: excel-csv\n  excel_encoding: gb18030\n');
    const ok = await runCli(dir, w.asOf, ['--config', config], join(dir, 'out-gb18030'));
    expect(ok.code).toBe(0);
    expect(iconv.decode(readFileSync(join(ok.published, 'tasks-mass-call-001.csv')), 'gb18030')).toContain('王\u{20000}');
    cleanup(dir);
  });
});

describe('zip times', () => {
  it('when a zip is stamped then every entry carries the given time in its local and central headers', async () => {
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('a').addRow(['x']);
    const zip = Buffer.from(await wb.xlsx.writeBuffer());
    const fixed = fixZipTimes(zip, new Date(Date.UTC(2000, 0, 1)));
    const dosDate = (20 << 9) | (1 << 5) | 1;
    let central = 0;
    for (let p = 0; p + 4 <= fixed.length; p++) {
      const sig = fixed.readUInt32LE(p);
      if (sig === 0x02014b50) {
        expect(fixed.readUInt16LE(p + 14)).toBe(dosDate);
        central++;
      }
    }
    expect(central).toBeGreaterThan(3);
  });
});
