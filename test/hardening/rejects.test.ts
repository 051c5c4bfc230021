/**
 * Promise 5, the reject gate: every rejected row is in rejects.csv with file, first
 * line of the record, column, code and reason; accepted + rejected equals the records
 * read, for every file; above the configured share the run exits 65, publishes
 * nothing, and leaves the rejected rows in OUTDIR/failed/<date>/rejects.csv.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World, cleanup, runCli, type Row } from '../helpers/world.js';
import { AS_OF, ensureBuilt, generate, tempDir } from './helpers.js';

let work: string;
beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('rejects');
}, 120_000);
afterAll(() => {
  if (work) cleanup(work);
});

const FILES = ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts', 'contact_history', 'do_not_call'];

/** Data records per file and the line each starts on, read independently with csv-parse. */
function records(dir: string, file: string): { count: number; startLines: Set<number> } {
  const rows = parse(readFileSync(join(dir, file)), {
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    bom: true,
  }) as unknown as { info: { lines: number } }[];
  // info.lines is the line a record ends on; these generated files have no line breaks inside fields.
  return { count: rows.length - 1, startLines: new Set(rows.slice(1).map((r) => r.info.lines)) };
}

function rejectRows(path: string): Row[] {
  return parse(readFileSync(path), { columns: true }) as Row[];
}

describe('rejects and the reject gate', () => {
  it('when under 1% of rows are bad then the run publishes, lists each bad row once, and accepted + rejected = read for every file', async () => {
    const input = join(work, 'dirty-low');
    // 1,500 subscribers give bad rows in the same files as 4,000 did (billing, usage, tickets, contracts).
    await generate(input, ['--subscribers', '1500', '--dirty', '0.004']);
    const r = await runCli(input, AS_OF, [], join(work, 'out-low'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rejects = rejectRows(join(r.published, 'rejects.csv'));
    expect(Object.keys(rejects[0]!)).toEqual(['file', 'line', 'column', 'code', 'reason', 'raw_value']);
    let total = 0;
    for (const name of FILES) {
      const f = r.summary.files[name] as { file: string; rows_read: number; rows_accepted: number; rows_rejected: number };
      const independent = records(input, `${name}.csv`);
      expect([name, f.rows_read]).toEqual([name, independent.count]);
      expect([name, f.rows_accepted + f.rows_rejected]).toEqual([name, f.rows_read]);
      const mine = rejects.filter((x) => x.file === f.file);
      expect([name, mine.length]).toEqual([name, f.rows_rejected]);
      for (const x of mine) {
        expect(independent.startLines.has(Number(x.line))).toBe(true);
        expect(x.column).not.toBe('');
        expect(x.code).toMatch(/^CW_ROW_[A-Z_]+$/);
        expect(x.reason).not.toBe('');
      }
      expect(new Set(mine.map((x) => x.line)).size).toBe(mine.length);
      total += f.rows_rejected;
    }
    expect(total).toBeGreaterThan(20);
    expect(total).toBe(rejects.length);
  }, 60_000);

  it('when more than 1% of a file is bad then the run exits 65, publishes nothing and leaves the rejected rows under failed/', async () => {
    const input = join(work, 'dirty-high');
    await generate(input, ['--subscribers', '1500', '--dirty', '0.03']);
    const out = join(work, 'out-high');
    const r = await runCli(input, AS_OF, [], out);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('gate reject-share failed');
    expect(r.stderr).toMatch(/rejected \d+ of \d+ rows \(\d+\.\d+%, more than 1\.00%\)/);
    expect(existsSync(r.published)).toBe(false);
    expect(readdirSync(out).filter((e) => !e.startsWith('.'))).toEqual(['failed']);
    const failed = join(out, 'failed', AS_OF);
    expect(readdirSync(failed).sort()).toEqual(['failure.json', 'rejects.csv']);
    const failure = JSON.parse(readFileSync(join(failed, 'failure.json'), 'utf8'));
    expect(failure).toMatchObject({ as_of: AS_OF, code: 'CW_GATE_REJECT_SHARE', exit_code: 65, gate: 'reject-share' });
    const rejects = rejectRows(join(failed, 'rejects.csv'));
    let total = 0;
    for (const f of Object.values(failure.files) as { file: string; rows_read: number; rows_accepted: number; rows_rejected: number }[]) {
      expect(f.rows_accepted + f.rows_rejected).toBe(f.rows_read);
      expect(rejects.filter((x) => x.file === f.file).length).toBe(f.rows_rejected);
      total += f.rows_rejected;
    }
    expect(rejects.length).toBe(total);

    // The same extracts pass under a rule pack that allows 5%, and the failed-run report goes.
    const pack = join(work, 'lenient.yaml');
    writeFileSync(pack, readFileSync('rules/default.yaml', 'utf8').replace('max_reject_share: 0.01', 'max_reject_share: 0.05'));
    const ok = await runCli(input, AS_OF, ['--rules', pack], out);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([AS_OF]);
  }, 60_000);

  it('when a bad record spans several lines then rejects.csv gives the line it starts on', async () => {
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    for (let k = 0; k < 200; k++) w.bill('FILLER', w.month(0), '0.00');
    w.bill('U1', '2026-\n10', '1.00');
    const dir = w.write();
    try {
      const r = await w.run([], dir);
      expect(r.code).toBe(0);
      const [x] = rejectRows(join(r.published, 'rejects.csv'));
      const lines = readFileSync(join(dir, 'billing_monthly.csv'), 'utf8').split('\n');
      expect(lines[Number(x!.line) - 1]).toBe('U1,"2026-');
      expect(x).toMatchObject({ file: 'billing_monthly.csv', column: 'bill_month', code: 'CW_ROW_BAD_MONTH' });
    } finally {
      cleanup(dir);
    }
  });
});
