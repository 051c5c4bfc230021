/**
 * Reading one large extract as several byte ranges, on as many threads, with the
 * same results as one reader of the whole file.
 *
 * Where a file is cut: at `size × i / count`, moved forward to just after the next
 * line feed. A line feed inside a quoted field would be a wrong cut, and which ones
 * are quoted cannot be told from the bytes near it (a quote before it may open or
 * close a field). So a cut is a guess that the ranges check afterwards, by induction:
 * the first range starts where the file's reader starts; a range that starts at a
 * record boundary is scanned in exactly the states the file's reader would be in at
 * the same bytes, so if it ends between records (its scanner holds no part of a
 * record after the cut's line feed, ExtractReadInfo.between), the cut was a record
 * boundary and the next range starts at one too. When a range does not end between
 * records, the guess was wrong and the results of the ranges are thrown away: the
 * file is read again whole, by one reader (mergeRanges returns null). The same
 * happens when a range failed (its error may come from a wrong cut): the one reader
 * then raises the error it would have raised anyway, with its line.
 *
 * The bytes a cut looks at are ASCII: LF (0x0a) and the quote (0x22). In UTF-8 every
 * byte of a multi-byte character is 0x80 or above; in GBK and GB18030 the lead bytes
 * are 0x81-0xFE and the trail bytes 0x40-0xFE (or 0x30-0x39 in GB18030's four-byte
 * form), so 0x0a and 0x22 never occur inside a character in any encoding an extract
 * may have: a cut after a line feed is a character boundary, and the decoders of the
 * ranges start and end clean. gzip files cannot be cut (a deflate stream can only be
 * read from its start): they are read whole.
 *
 * Line numbers: each range counts the line feeds it read; a range's rejects get the
 * lines of the ranges before it added, in range order. The file's sha256 is made by
 * the reader of the first range: over its bytes as it reads them, then over the rest
 * of the file, read again for that alone (read-extract.ts hashWhole; SHA-256 runs in
 * one sequence, which the other ranges, read at the same time on other threads,
 * cannot feed); or, when a thread is free before the ranges can be read (they need
 * the subscribers' id table), by a hash job of the file (RangeMerge.hashed).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { TextDecoder } from 'node:util';
import { ChurnwatchError } from '../errors.js';
import { CsvScanner, fieldString } from './csv-scan.js';
import type { FactResult } from './fact-jobs.js';
import { billingMerge, usageMerge, type BillingWindows, type MeasureMerge } from './facts.js';
import { encodingOf, type ExtractName, type InputOptions } from './layout.js';
import type { ByteRange } from './read-extract.js';
import type { RejectRow } from './rejects.js';
import { noDataRows, type FileStats } from './table-reader.js';

const LF = 0x0a;
/** How far into a file its header must end for the file to be cut. */
const HEADER_MAX = 1 << 20;
/** Bytes read at a time while looking for the line feed after a cut. */
const PROBE = 64 << 10;

/** Where a file is cut, and its header (which the ranges after the first do not hold). */
export interface RangePlan {
  header: string[];
  ranges: ByteRange[];
}

/**
 * Up to `count` ranges of at least `minBytes` each, or null when the file is not cut:
 * too small, gzip, a wide export, or a header that cannot be read here (the one reader then reports
 * what is wrong with it). `lead`: bytes the first range holds more than the others
 * (at most half a range's share).
 */
export async function planRanges(
  path: string,
  extract: ExtractName,
  input: InputOptions,
  count: number,
  minBytes: number,
  lead = 0,
): Promise<RangePlan | null> {
  if (count < 2 || /\.gz$/i.test(path)) return null;
  // A wide export is read whole by its own reader (wide-rows.ts).
  if ((extract === 'billing_monthly' || extract === 'usage_daily') && input.wide?.[extract] !== undefined) return null;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const size = st.size;
    const n = Math.min(count, Math.floor(size / Math.max(1, minBytes)));
    if (n < 2) return null;
    const head = new Uint8Array(Math.min(size, HEADER_MAX));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return null;
    const found = readHeader(head.subarray(0, bytesRead), extract, input);
    if (found === null) return null;
    const cuts: number[] = [0];
    const probe = new Uint8Array(PROBE);
    const first = Math.min(Math.max(0, lead), size / (2 * n));
    for (let i = 1; i < n; i++) {
      let at = Math.max(Math.floor(first + ((size - first) * i) / n), found.end, cuts[cuts.length - 1]! + 1);
      let cut = -1;
      while (cut < 0 && at < size) {
        const { bytesRead: got } = await fh.read(probe, 0, PROBE, at);
        if (got === 0) break;
        const lf = probe.subarray(0, got).indexOf(LF);
        if (lf >= 0) cut = at + lf + 1;
        else at += got;
      }
      if (cut < 0 || cut >= size) break;
      cuts.push(cut);
    }
    if (cuts.length < 2) return null;
    const ranges = cuts.map((start, i) => ({ start, end: i + 1 < cuts.length ? cuts[i + 1]! : size }));
    return { header: found.header, ranges };
  } finally {
    await fh.close();
  }
}

