import { describe, expect, it } from 'vitest';
import { ChurnwatchError } from '../../src/errors.js';
import {
  CsvScanner,
  dayNumber,
  fieldEquals,
  fieldIsEmpty,
  fieldString,
  parseDayField,
  parseMonthField,
  parseScaled,
} from '../../src/ingest/csv-scan.js';
import { daysFromCivil, isValidDate } from '../../src/util/dates.js';
import { bytesOf, field, scan } from './scan-helpers.js';

/** Every way of cutting `input` once, plus byte-by-byte. */
function allChunkings(input: string): number[][] {
  const n = bytesOf(input).length;
  const out: number[][] = [[]];
  for (let c = 0; c <= n; c++) out.push([c]);
  out.push(Array.from({ length: n }, (_, i) => i));
  return out;
}

describe('CsvScanner records', () => {
  const cases: { name: string; input: string; delimiter?: string; records: string[][]; lines: number[] }[] = [
    {
      name: 'simple',
      input: 'a,b,c\n1,2,3\n',
      records: [
        ['a', 'b', 'c'],
        ['1', '2', '3'],
      ],
      lines: [1, 2],
    },
    {
      name: 'no final newline',
      input: 'a,b\n1,2',
      records: [
        ['a', 'b'],
        ['1', '2'],
      ],
      lines: [1, 2],
    },
    {
      name: 'CRLF',
      input: 'a,b\r\n1,2\r\n',
      records: [
        ['a', 'b'],
        ['1', '2'],
      ],
      lines: [1, 2],
    },
    { name: 'mixed LF and CRLF', input: 'a\r\nb\nc\r\n', records: [['a'], ['b'], ['c']], lines: [1, 2, 3] },
    { name: 'quoted fields', input: '"a","b c"\n', records: [['a', 'b c']], lines: [1] },
    { name: 'doubled quotes', input: '"say ""hi""",x\n', records: [['say "hi"', 'x']], lines: [1] },
    { name: 'only a doubled quote', input: '""""\n', records: [['"']], lines: [1] },
    { name: 'embedded delimiter', input: '"a,b",c\n', records: [['a,b', 'c']], lines: [1] },
    { name: 'embedded LF', input: 'x,"a\nb",c\ny\n', records: [['x', 'a\nb', 'c'], ['y']], lines: [1, 3] },
    { name: 'embedded CRLF', input: '"a\r\nb"\r\nz\r\n', records: [['a\r\nb'], ['z']], lines: [1, 3] },
    { name: 'lone CR is content', input: 'a\rb,c\n', records: [['a\rb', 'c']], lines: [1] },
    { name: 'CR before CRLF', input: 'x\r\r\n', records: [['x\r']], lines: [1] },
    { name: 'trailing CR at end of input', input: 'a,b\r', records: [['a', 'b\r']], lines: [1] },
    { name: 'BOM', input: '\ufeffa,b\n', records: [['a', 'b']], lines: [1] },
    { name: 'BOM only', input: '\ufeff', records: [], lines: [] },
    { name: 'second BOM is content', input: '\ufeff\ufeffa', records: [['\ufeffa']], lines: [1] },
    { name: 'empty lines skipped', input: '\na\n\n\r\nb\n\n', records: [['a'], ['b']], lines: [2, 5] },
    { name: 'empty input', input: '', records: [], lines: [] },
    { name: 'only newlines', input: '\n\r\n\n', records: [], lines: [] },
    { name: 'line of spaces is a record', input: ' \n', records: [[' ']], lines: [1] },
    { name: 'delimiter only', input: ',\n', records: [['', '']], lines: [1] },
    { name: 'trailing delimiter', input: 'a,b,\n', records: [['a', 'b', '']], lines: [1] },
    { name: 'trailing delimiter at EOF', input: 'a,', records: [['a', '']], lines: [1] },
    { name: 'empty quoted fields', input: '"",""\n""\n', records: [['', ''], ['']], lines: [1, 2] },
    { name: 'ragged rows', input: 'a\nb,c,d\n', records: [['a'], ['b', 'c', 'd']], lines: [1, 2] },
    { name: 'unicode', input: '张三,"北京,朝阳"\n', records: [['张三', '北京,朝阳']], lines: [1] },
    { name: 'pipe delimiter', input: 'a|"b|c"|d,e\n', delimiter: '|', records: [['a', 'b|c', 'd,e']], lines: [1] },
    { name: 'semicolon delimiter', input: '1,5;2\n', delimiter: ';', records: [['1,5', '2']], lines: [1] },
    { name: 'tab delimiter', input: 'a\tb\t"c\td"\n', delimiter: '\t', records: [['a', 'b', 'c\td']], lines: [1] },
    { name: 'quoted field ending the file', input: 'a,"b"', records: [['a', 'b']], lines: [1] },
    {
      name: 'many fields',
      input: Array.from({ length: 300 }, (_, i) => String(i)).join(',') + '\n',
      records: [Array.from({ length: 300 }, (_, i) => String(i))],
      lines: [1],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const cuts of allChunkings(c.input)) {
        const got = scan(c.input, c.delimiter ?? ',', cuts);
        expect(got.records, `cuts ${cuts.join(' ')}`).toEqual(c.records);
        expect(got.lines, `cuts ${cuts.join(' ')}`).toEqual(c.lines);
      }
    });
  }

  it('counts physical lines', () => {
    expect(scan('a\nb\n').physicalLines).toBe(2);
    expect(scan('a\nb').physicalLines).toBe(2);
    expect(scan('"x\ny"\r\n\n').physicalLines).toBe(3);
    expect(scan('').physicalLines).toBe(0);
  });

  it('handles records far larger than the chunks', () => {
    const big = 'x'.repeat(100_000);
    const input = `a,"${big}\n${big.replace(/x{10}/g, 'x""')}",b\nc\n`;
    const expected = [['a', `${big}\n${big.replace(/x{10}/g, 'x"')}`, 'b'], ['c']];
    const n = bytesOf(input).length;
    for (const step of [1000, 4093, 65536]) {
      const cuts: number[] = [];
      for (let c = step; c < n; c += step) cuts.push(c);
      const got = scan(input, ',', cuts);
      expect(got.records).toEqual(expected);
      expect(got.lines).toEqual([1, 3]);
    }
  });

  it('grows the record buffer exactly when a pending CR is written (writes past a typed array are silent)', () => {
    for (let n = 4090; n <= 4100; n++) {
      const x = 'x'.repeat(n);
      // The CR ends one chunk and is written to the record buffer only when the next byte arrives.
      for (const [input, cuts] of [
        [`${x}\ry\n`, [n + 1, n + 2]],
        [`"a""b",${x}\ry\n`, [n + 8, n + 9]],
      ] as const) {
        const got = scan(input, ',', [...cuts]);
        expect(got.records.map((r) => r.map((f) => f.length))).toEqual([input.startsWith('"') ? [3, n + 2] : [n + 2]]);
        expect(got.records[0]!.at(-1)).toBe(`${x}\ry`);
      }
    }
  });

  it('reuses the record view and points into the pushed chunk for simple records', () => {
    const views = new Set<object>();
    const bufs: Uint8Array[] = [];
    const sc = new CsvScanner({ file: 'x.csv' }, (rec) => {
      views.add(rec);
      bufs.push(rec.buf);
    });
    const chunk = bytesOf('a,b\nc,d\n');
    sc.push(chunk);
    sc.finish();
    expect(views.size).toBe(1);
    expect(bufs.every((b) => b === chunk)).toBe(true);
  });

  it('rejects a delimiter that cannot work', () => {
    expect(() => new CsvScanner({ file: 'x.csv', delimiter: 0x22 }, () => {})).toThrow(ChurnwatchError);
    expect(() => new CsvScanner({ file: 'x.csv', delimiter: 0x0a }, () => {})).toThrow(ChurnwatchError);
    expect(() => new CsvScanner({ file: 'x.csv', delimiter: 0xe4 }, () => {})).toThrow(ChurnwatchError);
  });
});

