/**
 * Promise 6, encodings and dialects: the same extracts as UTF-8, UTF-8 with BOM, GBK
 * and GB18030, with LF or CRLF, comma or pipe, gzip or not, give byte-identical
 * outputs. Bytes that are not valid in the declared encoding stop the run (65) with
 * the file and line, and never turn into U+FFFD.
 *
 * GBK and GB18030 test files are made with iconv-lite, an encoder independent of the
 * ICU decoder the run uses, so a mapping error on either side would show.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHeader } from '../../src/contract/contract.js';
import { PLAIN_TASK_FILES, plainFiles, World, cleanup, runCli, type RunOutcome } from '../helpers/world.js';

/** A tier's plain channel files of a set of outputs, as one text. */
const textOf = (files: Record<string, Buffer>, tier: string) =>
  plainFiles(tier)
    .map((f) => files[f]!.toString('utf8'))
    .join('');
import { AS_OF, summaryWithoutTimings, tempDir } from './helpers.js';

type Encoding = 'utf8' | 'gbk' | 'gb18030';
interface Dialect {
  encoding: Encoding;
  bom?: boolean;
  eol: '\n' | '\r\n';
  delimiter: ',' | '|';
  gzip?: boolean;
}

const FILES = ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts'] as const;
const NAMES = ['张伟', '王芳', '欧阳娜娜', '李"小"龙', '赵敏, Jr.', '周|杰', '吴\n换行', '郑秀文'];

function world(extraName?: string): World {
  const w = new World(AS_OF);
  NAMES.forEach((name, s) => {
    const id = `S${s}`;
    w.sub(id, {
      name,
      region: `广东省${s % 2 ? '深圳市, 南山区' : '广州市|天河区'}`,
      status: s % 3 === 0 ? 'suspended_arrears' : 'active',
      member_level: 'gold',
    }).bills(id, s % 2 ? ['100.00', '100.00', '100.00', '100.00'] : ['20.00', '45.50', '45.50', '45.50']);
    for (let k = 1; k <= 14; k++) w.usage(id, w.day(k), { calls: s === 4 && k <= 3 ? '0' : '2' });
  });
  if (extraName) w.sub('S-extra', { name: extraName, status: 'suspended_arrears' }).bills('S-extra', ['70.00', '70.00', '70.00', '70.00']);
  for (let k = 0; k < 120; k++) w.bill('FILLER', w.month(0), '0.00');
  w.bill('S1', '2026-13', '1.00'); // one reject, so rejects.csv is compared too
  w.ticket('S2', w.day(5), 'complaint').ticket('S2', w.day(9), 'complaint');
  return w;
}

function cell(v: string, d: string): string {
  return v.includes(d) || v.includes('"') || v.includes('\n') || v.includes('\r') ? `"${v.replaceAll('"', '""')}"` : v;
}

/** Writes the world's extracts in a dialect, with a configuration that declares it. */
function writeDialect(w: World, dir: string, d: Dialect): string {
  mkdirSync(dir, { recursive: true });
  for (const name of FILES) {
    const header = defaultHeader(name);
    const lines = [
      header.join(d.delimiter),
      ...w.rows[name].map((r) => header.map((h) => cell(r[h] ?? '', d.delimiter)).join(d.delimiter)),
    ];
    const text = lines.join(d.eol) + d.eol;
    let bytes: Buffer = d.encoding === 'utf8' ? Buffer.from(text, 'utf8') : iconv.encode(text, d.encoding);
    if (d.bom) bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
    writeFileSync(join(dir, `${name}.csv${d.gzip ? '.gz' : ''}`), d.gzip ? gzipSync(bytes) : bytes);
  }
  const config = join(dir, 'run.yaml');
  writeFileSync(config, `input:\n  encoding: ${d.encoding}\n  delimiter: "${d.delimiter}"\n`);
  return config;
}

const COMPARED = [...PLAIN_TASK_FILES, 'scores.csv', 'scores.arrow', 'rejects.csv'];

function outputs(r: RunOutcome): Record<string, Buffer> {
  return Object.fromEntries(COMPARED.map((f) => [f, readFileSync(join(r.published, f))]));
}

function summaryShape(r: RunOutcome): unknown {
  const s = summaryWithoutTimings(r.published) as { files: Record<string, Record<string, unknown>> };
  for (const f of Object.values(s.files)) delete f.bytes;
  return s;
}

let work: string;
beforeAll(() => {
  work = tempDir('enc');
});
afterAll(() => cleanup(work));

async function runDialect(w: World, label: string, d: Dialect): Promise<RunOutcome> {
  const dir = join(work, label);
  const config = writeDialect(w, dir, d);
  const r = await runCli(dir, AS_OF, ['--config', config]);
  expect([label, r.code, r.stderr]).toEqual([label, 0, '']);
  return r;
}

