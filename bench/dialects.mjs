// Export dialects for the benchmark: each variant is derived, deterministically, from
// the generated clean extracts and means the same thing (every rule gives the same
// flags on it), so churnwatch and DuckDB are timed on shapes that real BSS exports have
// while the answer stays checkable.
//
//   clean          the generator's own files (unquoted, YYYY-MM-DD, sorted, LF)
//   quoted         every field quoted, as many exporters write them
//   compact-dates  every date YYYYMMDD and every month YYYYMM
//   crlf           lines end in CR LF
//   shuffled       rows in a random order, a quarter of the dates YYYYMMDD and an eighth
//                  YYYY/MM/DD, names quoted, optional counts that are 0 left empty
//   gbk-pipe       GBK bytes, '|' between fields; churnwatch reads it through a run
//                  configuration, DuckDB as latin-1 (see duckdbDialect)
//   gz             every file gzip-compressed (<name>.csv.gz)
//
// Used by bench.mjs; `node bench/dialects.mjs VARIANT CLEAN_DIR OUT_DIR` derives one by hand.
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

export const DIALECTS = ['clean', 'quoted', 'compact-dates', 'crlf', 'shuffled', 'gbk-pipe', 'gz'];

/** Columns that hold a plain date (YYYY-MM-DD); created_at also does when it has no time. */
const DATE_COLUMNS = new Set(['status_since', 'activation_date', 'usage_date', 'created_at', 'start_date', 'end_date']);
const MONTH_COLUMNS = new Set(['bill_month']);
/** Optional numeric columns where an empty field counts 0 (input contract), so "0" may be left empty. */
const ZERO_MAY_BE_EMPTY = new Set(['sms', 'data_mb', 'forwarded_calls', 'mou', 'hotline_calls']);
const TEXT_QUOTED_IN_SHUFFLED = new Set(['name']);

/** What the DuckDB side needs to read a variant: file suffix and read_csv options. */
export function duckdbDialect(variant) {
  // DuckDB reads UTF-8, UTF-16 and latin-1 only; GBK needs its `encodings` extension,
  // which is downloaded at run time. Every byte the SQL looks at (ids, statuses, dates,
  // numbers) is ASCII, which latin-1 reads unchanged, and the transform quotes every
  // field whose GBK bytes hold a '|' or '"', so both sides split the records alike.
  if (variant === 'gbk-pipe') return { ext: '.csv', delim: '|', encoding: 'latin-1' };
  if (variant === 'gz') return { ext: '.csv.gz', delim: ',', encoding: 'utf-8' };
  return { ext: '.csv', delim: ',', encoding: 'utf-8' };
}

/** The run configuration churnwatch needs for a variant (YAML text), or null. */
export function churnwatchConfig(variant) {
  return variant === 'gbk-pipe' ? 'input:\n  delimiter: "|"\n  encoding: gbk\n' : null;
}

/** A small seeded generator (mulberry32): the same seed gives the same variant. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The fields of one record of the generator's output (',' between fields, '"' quoting). */
function splitRecord(line) {
  if (!line.includes('"')) return line.split(',');
  const out = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('a quoted field runs past the end of its line; the transform reads one record a line');
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
    } else {
      const c = line.indexOf(',', i);
      out.push(line.slice(i, c < 0 ? line.length : c));
      i = c < 0 ? line.length : c;
    }
    if (i >= line.length) return out;
    i++; // the ','
    if (i === line.length) {
      out.push('');
      return out;
    }
  }
}

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_MONTH = /^(\d{4})-(\d{2})$/;

/** How one variant writes a record: field values in, a string (without end of line) out. */
function recordWriter(variant, header, random) {
  const delim = variant === 'gbk-pipe' ? '|' : ',';
  const kinds = header.map((c) =>
    DATE_COLUMNS.has(c)
      ? 'day'
      : MONTH_COLUMNS.has(c)
        ? 'month'
        : ZERO_MAY_BE_EMPTY.has(c)
          ? 'zero'
          : TEXT_QUOTED_IN_SHUFFLED.has(c)
            ? 'name'
            : '',
  );
  const quote = (v) => `"${v.replaceAll('"', '""')}"`;
  const needsQuote = variant === 'gbk-pipe' ? (v) => /["|\r\n]/.test(v) || gbkHasPipe(v) : (v) => /[",\r\n]/.test(v);
  return (fields) => {
    for (let k = 0; k < fields.length; k++) {
      let v = fields[k];
      const kind = kinds[k];
      if (variant === 'compact-dates') {
        if (kind === 'day' && ISO_DAY.test(v)) v = v.replaceAll('-', '');
        else if (kind === 'month' && ISO_MONTH.test(v)) v = v.replace('-', '');
      } else if (variant === 'shuffled') {
        if (kind === 'day' && ISO_DAY.test(v)) {
          const r = random();
          if (r < 0.25) v = v.replaceAll('-', '');
          else if (r < 0.375) v = v.replaceAll('-', '/');
        } else if (kind === 'zero' && /^0(\.0+)?$/.test(v)) v = '';
      }
      fields[k] = variant === 'quoted' || (variant === 'shuffled' && kind === 'name' && v !== '') || needsQuote(v) ? quote(v) : v;
    }
    return fields.join(delim);
  };
}

