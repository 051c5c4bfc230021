/**
 * subscribers.csv against a reference that checks each id on arrival (a Map of
 * trimmed strings, first accepted row wins, the duplicate check before the field
 * checks): the same subscribers in the same order, the same rejects in line order,
 * whether read in one pass or as the ids-only and attributes-only passes that the
 * worker thread and the main thread make.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { parseDay } from '../../src/util/dates.js';
import { applyKeys, readSubscribers, resolveKeys, scanSubscribers } from '../../src/ingest/subscribers.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-subs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  id: string;
  phone: string;
  status: string;
  level: string;
  balance: string;
  since: string;
}

const ids = fc
  .tuple(
    fc.constantFrom('', ' ', '\u3000', '\t'),
    fc.constantFrom('A1', 'A2', 'A3', 'B', '张', 'A1 ', ''),
    fc.constantFrom('', ' ', '\u00a0'),
  )
  .map((p) => p.join(''));
const row: fc.Arbitrary<Row> = fc.record({
  id: ids,
  phone: fc.constantFrom('13800000000', ' +8613900000000 ', '12345', '1234', 'tel:1', ''),
  status: fc.constantFrom('active', ' Closed ', 'SUSPENDED_HOLD', 'gone', ''),
  level: fc.constantFrom('', 'gold', 'NONE', 'platinum'),
  balance: fc.constantFrom('', '12.50', '-3', '1.234', 'x'),
  since: fc.constantFrom('', '2024-01-31', '20240131', '2024-02-30', 'soon'),
});

const VALID = {
  phone: (s: string) => /^\+?\d{5,20}$/.test(s.trim()),
  status: (s: string) => ['active', 'suspended_arrears', 'suspended_hold', 'closed'].includes(s.trim().toLowerCase()),
  level: (s: string) => s.trim() === '' || ['diamond', 'gold', 'silver', 'none'].includes(s.trim().toLowerCase()),
  balance: (s: string) => s.trim() === '' || /^-?\d+(\.\d{1,2})?$/.test(s.trim()),
  since: (s: string) => ['', '2024-01-31', '20240131'].includes(s.trim()),
};

/** The one-id-at-a-time reading the contract describes: accepted ids, and (line, column, code) per reject. */
function reference(rows: Row[]): { accepted: string[]; rejects: [number, string, string][] } {
  const index = new Map<string, number>();
  const accepted: string[] = [];
  const rejects: [number, string, string][] = [];
  rows.forEach((r, k) => {
    const line = k + 2;
    const id = r.id.trim();
    if (id === '') return rejects.push([line, 'subscriber_id', 'CW_ROW_EMPTY_FIELD']);
    if (index.has(id)) return rejects.push([line, 'subscriber_id', 'CW_ROW_DUPLICATE_SUBSCRIBER']);
    if (!VALID.phone(r.phone)) return rejects.push([line, 'msisdn', r.phone.trim() === '' ? 'CW_ROW_EMPTY_FIELD' : 'CW_ROW_BAD_PHONE']);
    if (!VALID.status(r.status)) return rejects.push([line, 'status', 'CW_ROW_BAD_ENUM']);
    if (!VALID.level(r.level)) return rejects.push([line, 'member_level', 'CW_ROW_BAD_ENUM']);
    if (!VALID.balance(r.balance)) return rejects.push([line, 'prepaid_balance', 'CW_ROW_BAD_NUMBER']);
    if (!VALID.since(r.since)) return rejects.push([line, 'status_since', 'CW_ROW_BAD_DATE']);
    index.set(id, accepted.length);
    accepted.push(id);
  });
  return { accepted, rejects };
}

let fileNo = 0;
function write(rows: Row[]): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  const text =
    [
      'subscriber_id,msisdn,status,member_level,prepaid_balance,status_since,name',
      ...rows.map((r, k) => [r.id, r.phone, r.status, r.level, r.balance, r.since, `N${k}`].map(q).join(',')),
    ].join('\n') + '\n';
  const path = join(dir, `subscribers-${fileNo++}.csv`);
  writeFileSync(path, text);
  return path;
}

