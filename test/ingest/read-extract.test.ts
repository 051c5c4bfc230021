import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChurnwatchError } from '../../src/errors.js';
import { fieldString, type RecordView } from '../../src/ingest/csv-scan.js';
import { firstInvalidUtf8, readExtract, type ExtractReadOptions } from '../../src/ingest/read-extract.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cw-read-extract-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

// GBK: 张 D5 C5, 三 C8 FD, 李 C0 EE, 四 CB C4. GB18030 four-byte: U+0080 = 81 30 81 30, 𠀀 (U+20000) = 95 32 82 36.
const ZHANG = [0xd5, 0xc5];
const SAN = [0xc8, 0xfd];
const LI = [0xc0, 0xee];
const SI = [0xcb, 0xc4];

async function write(name: string, content: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function read(path: string, opts: Partial<ExtractReadOptions> = {}) {
  const rows: string[][] = [];
  const lines: number[] = [];
  const info = await readExtract(path, { file: 'x.csv', ...opts }, (rec: RecordView) => {
    const row: string[] = [];
    for (let i = 0; i < rec.count; i++) row.push(fieldString(rec, i));
    rows.push(row);
    lines.push(rec.line);
  });
  return { rows, lines, info };
}

async function failure(p: Promise<unknown>): Promise<ChurnwatchError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ChurnwatchError);
    return e as ChurnwatchError;
  }
  throw new Error('expected an error');
}

const CHUNK_SIZES = [1, 2, 3, 5, 7, 64, 1 << 20];