let iconv = null;
async function loadIconv() {
  iconv ??= (await import('iconv-lite')).default;
  return iconv;
}
const gbkHasPipe = (v) => /\P{ASCII}/u.test(v) && iconv.encode(v, 'gbk').includes(0x7c);

/** Lines of a file, without their line ends, a chunk at a time. */
async function* lines(path) {
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    yield parts;
  }
  if (rest !== '') yield [rest];
}

/** A sink for text that encodes (UTF-8 or GBK), compresses when asked, and waits for the disk. */
function sink(path, { gbk, gzip }) {
  const file = createWriteStream(path, { highWaterMark: 1 << 20 });
  const gz = gzip ? createGzip() : null;
  const head = gz ?? file;
  const done = gz ? pipeline(gz, file) : once(file, 'close');
  let buffered = [];
  let size = 0;
  const flush = async () => {
    if (!buffered.length) return;
    const text = buffered.join('');
    buffered = [];
    size = 0;
    if (!head.write(gbk ? iconv.encode(text, 'gbk') : text)) await once(head, 'drain');
  };
  return {
    async put(s) {
      buffered.push(s);
      size += s.length;
      if (size >= 1 << 20) await flush();
    },
    async end() {
      await flush();
      head.end();
      await done;
    },
  };
}

/**
 * Derives one variant of every *.csv in cleanDir into outDir (emptied first) and writes
 * churnwatch.yaml beside the files when the variant needs a configuration.
 */
export async function deriveVariant(variant, cleanDir, outDir, seed = '1') {
  if (!DIALECTS.includes(variant) || variant === 'clean') throw new Error(`not a derived dialect: ${variant}`);
  if (variant === 'gbk-pipe') await loadIconv();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const eol = variant === 'crlf' ? '\r\n' : '\n';
  const files = [];
  for (const name of readdirSync(cleanDir)
    .filter((f) => f.endsWith('.csv'))
    .sort()) {
    const random = rng(seedOf(`${seed}/${variant}/${name}`));
    const target = variant === 'gz' ? `${name}.gz` : name;
    const out = sink(join(outDir, target), { gbk: variant === 'gbk-pipe', gzip: variant === 'gz' });
    let write = null;
    let rows = 0;
    // Shuffled rows are held in memory (about twice the file's size; meant for sizes up
    // to a few million subscribers) and written in a seeded random order.
    const held = variant === 'shuffled' ? [] : null;
    for await (const batch of lines(join(cleanDir, name))) {
      for (const line of batch) {
        if (write === null) {
          const header = splitRecord(line);
          write = recordWriter(variant, header, random);
          await out.put(header.join(variant === 'gbk-pipe' ? '|' : ',') + eol);
          continue;
        }
        if (line === '') continue;
        rows++;
        const record = write(splitRecord(line)) + eol;
        if (held) held.push(record);
        else await out.put(record);
      }
    }
    if (held) {
      for (let i = held.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [held[i], held[j]] = [held[j], held[i]];
      }
      for (const r of held) await out.put(r);
    }
    await out.end();
    files.push({ name: target, rows });
  }
  const config = churnwatchConfig(variant);
  if (config) writeFileSync(join(outDir, 'churnwatch.yaml'), config);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [variant, cleanDir, outDir] = process.argv.slice(2);
  if (!variant || !cleanDir || !outDir) {
    console.error(`usage: node bench/dialects.mjs ${DIALECTS.slice(1).join('|')} CLEAN_DIR OUT_DIR`);
    process.exit(64);
  }
  for (const f of await deriveVariant(variant, cleanDir, outDir)) console.log(`${f.name}\t${f.rows}`);
}