describe('encodings and dialects', () => {
  it('when the same extracts come in any supported encoding, line end, delimiter and compression then the outputs are byte-identical', async () => {
    const w = world();
    const dialects: Record<string, Dialect> = {
      'utf8-lf-comma': { encoding: 'utf8', eol: '\n', delimiter: ',' },
      'utf8bom-crlf-pipe': { encoding: 'utf8', bom: true, eol: '\r\n', delimiter: '|' },
      'utf8bom-lf-comma-gz': { encoding: 'utf8', bom: true, eol: '\n', delimiter: ',', gzip: true },
      'gbk-lf-pipe': { encoding: 'gbk', eol: '\n', delimiter: '|' },
      'gbk-crlf-comma-gz': { encoding: 'gbk', eol: '\r\n', delimiter: ',', gzip: true },
      'gb18030-crlf-pipe-gz': { encoding: 'gb18030', eol: '\r\n', delimiter: '|', gzip: true },
      'gb18030-lf-comma': { encoding: 'gb18030', eol: '\n', delimiter: ',' },
    };
    const [first, ...others] = Object.entries(dialects);
    const base = await runDialect(w, first![0], first![1]);
    const expected = outputs(base);
    // The comparison means something only if names, rejects and several tiers are in it.
    expect(textOf(expected, 'high')).toContain('"李""小""龙"');
    expect(textOf(expected, 'mid') + textOf(expected, 'high')).toContain('"吴\n换行"');
    expect(expected['rejects.csv']!.toString('utf8')).toContain('CW_ROW_BAD_MONTH');
    for (const [label, d] of others) {
      const r = await runDialect(w, label, d);
      const got = outputs(r);
      for (const f of COMPARED) expect([label, f, got[f]!.equals(expected[f]!)]).toEqual([label, f, true]);
      expect(summaryShape(r)).toEqual(summaryShape(base));
    }
  });

  it('when a name exists only in GB18030 (four-byte sequences) then GB18030 and UTF-8 extracts give the same outputs', async () => {
    const w = world('𪚥䶵');
    expect(() => iconv.encode('𪚥', 'gb18030')).not.toThrow();
    const a = await runDialect(w, 'rare-utf8', { encoding: 'utf8', eol: '\n', delimiter: ',' });
    const b = await runDialect(w, 'rare-gb18030', { encoding: 'gb18030', eol: '\r\n', delimiter: '|', gzip: true });
    expect(textOf(outputs(a), 'high')).toContain('𪚥䶵');
    for (const f of COMPARED) expect([f, outputs(b)[f]!.equals(outputs(a)[f]!)]).toEqual([f, true]);
  });
});

describe('bytes not valid in the declared encoding', () => {
  /** Writes the world as `d`, then replaces line `line` (1-based) of `file` with `bytes`. */
  async function corrupt(label: string, d: Dialect, file: string, line: number, bytes: Buffer) {
    const dir = join(work, label);
    const config = writeDialect(world(), dir, { ...d, gzip: false });
    const path = join(dir, `${file}.csv`);
    const raw = readFileSync(path);
    const lines: Buffer[] = [];
    for (let s = 0; s < raw.length; ) {
      const e = raw.indexOf(0x0a, s);
      lines.push(raw.subarray(s, e < 0 ? raw.length : e + 1));
      s = e < 0 ? raw.length : e + 1;
    }
    lines[line - 1] = Buffer.concat([bytes, Buffer.from(d.eol)]);
    const out = Buffer.concat(lines);
    if (d.gzip) {
      writeFileSync(`${path}.gz`, gzipSync(out));
      const { rmSync } = await import('node:fs');
      rmSync(path);
    } else writeFileSync(path, out);
    return runCli(dir, AS_OF, ['--config', config]);
  }

  const gbkName = iconv.encode('王五', 'gbk');
  const cases: [string, Dialect, string, number, Buffer, string][] = [
    [
      'GBK bytes in a UTF-8 file',
      { encoding: 'utf8', eol: '\n', delimiter: ',' },
      'subscribers',
      4,
      Buffer.concat([Buffer.from('X1,13900000001,'), gbkName, Buffer.from(',active,,,P1,none,R,M1,')]),
      'UTF-8',
    ],
    [
      'a cut UTF-8 sequence in a UTF-8 file with BOM',
      { encoding: 'utf8', bom: true, eol: '\r\n', delimiter: '|' },
      'billing_monthly',
      7,
      Buffer.from([0x53, 0x31, 0x7c, 0xe5, 0xbc, 0x7c, 0x31]),
      'UTF-8',
    ],
    // 0x81 then "," (never a GBK trail byte; note that "|" is one, so a lead byte before a pipe is a valid character).
    [
      'a lone lead byte in a GBK file',
      { encoding: 'gbk', eol: '\n', delimiter: ',' },
      'subscribers',
      3,
      Buffer.concat([Buffer.from('X2,13900000002,'), Buffer.from([0x81]), Buffer.from(',active,,,,none,R,M1,')]),
      'GBK',
    ],
    [
      'the byte FF in a GB18030 file',
      { encoding: 'gb18030', eol: '\r\n', delimiter: ',' },
      'usage_daily',
      5,
      Buffer.from([0x46, 0x2c, 0xff, 0x2c, 0x31]),
      'GB18030',
    ],
  ];
  it.each(cases)('when %s then the run exits 65 naming the file and line', async (label, d, file, line, bytes, encName) => {
    const r = await corrupt(label.replaceAll(' ', '-'), d, file, line, bytes);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`${file}.csv:${line}: bytes that are not valid ${encName}`);
    expect(r.stderr).toContain('[CW_ENCODING]');
    expect(r.stderr).not.toContain('\ufffd');
    expect(existsSync(r.published)).toBe(false);
    expect(readdirSync(r.outDir).filter((e) => !e.startsWith('.'))).toEqual(['failed']);
  });

  // For gzip the error is thrown while consuming a stream pipeline; it must still come
  // out as the reader's own error (file, line, code), not the pipeline's AbortError.
  it('when a gzip UTF-8 file holds a cut sequence then the run exits 65 naming the file and line', async () => {
    const r = await corrupt(
      'gzip-cut-utf8',
      { encoding: 'utf8', eol: '\r\n', delimiter: ',', gzip: true },
      'billing_monthly',
      7,
      Buffer.from([0x53, 0x31, 0x2c, 0xe5, 0xbc, 0x2c, 0x31]),
    );
    expect(r.stderr).toContain('billing_monthly.csv:7: bytes that are not valid UTF-8');
    expect(r.code).toBe(65);
  });
});
