/**
 * Reads a scores table back for the task step (`churnwatch tasks --scores`): a
 * scores CSV (as scores.csv, or the SQL script's rows under `COPY ... (HEADER)` or
 * Spark's CSV writer, plain or gzip) or a Parquet file (scores.parquet, DuckDB's or
 * Spark's), or a folder of part files as Spark writes them (`part-*`, read in name
 * order; `_SUCCESS`, `.crc` and other hidden files are passed over). Each row goes
 * straight to a ScoresIntake; the bytes are hashed as they are read, for the manifest.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, openSync, readdirSync, readSync, closeSync, statSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ChurnwatchError } from '../errors.js';
import { CsvScanner, fieldString } from '../ingest/csv-scan.js';
import type { ScoresCell, ScoresIntake } from '../score/scores-intake.js';

export interface ScoresFileStats {
  /** The name given (a file or a folder of part files). */
  file: string;
  path: string;
  /** Bytes of every file read, and the sha256 of their bytes in the order read. */
  bytes: number;
  sha256: string;
  rows: number;
  format: 'csv' | 'parquet';
}

const PARQUET_MAGIC = 'PAR1';

function stat(path: string): Stats {
  try {
    return statSync(path);
  } catch {
    throw new ChurnwatchError('CW_INPUT_MISSING', `the scores file ${basename(path)} does not exist: give the file the SQL script wrote`, {
      file: basename(path),
    });
  }
}

/** The files to read: the file itself, or a folder's part files in name order. */
function partsOf(path: string): string[] {
  const st = stat(path);
  if (st.isFile()) return [path];
  if (!st.isDirectory())
    throw new ChurnwatchError('CW_INPUT_NOT_FILE', `${basename(path)} is neither a regular file nor a folder of part files`, {
      file: basename(path),
    });
  const parts = readdirSync(path)
    .filter((n) => !n.startsWith('_') && !n.startsWith('.') && statSync(join(path, n)).isFile())
    .sort()
    .map((n) => join(path, n));
  if (parts.length === 0)
    throw new ChurnwatchError('CW_INPUT_MISSING', `the folder ${basename(path)} holds no part file of scores`, { file: basename(path) });
  return parts;
}

function isParquet(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === PARQUET_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export async function readScoresFile(path: string, intake: ScoresIntake): Promise<ScoresFileStats> {
  const parts = partsOf(path);
  const hash = createHash('sha256');
  let bytes = 0;
  let rows = 0;
  let header: string[] | null = null;
  const formats = new Set<'csv' | 'parquet'>();
  for (const part of parts) {
    const name = parts.length === 1 && part === path ? basename(path) : `${basename(path)}/${basename(part)}`;
    const parquet = isParquet(part);
    formats.add(parquet ? 'parquet' : 'csv');
    intake.source(name, parquet ? 'row' : 'line');
    const got: PartRead = parquet ? await readParquet(part, name, intake, header, hash) : await readCsv(part, name, intake, header, hash);
    header = got.header;
    bytes += got.bytes;
    rows += got.rows;
  }
  if (formats.size > 1)
    throw new ChurnwatchError('CW_SCORES_INVALID', `${basename(path)} mixes CSV and Parquet part files: give one format`, {
      file: basename(path),
    });
  return { file: basename(path), path, bytes, sha256: hash.digest('hex'), rows, format: [...formats][0]! };
}

interface PartRead {
  header: string[];
  bytes: number;
  rows: number;
}

/** Every part file has the header of the first. */
function takeHeader(intake: ScoresIntake, first: string[] | null, names: string[], file: string, line: number): string[] {
  if (first === null) intake.header(names, line);
  else if (names.join('\u0000') !== first.join('\u0000'))
    throw new ChurnwatchError(
      'CW_SCORES_INVALID',
      `${file}: ${line === 0 ? 'its schema' : `line ${line}`}: the columns differ from the first part file's`,
      {
        file,
      },
    );
  return names;
}

async function readCsv(path: string, file: string, intake: ScoresIntake, first: string[] | null, hash: Hash): Promise<PartRead> {
  let header: string[] | null = null;
  let rows = 0;
  const scanner = new CsvScanner({ file }, (rec) => {
    const cells = new Array<string>(rec.count);
    for (let k = 0; k < rec.count; k++) cells[k] = fieldString(rec, k);
    if (header === null) {
      header = takeHeader(intake, first, cells, file, rec.line);
      return;
    }
    // A last line of nothing but its line feed is not a row.
    if (rec.count === 1 && cells[0] === '') return;
    intake.row(rec.line, cells);
    rows++;
  });
  let bytes = 0;
  const raw = createReadStream(path);
  raw.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk as Buffer);
  });
  const stream = /\.gz$/i.test(path) ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const chunk of stream) scanner.push(chunk as Buffer);
  } catch (e) {
    if (e instanceof ChurnwatchError) throw e;
    throw new ChurnwatchError('CW_CSV_MALFORMED', `${file}: could not be read (${(e as Error).message}); is it a complete scores file?`, {
      file,
    });
  }
  scanner.finish();
  if (header === null) throw new ChurnwatchError('CW_SCORES_INVALID', `${file}: the file is empty: it has no header`, { file });
  return { header, bytes, rows };
}

async function readParquet(path: string, file: string, intake: ScoresIntake, first: string[] | null, hash: Hash): Promise<PartRead> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } = await import('hyparquet');
  const size = statSync(path).size;
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const buffer = await asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw new ChurnwatchError('CW_SCORES_INVALID', `${file}: not a readable Parquet file (${(e as Error).message})`, { file });
  }
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  const header = takeHeader(intake, first, names, file, 0);
  const total = Number(metadata.num_rows);
  // One row group at a time: a range across two groups would decode both, and a group is what a writer holds in memory anyway.
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    const rows = await new Promise<ScoresCell[][]>((done, fail) => {
      parquetRead({
        file: buffer,
        metadata,
        rowStart: start,
        rowEnd: end,
        rowFormat: 'array',
        onComplete: (r) => done(r as ScoresCell[][]),
      }).catch(fail);
    });
    for (let k = 0; k < rows.length; k++) intake.row(start + k + 1, rows[k]!);
    start = end;
  }
  return { header, bytes: size, rows: total };
}