describe('CsvScanner errors', () => {
  const secret = 'Zhang13800138000';
  const cases: { name: string; input: string; line: number; column: number }[] = [
    { name: 'unterminated quote', input: `a,b\nc,"${secret}\nmore`, line: 2, column: 2 },
    { name: 'unterminated quote after doubled quote', input: `"${secret}""`, line: 1, column: 1 },
    { name: 'character after closing quote', input: `a\nx,"${secret}"y,z\n`, line: 2, column: 2 },
    { name: 'space after closing quote', input: `"${secret}" ,z\n`, line: 1, column: 1 },
    { name: 'lone CR after closing quote', input: `a,"${secret}"\rb\n`, line: 1, column: 2 },
    { name: 'CR after closing quote at end', input: `a,"${secret}"\r`, line: 1, column: 2 },
    { name: 'quote inside unquoted field', input: `a,b,${secret}"x\n`, line: 1, column: 3 },
    { name: 'quote after leading space', input: `a, "${secret}"\n`, line: 1, column: 2 },
    { name: 'error on a later line of a multi-line record', input: `"a\nb","${secret}\n"x\n`, line: 3, column: 2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const cuts of allChunkings(c.input)) {
        let err: unknown;
        try {
          scan(c.input, ',', cuts);
        } catch (e) {
          err = e;
        }
        expect(err, `cuts ${cuts.join(' ')}`).toBeInstanceOf(ChurnwatchError);
        const ce = err as ChurnwatchError;
        expect(ce.code).toBe('CW_CSV_MALFORMED');
        expect(ce.context).toEqual({ file: 'test.csv', line: c.line, column: c.column });
        expect(ce.message).toContain('test.csv');
        expect(ce.message).toContain(`:${c.line}`);
        expect(ce.message).toContain(`field ${c.column}`);
        expect(ce.message).not.toContain(secret);
        expect(ce.message).not.toContain('Zhang');
      }
    });
  }

  it('cannot be used after an error', () => {
    const sc = new CsvScanner({ file: 'x.csv' }, () => {});
    expect(() => sc.push(bytesOf('a"b\n'))).toThrow(ChurnwatchError);
    expect(() => sc.push(bytesOf('c\n'))).toThrow(/after an error/);
  });
});