describe('readSubscribers', () => {
  it('when ids repeat, blank or padded, and rows are bad, then subscribers and rejects equal the one-id-at-a-time reference', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 30 }), async (rows) => {
        const ref = reference(rows);
        const path = write(rows);
        const input = defaultInputOptions(dir);
        const log = new RejectLog();
        const { table, stats } = await readSubscribers(path, 'subscribers.csv', input, log);
        expect(table.ids.toArray()).toEqual(ref.accepted);
        expect(log.rows.map((r) => [r.line, r.column, r.code])).toEqual(ref.rejects);
        expect([stats.records, stats.accepted, stats.rejected]).toEqual([rows.length, ref.accepted.length, ref.rejects.length]);
        ref.accepted.forEach((id, i) => {
          expect(table.idTable!.indexOf(id)).toBe(i);
        });
        expect(table.name.toArray()).toEqual(
          ref.accepted.map(
            (id) =>
              `N${rows.findIndex((r) => r.id.trim() === id && VALID.phone(r.phone) && VALID.status(r.status) && VALID.level(r.level) && VALID.balance(r.balance) && VALID.since(r.since))}`,
          ),
        );

        // The split reading (ids in one pass, attributes in another) gives the same table.
        const keysScan = await scanSubscribers(path, 'subscribers.csv', input, { keys: true, values: false });
        const valuesScan = await scanSubscribers(path, 'subscribers.csv', input, { keys: false, values: true });
        expect(valuesScan.keys).toBeNull();
        const keys = resolveKeys(keysScan, 'subscribers.csv');
        const split = applyKeys(valuesScan.values!, keys);
        expect(split.ids.toArray()).toEqual(table.ids.toArray());
        expect(split.name.toArray()).toEqual(table.name.toArray());
        expect([...split.status]).toEqual([...table.status]);
        expect([...split.statusSince]).toEqual([...table.statusSince]);
        expect(keys.rejects).toEqual(log.rows);
      }),
      { numRuns: 150 },
    );
  });
});

describe('the subscriber ids in memory', () => {
  it("when subscribers.csv is read then the texts the output workers read lie in shared memory (taken uncopied), the ids as the id table's keys", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      id: `S${i}`,
      phone: '13800000000',
      status: 'active',
      level: '',
      balance: '',
      since: '',
    }));
    const { table } = await readSubscribers(write(rows), 'subscribers.csv', defaultInputOptions(dir), new RejectLog());
    expect(table.ids.get(2999)).toBe('S2999');
    for (const text of [table.ids, table.msisdn, table.name, table.region.dict, table.managerId.dict]) {
      expect(text.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(text.offsets.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
    for (const coded of [table.region, table.managerId]) expect(coded.codes.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Held once: the ids column is the id table's keys and offsets.
    const keys = table.idTable!.keyParts();
    expect(table.ids.bytes.buffer).toBe(keys.keys.buffer);
    expect(table.ids.offsets.buffer).toBe(keys.offsets.buffer);
  });
});

describe('the subscriber day columns', () => {
  it('when dates are read then they are day numbers in Float32, exact up to year 9999, NaN where not given', async () => {
    const since = ['2026-11-23', '', '9999-12-31', '1900-01-01'];
    const rows = since.map((d, k) => ({ id: `D${k}`, phone: '13800000000', status: 'active', level: '', balance: '', since: d }));
    const { table } = await readSubscribers(write(rows), 'subscribers.csv', defaultInputOptions(dir), new RejectLog());
    expect(table.statusSince).toBeInstanceOf(Float32Array);
    expect(table.activationDate).toBeInstanceOf(Float32Array);
    expect([...table.statusSince]).toEqual([parseDay('2026-11-23'), NaN, parseDay('9999-12-31'), parseDay('1900-01-01')]);
  });
});