/** The header's fields and the offset just after its line feed, or null. */
function readHeader(head: Uint8Array, extract: ExtractName, input: InputOptions): { header: string[]; end: number } | null {
  const file = extract;
  try {
    // Where the first record ends: scanned line by line, on the raw bytes (the bytes
    // that decide it are ASCII in every encoding, see above).
    let records = 0;
    const scanner = new CsvScanner({ file, delimiter: input.delimiter.charCodeAt(0) }, () => records++);
    let end = -1;
    for (let p = 0; p < head.length && end < 0; ) {
      const lf = head.indexOf(LF, p);
      if (lf < 0) return null;
      scanner.push(head.subarray(p, lf + 1));
      p = lf + 1;
      if (records > 0) end = p;
    }
    if (end < 0) return null;
    // Its fields, decoded as the reader decodes them.
    const encoding = encodingOf(input, extract);
    const text = new TextDecoder(encoding === 'utf8' ? 'utf-8' : encoding, { fatal: true }).decode(head.subarray(0, end));
    let header: string[] | null = null;
    const fields = new CsvScanner({ file, delimiter: input.delimiter.charCodeAt(0) }, (rec) => {
      header ??= Array.from({ length: rec.count }, (_, i) => fieldString(rec, i));
    });
    fields.push(new TextEncoder().encode(text));
    return header === null ? null : { header, end };
  } catch {
    return null;
  }
}

/** What a merge needs besides the ranges' results: the measures' settings. */
export interface MergeContext {
  input: InputOptions;
  /** Billing: how many months each measure keeps. */
  windows?: BillingWindows;
  mayBeEmpty?: boolean;
}

/**
 * The result one reader of the whole file would have given, from the results of its
 * ranges (any order; the first holds the file's sha256); null when a cut fell inside
 * a record (see the module comment): the caller then reads the file whole.
 */
export function mergeRanges(parts: FactResult[], ctx: MergeContext): FactResult | null {
  const merge = new RangeMerge(parts[0]!.extract, parts.length, ctx);
  for (const p of parts) merge.add(p);
  return merge.finish();
}

/**
 * mergeRanges one range at a time, as each arrives (in any order; each is folded in
 * as soon as the ranges before it are, and let go): the merge runs while the other
 * ranges are still being read, and the ranges' parts are never all held at once.
 */
export class RangeMerge {
  private readonly measures: MeasureMerge;
  /** Ranges that came before an earlier one. */
  private readonly waiting = new Map<number, FactResult>();
  private next = 0;
  /** A range before the last did not end between records. */
  private cutInRecord = false;
  private readonly rejects: RejectRow[] = [];
  private lines = 0;
  private readonly stats: FileStats[] = [];
  /** The file's hash job's stats, when a hash job made its sha256 instead of the first range. */
  private hash: FileStats | null = null;

  constructor(
    extract: ExtractName,
    private readonly count: number,
    private readonly ctx: MergeContext,
  ) {
    this.measures = extract === 'billing_monthly' ? billingMerge(ctx.input, ctx.windows ?? {}) : usageMerge(ctx.input);
  }

  /** Every range is in, and the file's sha256 (the first range's, or its hash job's). */
  get complete(): boolean {
    return this.next === this.count && (this.hash !== null || this.stats[0]!.range!.hashed !== undefined);
  }

  /** The result of the file's hash job (fact-jobs.ts), whose first range then hashed nothing. */
  hashed(stats: FileStats): void {
    this.hash = stats;
  }

  add(r: FactResult): void {
    this.waiting.set(r.range!, r);
    for (let got = this.waiting.get(this.next); got !== undefined; got = this.waiting.get(this.next)) {
      this.waiting.delete(this.next);
      const range = got.stats.range!;
      if (this.next + 1 < this.count && !range.between) this.cutInRecord = true;
      this.next++;
      this.stats.push(got.stats);
      if (this.cutInRecord) continue;
      const offset = this.lines;
      for (const row of got.rejects) this.rejects.push(offset === 0 ? row : { ...row, line: row.line + offset });
      this.lines += range.lines;
      this.measures.add(got.part!);
    }
  }

  /** The merged result, once every range is in (see mergeRanges). */
  finish(): FactResult | null {
    if (!this.complete) throw new Error(`RangeMerge: ${this.next} of ${this.count} ranges merged, hash ${this.hash !== null}`);
    if (this.cutInRecord) return null;
    const ranges = this.stats;
    // The first range or the hash job hashed the whole file: the ranges must add up to what it hashed, of the same file.
    const h = this.hash ?? ranges[0]!;
    const bytes = ranges.reduce((a, r) => a + r.bytes, 0);
    const sameFile = (b: FileStats['before']) => b.size === h.before.size && b.mtimeMs === h.before.mtimeMs;
    const hashed = this.hash !== null ? this.hash.bytes : h.range!.hashed;
    if (bytes !== hashed || !ranges.every((r) => sameFile(r.before))) {
      throw new ChurnwatchError('CW_INPUT_CHANGED', `${h.file} changed while the run read it; rerun when the export has finished`, {
        file: h.file,
      });
    }
    const records = ranges.reduce((a, r) => a + r.records, 0);
    if (records === 0 && !this.ctx.mayBeEmpty) throw noDataRows(h.file);
    const spans = ranges.map((r) => r.range!);
    const stats: FileStats = {
      extract: h.extract,
      file: h.file,
      path: h.path,
      bytes,
      records,
      accepted: ranges.reduce((a, r) => a + r.accepted, 0),
      rejected: ranges.reduce((a, r) => a + r.rejected, 0),
      ms: Math.max(...spans.map((s) => s.endedAt)) - Math.min(...spans.map((s) => s.startedAt)),
      sha256: h.sha256,
      before: h.before,
    };
    const m = this.measures.finish();
    return { extract: h.extract, stats: { ...stats, duplicates: m.duplicates }, rejects: this.rejects, ...m.fold };
  }
}