describe('field helpers', () => {
  it('fieldString, fieldIsEmpty, fieldEquals', () => {
    const s = '北京市朝阳区 and a long ascii tail';
    expect(fieldString(field(s), 0)).toBe(s);
    expect(fieldString(field('abc'), 0)).toBe('abc');
    expect(fieldString(field('é'), 0)).toBe('é');
    expect(fieldString(field('\ufeffx'), 0)).toBe('\ufeffx');
    expect(fieldString(field('x'), 1)).toBe('');
    expect(fieldIsEmpty(field(''), 0)).toBe(true);
    expect(fieldIsEmpty(field('   '), 0)).toBe(true);
    expect(fieldIsEmpty(field(' x '), 0)).toBe(false);
    expect(fieldIsEmpty(field('x'), 1)).toBe(true);
    expect(fieldEquals(field('call'), 0, bytesOf('call'))).toBe(true);
    expect(fieldEquals(field('call'), 0, bytesOf('cal'))).toBe(false);
    expect(fieldEquals(field('Call'), 0, bytesOf('call'))).toBe(false);
  });

  it('parseScaled', () => {
    const cases: [string, number, number, boolean?][] = [
      ['12.34', 2, 1234],
      ['7.07', 2, 707],
      ['10.10', 2, 1010],
      ['-0.01', 2, -1],
      ['-5', 2, -500],
      ['+1.5', 2, 150],
      [' 7 ', 2, 700],
      ['\t7\t', 0, 7],
      ['007', 0, 7],
      ['1.2300', 2, 123],
      ['1.234', 2, NaN],
      ['0.5', 0, NaN],
      ['3.0', 0, 3],
      ['.5', 1, 5],
      ['5.', 1, 50],
      ['-0', 2, 0],
      ['-0.00', 2, 0],
      ['', 2, NaN],
      ['   ', 2, NaN],
      ['-', 2, NaN],
      ['.', 2, NaN],
      ['1e3', 2, NaN],
      ['1,234.50', 2, NaN],
      ['1,234.50', 2, 123450, true],
      ['12,345,678', 0, 12345678, true],
      ['-1,000', 0, -1000, true],
      ['1234.5', 1, 12345, true],
      ['1234,567', 0, NaN, true],
      ['1,23', 0, NaN, true],
      ['1,2345', 0, NaN, true],
      [',123', 0, NaN, true],
      ['1,,234', 0, NaN, true],
      ['1 2', 0, NaN],
      ['12abc', 0, NaN],
      ['0x10', 0, NaN],
      ['Infinity', 0, NaN],
      ['9007199254740992', 0, 9007199254740992],
      ['9007199254740993', 0, NaN],
      ['-9007199254740992', 0, -9007199254740992],
      ['90071992547409.92', 2, 9007199254740992],
      ['90071992547409.93', 2, NaN],
      ['90071992547410', 2, NaN],
      ['99999999999999999999', 0, NaN],
    ];
    for (const [s, scale, want, thousands] of cases) {
      expect([s, parseScaled(field(s), 0, scale, thousands)]).toEqual([s, want]);
    }
    expect(Object.is(parseScaled(field('-0'), 0, 2), 0)).toBe(true);
    expect(parseScaled(field('1'), 1, 2)).toBeNaN();
  });

  it('parseDayField', () => {
    const d = daysFromCivil;
    const cases: [string, number][] = [
      ['2026-11-23', d(2026, 11, 23)],
      ['2026/11/23', d(2026, 11, 23)],
      ['20261123', d(2026, 11, 23)],
      ['2026-1-5', d(2026, 1, 5)],
      [' 2026-11-23 ', d(2026, 11, 23)],
      ['2026-11-23 08:15', d(2026, 11, 23)],
      ['2026-11-23T08:15:30', d(2026, 11, 23)],
      ['2026-11-23T08:15:30.123Z', d(2026, 11, 23)],
      ['2026-11-23 8:15:30+08:00', d(2026, 11, 23)],
      ['20261123 23:59:59', d(2026, 11, 23)],
      ['1970-01-01', 0],
      ['2024-02-29', d(2024, 2, 29)],
      ['2000-02-29', d(2000, 2, 29)],
      ['1900-02-29', NaN],
      ['2026-02-29', NaN],
      ['2026-02-30', NaN],
      ['2026-04-31', NaN],
      ['2026-13-01', NaN],
      ['2026-00-10', NaN],
      ['2026-11-00', NaN],
      ['2026-11/23', NaN],
      ['2026-11-23x', NaN],
      ['2026-11-23 8', NaN],
      ['2026-11-23 08:1', NaN],
      ['2026-11-23T', NaN],
      ['202611231', NaN],
      ['2026112', NaN],
      ['1899-12-31', NaN],
      ['3000-01-01', d(3000, 1, 1)],
      ['9999-12-31', d(9999, 12, 31)],
      ['99991231', d(9999, 12, 31)],
      ['10000-01-01', NaN],
      ['', NaN],
      ['23/11/2026', NaN],
    ];
    for (const [s, want] of cases) expect([s, parseDayField(field(s), 0)]).toEqual([s, want]);
  });

  it('dayNumber equals isValidDate + daysFromCivil on every date of the range', () => {
    let mismatches = 0;
    for (let y = 1898; y <= 10001; y++) {
      for (let m = 0; m <= 13; m++) {
        for (let d = 0; d <= 32; d++) {
          const want = isValidDate(y, m, d) ? daysFromCivil(y, m, d) : NaN;
          if (!Object.is(dayNumber(y, m, d), want)) mismatches++;
        }
      }
    }
    expect(mismatches).toBe(0);
  });

  it('parseMonthField', () => {
    const cases: [string, number][] = [
      ['2026-11', 2026 * 12 + 10],
      ['2026/01', 2026 * 12],
      ['202612', 2026 * 12 + 11],
      [' 2026-11 ', 2026 * 12 + 10],
      ['2026-13', NaN],
      ['2026-00', NaN],
      ['2026-1', NaN],
      ['2026.11', NaN],
      ['2026-11-01', NaN],
      ['1899-12', NaN],
      ['9999-12', 9999 * 12 + 11],
      ['', NaN],
    ];
    for (const [s, want] of cases) expect([s, parseMonthField(field(s), 0)]).toEqual([s, want]);
  });
});
