/**
 * Promise 7, field fidelity: quoted fields with delimiters, quotes and line breaks,
 * 1 MB fields, amounts with thousands separators (where configured), dates in
 * YYYY-MM-DD, YYYYMMDD and YYYY/MM/DD read as calendar dates whatever TZ says, and
 * phone numbers and 18-digit ids with leading zeros all survive exactly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { PLAIN_TASK_FILES, World, cleanup, runCli, type Row, type RunOutcome } from '../helpers/world.js';
import { AS_OF } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) cleanup(dirs.pop()!);
});

async function run(w: World, args: string[] = [], mutate?: (dir: string) => void): Promise<RunOutcome> {
  const dir = w.write();
  dirs.push(dir);
  mutate?.(dir);
  const r = await w.run(args, dir);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
}

function allTasks(r: RunOutcome): Row[] {
  return [...r.tasks.high!, ...r.tasks.mid!, ...r.tasks.mass!];
}

function taskOf(r: RunOutcome, id: string): Row {
  const t = allTasks(r).find((x) => x.subscriber_id === id);
  if (!t) throw new Error(`no task for ${id}`);
  return t;
}

const ARREARS = { status: 'suspended_arrears' };
const BILLS = ['80.00', '80.00', '80.00', '80.00'];

describe('field fidelity', () => {
  it('when fields hold delimiters, quotes, line breaks and CR LF then the task file gives them back exactly', async () => {
    const names = ['a,b', 'say "hi"', 'line1\nline2', 'cr\r\nlf', '"', ',', '  spaced  x', '王"五"\n, 第二行'];
    const w = new World(AS_OF);
    names.forEach((name, k) => {
      w.sub(`Q${k}`, { ...ARREARS, name: name.trim() === name ? name : name, region: `${name}|${k}` }).bills(`Q${k}`, BILLS);
    });
    const r = await run(w);
    names.forEach((name, k) => {
      const t = taskOf(r, `Q${k}`);
      // Ingest trims text attributes; everything inside is kept.
      expect([k, t.name]).toEqual([k, name.trim()]);
      expect([k, t.region]).toEqual([k, `${name}|${k}`.trim()]);
    });
  });

  it('when a field is 1 MB long then it survives byte for byte, across read chunks', async () => {
    const bigName = '王'.repeat(350_000) + 'x'; // about 1 MB of UTF-8
    const bigRegion = 'r,"q"\n'.repeat(180_000); // about 1 MB with delimiters, quotes and line breaks
    const w = new World(AS_OF);
    w.sub('BIG', { ...ARREARS, name: bigName, region: `${bigRegion}end` }).bills('BIG', BILLS);
    w.ticket('BIG', w.day(300), 'inquiry');
    w.rows.tickets.at(-1)!.category = 'c'.repeat(1 << 20);
    const r = await run(w);
    const t = taskOf(r, 'BIG');
    expect(t.name).toBe(bigName);
    expect(t.region).toBe(`${bigRegion}end`);
    expect(Buffer.byteLength(t.name!)).toBeGreaterThan(1_000_000);
  });

  it('when phone numbers and 18-digit ids start with zeros or + then they come out unchanged in tasks, scores.csv and scores.arrow', async () => {
    const subs: [string, string][] = [
      ['000000000000012345', '01087654321'],
      ['00000000000001234X', '+8613912345678'],
      ['012345678901234567', '008613800000000'],
      ['0042', '13800138000'],
    ];
    const w = new World(AS_OF);
    for (const [id, msisdn] of subs) w.sub(id, { ...ARREARS, msisdn }).bills(id, BILLS);
    const r = await run(w);
    for (const [id, msisdn] of subs) {
      expect(taskOf(r, id).msisdn).toBe(msisdn);
      expect(r.scores.has(id)).toBe(true);
    }
    const raw = readFileSync(join(r.published, 'scores.csv'), 'utf8');
    for (const [id] of subs) expect(raw).toContain(`\n${id},`);
    const arrow = tableFromIPC(readFileSync(join(r.published, 'scores.arrow')));
    const ids = new Set(arrow.getChild('subscriber_id')!.toArray() as string[]);
    for (const [id] of subs) expect(ids.has(id)).toBe(true);
  });

  it('when amounts carry thousands separators and the configuration allows them then they equal the plain amounts', async () => {
    const make = (big: string) => {
      const w = new World(AS_OF);
      w.sub('T1', ARREARS).bills('T1', [big, big, big, big]);
      w.sub('T2', ARREARS).bills(
        'T2',
        ['12,345,678.90', '1,000.00', '999.99', '0.50'].map((a) => (big.includes(',') ? a : a.replaceAll(',', ''))),
      );
      return w;
    };
    const writePiped = (w: World, dir: string) => {
      // Re-write every extract with "|" as the delimiter (amounts keep their commas unquoted).
      for (const f of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts']) {
        const rows = parse(readFileSync(join(dir, `${f}.csv`)), { relax_column_count: true }) as string[][];
        writeFileSync(join(dir, `${f}.csv`), rows.map((r) => r.join('|')).join('\n') + '\n');
      }
      writeFileSync(join(dir, 'run.yaml'), 'input:\n  delimiter: "|"\n  thousands: true\n');
      void w;
    };
    const grouped = make('1,234.50');
    const dirG = grouped.write();
    dirs.push(dirG);
    writePiped(grouped, dirG);
    const plain = make('1234.50');
    const dirP = plain.write();
    dirs.push(dirP);
    writePiped(plain, dirP);
    const g = await runCli(dirG, AS_OF, ['--config', join(dirG, 'run.yaml')]);
    const p = await runCli(dirP, AS_OF, ['--config', join(dirP, 'run.yaml')]);
    expect([g.code, g.stderr, p.code]).toEqual([0, '', 0]);
    expect(g.scores.get('T1')!.value).toBe('1234.50');
    expect(g.scores.get('T2')!.value).toBe(String(((1234567890 + 100000 + 99999) / 3 / 100).toFixed(2)));
    for (const f of ['scores.csv', ...PLAIN_TASK_FILES, 'rejects.csv']) {
      expect([f, readFileSync(join(g.published, f), 'utf8')]).toEqual([f, readFileSync(join(p.published, f), 'utf8')]);
    }
    // Without thousands: true, "1,234.50" is not an amount.
    writeFileSync(join(dirG, 'strict.yaml'), 'input:\n  delimiter: "|"\n');
    const strict = await runCli(dirG, AS_OF, ['--config', join(dirG, 'strict.yaml')], join(dirG, 'strict-out'));
    expect(strict.code).toBe(65);
    expect(strict.stderr).toContain('gate reject-share failed');
  });

  describe('dates', () => {
    const savedTz = process.env.TZ;
    afterEach(() => {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    });

    /** Subscribers flagged only through dates: silence, complaints in the window, contracts ending. */
    function dated(): World {
      const w = new World(AS_OF);
      w.sub('SILENT', { activation_date: w.day(400), status_since: w.day(400) }).bills('SILENT', BILLS);
      for (let k = 4; k <= 14; k++) w.usage('SILENT', w.day(k), { calls: '2' });
      w.sub('NEWLINE', { activation_date: w.day(2) }).bills('NEWLINE', BILLS); // silent, but activated after d3: not flagged
      w.sub('COMPLAIN', {}).bills('COMPLAIN', BILLS);
      for (let k = 1; k <= 14; k++) w.usage('COMPLAIN', w.day(k), { calls: '1' }).usage('NEWLINE', w.day(k), { calls: '0' });
      w.ticket('COMPLAIN', w.day(1), 'complaint').ticket('COMPLAIN', w.day(90), 'complaint').ticket('COMPLAIN', w.day(91), 'complaint');
      w.sub('EXPIRES', {}).bills('EXPIRES', BILLS);
      for (let k = 1; k <= 14; k++) w.usage('EXPIRES', w.day(k), { calls: '1' });
      w.contract('EXPIRES', w.rel(30), '0').contract('EXPIRES', w.rel(31), '0', 'handset_lease');
      return w;
    }

    const FORMATS = [(d: string) => d, (d: string) => d.replaceAll('-', ''), (d: string) => d.replaceAll('-', '/')];

    /** Rewrites every date (and month) of a world, cycling through the three formats. */
    function reformat(w: World): World {
      let n = 0;
      const day = (v: string | undefined) => (v && /^\d{4}-\d{2}-\d{2}$/.test(v) ? FORMATS[n++ % 3]!(v) : v);
      for (const r of w.rows.subscribers) {
        r.activation_date = day(r.activation_date) ?? '';
        r.status_since = day(r.status_since) ?? '';
      }
      for (const r of w.rows.usage_daily) r.usage_date = day(r.usage_date)!;
      for (const r of w.rows.tickets) r.created_at = day(r.created_at)!;
      for (const r of w.rows.contracts) {
        r.start_date = day(r.start_date)!;
        r.end_date = day(r.end_date)!;
      }
      for (const r of w.rows.billing_monthly) r.bill_month = n++ % 2 ? r.bill_month!.replace('-', '') : r.bill_month!.replace('-', '/');
      return w;
    }

    it('when dates come as YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD under any TZ then they are the same calendar days', async () => {
      process.env.TZ = 'UTC';
      const base = await run(dated());
      expect(taskOf(base, 'SILENT').reason_codes).toBe('silence_3d');
      expect(taskOf(base, 'COMPLAIN').reason_codes).toBe('complaints_repeat');
      expect(taskOf(base, 'EXPIRES').reason_codes).toBe('contract_expiring');
      expect(allTasks(base).some((t) => t.subscriber_id === 'NEWLINE')).toBe(false);
      const expected = ['scores.csv', ...PLAIN_TASK_FILES, 'rejects.csv'].map((f) => readFileSync(join(base.published, f), 'utf8'));
      const offsets: Record<string, number> = { 'Pacific/Kiritimati': -840, 'America/Adak': 600, 'Asia/Shanghai': -480 };
      for (const [tz, offset] of Object.entries(offsets)) {
        process.env.TZ = tz;
        expect(new Date(Date.UTC(2026, 10, 23, 12)).getTimezoneOffset()).toBe(offset); // the zone really changed
        for (const w of [dated(), reformat(dated())]) {
          const r = await run(w);
          const got = ['scores.csv', ...PLAIN_TASK_FILES, 'rejects.csv'].map((f) => readFileSync(join(r.published, f), 'utf8'));
          expect([tz, got]).toEqual([tz, expected]);
        }
      }
    });
  });
});