describe('readExtract', () => {
  it('reads plain UTF-8 at any chunk size', async () => {
    const text = 'id,name,amount\n1,"张三, Jr.",12.50\r\n2,李四,"7"\n\n3,"multi\nline",0';
    const path = await write('plain.csv', text);
    for (const chunkSize of CHUNK_SIZES) {
      const { rows, lines, info } = await read(path, { chunkSize });
      expect(rows).toEqual([
        ['id', 'name', 'amount'],
        ['1', '张三, Jr.', '12.50'],
        ['2', '李四', '7'],
        ['3', 'multi\nline', '0'],
      ]);
      expect(lines).toEqual([1, 2, 3, 5]);
      expect(info).toMatchObject({ records: 4, lines: 6, bytesRead: Buffer.byteLength(text) });
      expect(info.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    }
  });

  it('skips a BOM', async () => {
    const path = await write('bom.csv', '\ufeffid|name\n1|王五\n');
    for (const chunkSize of CHUNK_SIZES) {
      const { rows } = await read(path, { chunkSize, delimiter: '|' });
      expect(rows).toEqual([
        ['id', 'name'],
        ['1', '王五'],
      ]);
    }
  });

  it('decompresses gzip by suffix and by magic bytes', async () => {
    const text = '\ufeffa,b\n1,"张三"\n'.repeat(1000);
    const gz = gzipSync(utf8(text));
    for (const name of ['u.csv.gz', 'u-no-suffix.csv']) {
      const path = await write(name, gz);
      for (const chunkSize of [7, 1000, 1 << 20]) {
        const { rows, info } = await read(path, { chunkSize });
        expect(rows.length).toBe(2000);
        expect(rows[0]).toEqual(['a', 'b']);
        expect(rows[1]).toEqual(['1', '张三']);
        expect(rows[2]).toEqual(['\ufeffa', 'b']);
        expect(info.bytesRead).toBe(gz.length);
        expect(info.lines).toBe(2000);
      }
    }
  });

  it('reports corrupt gzip data as an encoding error', async () => {
    const gz = gzipSync(utf8('a,b\n'.repeat(10000)));
    const path = await write('broken.csv.gz', gz.subarray(0, gz.length >> 1));
    const err = await failure(read(path));
    expect(err.code).toBe('CW_ENCODING');
    expect(err.message).toContain('x.csv');
  });

  it('decodes GBK', async () => {
    const content = bytes('id,name\n1,', ZHANG, SAN, '\n2,"', LI, SI, ',x"\n');
    const path = await write('gbk.csv', content);
    for (const chunkSize of CHUNK_SIZES) {
      const { rows, info } = await read(path, { encoding: 'gbk', chunkSize });
      expect(rows).toEqual([
        ['id', 'name'],
        ['1', '张三'],
        ['2', '李四,x'],
      ]);
      expect(info.bytesRead).toBe(content.length);
    }
  });

  it('when GBK text has long ASCII stretches, read in chunks of every size, then it reads as its UTF-8 twin', async () => {
    // ASCII chunks pass through undecoded only while the decoder holds no part of a character.
    // 丂 is 81 40 in GBK: its second byte is ASCII '@' and must not pass through alone.
    const lines = [
      'id,name,n',
      '1,张三,10',
      '2,abc,20',
      '3,"李四,x",30',
      '4,d丂,40',
      '5,e,50',
      '6,四,60',
      '7,fgh,70',
      '8,三丂三,80',
      '9,z,90',
    ];
    const text = lines.join('\n') + '\n';
    const GBK: Record<string, number[]> = { 张: ZHANG, 三: SAN, 李: LI, 四: SI, 丂: [0x81, 0x40] };
    const gbkPath = await write('mixed-gbk.csv', bytes(...[...text].map((ch) => GBK[ch] ?? ch)));
    const utf8Path = await write('mixed-utf8.csv', utf8(text));
    const { rows: want } = await read(utf8Path, {});
    for (let chunkSize = 1; chunkSize <= 40; chunkSize++) {
      const { rows } = await read(gbkPath, { encoding: 'gbk', chunkSize });
      expect([chunkSize, rows]).toEqual([chunkSize, want]);
    }
  });

  it('decodes GB18030 including four-byte sequences', async () => {
    const content = bytes('a;b\r\n', ZHANG, ';', [0x81, 0x30, 0x81, 0x30], [0x95, 0x32, 0x82, 0x36], '\r\n');
    const path = await write('gb18030.csv', content);
    for (const chunkSize of CHUNK_SIZES) {
      const { rows } = await read(path, { encoding: 'gb18030', delimiter: ';', chunkSize });
      expect(rows).toEqual([
        ['a', 'b'],
        ['张', '\u0080𠀀'],
      ]);
    }
  });

  it('rejects bytes that are not GBK, naming the line', async () => {
    const cases: [string, Buffer, number][] = [
      ['lead byte before a comma', bytes('id,name\n1,', ZHANG, '\n2,', [0x81], ',x\n3,', SAN, '\n'), 3],
      ['lead byte before LF', bytes('id,name\n1,', ZHANG, [0xd5], '\n2,x\n'), 2],
      ['byte FF', bytes('id\n', ZHANG, '\n"a\nb"\n', [0xff], '\n'), 5],
      ['truncated at end', bytes('id\n', ZHANG, '\n', [0xd5]), 3],
    ];
    for (const [name, content, line] of cases) {
      const path = await write('bad-gbk.csv', content);
      for (const chunkSize of CHUNK_SIZES) {
        const err = await failure(read(path, { encoding: 'gbk', chunkSize }));
        expect([name, chunkSize, err.code, err.context.line]).toEqual([name, chunkSize, 'CW_ENCODING', line]);
        expect(err.message).toContain('x.csv');
        expect(err.message).toContain('GBK');
      }
    }
  });

  it('rejects bytes that are not UTF-8, naming the line', async () => {
    const cases: [string, Buffer, number][] = [
      ['GBK read as UTF-8', bytes('id,name\n1,', ZHANG, SAN, '\n'), 2],
      ['lone continuation byte', bytes('a\nb\nc', [0x80], '\n'), 3],
      ['overlong encoding', bytes('a\n', [0xc0, 0xaf], '\n'), 2],
      ['surrogate', bytes('a\n"x\ny",', [0xed, 0xa0, 0x80], '\n'), 3],
      ['cut sequence before LF', bytes('a\n', [0xe5, 0xbc], '\nb\n'), 2],
      ['truncated at end', bytes('a\nb', [0xe5, 0xbc]), 2],
      ['invalid after valid multi-byte', bytes('张\n', [0xe5, 0xbc, 0xa0, 0xe5, 0x41], '\n'), 2],
    ];
    for (const [name, content, line] of cases) {
      const path = await write('bad-utf8.csv', content);
      for (const chunkSize of CHUNK_SIZES) {
        const err = await failure(read(path, { chunkSize }));
        expect([name, chunkSize, err.code, err.context.line]).toEqual([name, chunkSize, 'CW_ENCODING', line]);
      }
    }
  });

  it('reports a missing file', async () => {
    const err = await failure(read(join(dir, 'nope.csv')));
    expect(err.code).toBe('CW_EXTRACT_MISSING_FILE');
    expect(err.exitCode).toBe(66);
    expect(err.message).toContain('x.csv');
    const err2 = await failure(read(dir));
    expect([err2.code, err2.exitCode]).toEqual(['CW_INPUT_NOT_FILE', 66]);
  });

  it('passes CSV errors through', async () => {
    const path = await write('malformed.csv', 'a,b\n1,"x"y\n');
    const err = await failure(read(path));
    expect(err.code).toBe('CW_CSV_MALFORMED');
    expect(err.context).toEqual({ file: 'x.csv', line: 2, column: 2 });
  });

  it('firstInvalidUtf8 agrees with TextDecoder', () => {
    const dec = new TextDecoder('utf-8', { fatal: true });
    const pool = [0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff];
    let seed = 1;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 20000; n++) {
      const b = Uint8Array.from({ length: rand() % 7 }, () => pool[rand() % pool.length]!);
      let valid = true;
      try {
        dec.decode(b);
      } catch {
        valid = false;
      }
      expect([...b].join(' ') + ' ' + String(firstInvalidUtf8(b, 0, b.length) < 0)).toBe([...b].join(' ') + ' ' + String(valid));
    }
  });
});
