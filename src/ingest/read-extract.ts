/**
 * Streams one CSV extract from disk through CsvScanner: plain or gzip (by the
 * `.gz` suffix or the 1f 8b magic bytes), UTF-8 or GBK/GB18030.
 *
 * Encoding checks:
 * - UTF-8: every chunk is validated with `buffer.isUtf8` (SIMD-accelerated in
 *   Node, tens of GB/s on ASCII, so numeric extracts pay almost nothing) before
 *   it reaches the scanner; a multi-byte sequence cut by a chunk boundary is
 *   checked together with the start of the next chunk. Only when a chunk fails
 *   does a byte-level validator run, to find the offending line.
 * - GBK/GB18030: decoded with a fatal, streaming TextDecoder and re-encoded as
 *   UTF-8 for the scanner. The ICU "gbk" decoder silently maps the byte 0xFF
 *   (never valid in GBK or GB18030) to a private-use character, so that byte is
 *   rejected explicitly. A decode error is located by re-decoding the failing
 *   chunk line by line (LF is always a character boundary in these encodings).
 * Invalid bytes throw CW_ENCODING with the file and line; nothing is replaced
 * with U+FFFD.
 */

import { isAscii, isUtf8 } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';
import { ChurnwatchError } from '../errors.js';
import { CsvScanner, type RecordView } from './csv-scan.js';
import { notRegularFile } from './layout.js';
import type { FastRows } from './plain-rows.js';

export interface ExtractReadOptions {
  /** Display name used in messages. */
  file: string;
  /** One ASCII character, default ','. */
  delimiter?: string;
  encoding?: 'utf8' | 'gbk' | 'gb18030';
  /** Bytes per read, default 1 MiB. */
  chunkSize?: number;
  /**
   * Updated as the file is read: bytes read from disk so far; `onChunk` is called
   * after each chunk (for progress reports).
   */
  progress?: { bytes: number; onChunk?: () => void };
  /**
   * A fast path for plain records (see plain-rows.ts), used from when `current` is
   * set (by the record callback, once the header is known). Until `settled` is set
   * too, records go to the scanner one line at a time, so that the fast path can
   * take over right after the header.
   */
  fast?: FastHolder;
  /**
   * Read only bytes [start, end) of a plain (not gzip) file, which must begin at a
   * record (see ranges.ts). No sha256 is made (a hash of part of a file is of no use)
   * unless `hashWhole` says so; a BOM is skipped only at offset 0.
   */
  range?: ByteRange;
  /**
   * With a range that starts at 0: make the sha256 of the whole file, over the range's
   * bytes as they are read, then over the rest of the file (read for the hash only,
   * after the range). SHA-256 is one sequence: the ranges after the first, read on
   * other threads at the same time, cannot add their bytes to it, so only the first
   * range's bytes are read once.
   */
  hashWhole?: boolean;
}

export interface ByteRange {
  start: number;
  end: number;
}

export interface ExtractReadInfo {
  records: number;
  lines: number;
  /** Bytes read from disk (the compressed size for gzip). */
  bytesRead: number;
  /** sha256 of the bytes read from disk, for the manifest (one pass, no second read); '' for a range unless hashWhole. */
  sha256: string;
  /** The bytes the sha256 was made over (the whole file's, for a range read with hashWhole). */
  hashedBytes: number;
  /** Size and modification time before the first byte was read, to detect a file rewritten under the run. */
  before: { size: number; mtimeMs: number };
  /** The last byte read ended a record (or an empty line): what a byte range must end with. */
  between: boolean;
}

const LF = 0x0a;
/**
 * The fast path's first call stops two bytes into the first record after this many
 * bytes: its scanning function then runs once to its end in the interpreter, through
 * the walk of a field cut by the end of its bytes too, before V8 compiles it on the
 * stack in the middle of a 1 MB chunk. Code that had not run when it was compiled
 * (after the loop; a field cut by a chunk's end, in every few chunks) threw the
 * compiled code away and compiled it again (each 50-250 ms of a background thread).
 * The record cut there goes to the general reader, as any record the fast path stops at.
 */
const FAST_WARM_BYTES = 4096;

interface Sink {
  push(chunk: Uint8Array): void;
  finish(): void;
}

/** Where readExtract finds the fast path of a file (set by the record callback). */
export interface FastHolder {
  current: FastRows | null;
  /** True once it is known whether there is a fast path (current says which). */
  settled: boolean;
}

/** What the sinks feed their (decoded, validated) bytes to: the scanner, or the scanner behind a fast path. */
interface Target {
  push(chunk: Uint8Array): void;
  /** Lines consumed so far (see CsvScanner.lines). */
  readonly lines: number;
}

/**
 * Hands a chunk to the fast path while the scanner stands between records, and the
 * records the fast path does not take to the scanner, one line at a time, until
 * the scanner stands between records again.
 */
class FastFeeder implements Target {
  private records = 0;
  private lfs = 0;
  /** First calls left that stop early (see FAST_WARM_BYTES); a few, in case they took nothing. */
  private coldCalls = 3;

  constructor(
    private readonly scanner: CsvScanner,
    private readonly fast: FastHolder,
  ) {}

  get lines(): number {
    return this.scanner.lines;
  }

  push(chunk: Uint8Array): void {
    const scanner = this.scanner;
    if (this.fast.settled && this.fast.current === null) {
      scanner.push(chunk);
      return;
    }
    const len = chunk.length;
    let p = 0;
    while (p < len) {
      const fast = this.fast.current;
      if (fast !== null && scanner.atRecordStart) {
        const lf = this.coldCalls > 0 ? chunk.indexOf(LF, p + FAST_WARM_BYTES) : -1;
        const q = fast.scan(chunk, p, lf < 0 ? len : Math.min(len, lf + 3));
        // (One that took nothing may have returned before its loop: subscriber-rows' unknown line.)
        if (this.coldCalls > 0) this.coldCalls = q !== p ? 0 : this.coldCalls - 1;
        if (fast.records !== this.records || fast.lines !== this.lfs) {
          scanner.skip(fast.records - this.records, fast.lines - this.lfs);
          this.records = fast.records;
          this.lfs = fast.lines;
        }
        p = q;
        if (p >= len) break;
      }
      const lf = chunk.indexOf(LF, p);
      const end = lf < 0 ? len : lf + 1;
      scanner.push(p === 0 && end === len ? chunk : chunk.subarray(p, end));
      p = end;
    }
  }
}

export async function readExtract(path: string, opts: ExtractReadOptions, onRecord: (rec: RecordView) => void): Promise<ExtractReadInfo> {
  const file = opts.file;
  const delimiter = opts.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7f) {
    throw new ChurnwatchError('CW_CONFIG_INVALID', `${file}: the CSV delimiter must be a single ASCII character`, { file });
  }
  const encoding = opts.encoding ?? 'utf8';
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? 1 << 20));
  const progress = opts.progress;
  const range = opts.range;
  const scanner = new CsvScanner({ file, delimiter: delimiter.charCodeAt(0), bom: (range?.start ?? 0) === 0 }, onRecord);
  const target: Target = opts.fast ? new FastFeeder(scanner, opts.fast) : scanner;
  const sink: Sink = encoding === 'utf8' ? new Utf8Sink(target, file) : new DecodingSink(target, file, encoding);

  const missing = (code: unknown) => {
    const why =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'does not exist'
        : `cannot be read (${typeof code === 'string' ? code : 'not a regular file'})`;
    return new ChurnwatchError('CW_EXTRACT_MISSING_FILE', `${file}: the extract file ${why}: ${path}`, { file, path });
  };
  let fh: FileHandle;
  try {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer,
    // forever, with the run's lock held. (No effect on a regular file.)
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw missing((e as { code?: unknown }).code);
  }

  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegularFile(file, st);
    const before = { size: st.size, mtimeMs: st.mtimeMs };
    const hash = createHash('sha256');
    const head = new Uint8Array(2);
    const { bytesRead: headLen } = await fh.read(head, 0, 2, 0);
    const gzip = path.endsWith('.gz') || (headLen === 2 && head[0] === 0x1f && head[1] === 0x8b);
    if (gzip && range) throw new ChurnwatchError('CW_INTERNAL', `${file}: a gzip file cannot be read by byte ranges`, { file });
    let bytesRead = 0;
    const hashing = !range || (opts.hashWhole === true && range.start === 0);
    let hashedBytes = 0;
    if (!gzip) {
      const from = range?.start ?? 0;
      // Bytes left to read: to the end of the range, or of the file (0 = no limit).
      const limit = range ? range.end - range.start : Infinity;
      // Two reused buffers: the next chunk is being read while this one is scanned
      // (the scanner copies what it keeps of a chunk: a partial record).
      let buf = new Uint8Array(chunkSize);
      let spare = new Uint8Array(chunkSize);
      const next = (into: Uint8Array) => fh.read(into, 0, Math.min(chunkSize, limit - bytesRead), from + bytesRead);
      let pending = next(buf);
      for (;;) {
        const { bytesRead: n } = await pending;
        if (n === 0) break;
        bytesRead += n;
        pending = next(spare);
        if (progress) progress.bytes = bytesRead;
        const chunk = n === chunkSize ? buf : buf.subarray(0, n);
        try {
          if (hashing) hash.update(chunk);
          sink.push(chunk);
          progress?.onChunk?.();
        } catch (e) {
          await pending.catch(() => undefined);
          throw e;
        }
        const t = buf;
        buf = spare;
        spare = t;
      }
      hashedBytes = bytesRead;
      if (hashing && range) hashedBytes += await hashRest(fh, range.end, hash, buf, spare);
    } else {
      const src = fh.createReadStream({ start: 0, highWaterMark: chunkSize, autoClose: false });
      src.on('data', (raw) => {
        hash.update(raw);
        if (progress) progress.bytes += raw.length;
      });
      // On Node 20 an error thrown by the consumer reaches pipeline()'s caller as an
      // AbortError; keep the consumer's own error (file, line, code) and rethrow that.
      let consumerError: unknown;
      try {
        await pipeline(src, createGunzip({ chunkSize: Math.max(chunkSize, 64) }), async (source: AsyncIterable<Uint8Array>) => {
          try {
            // Plain Uint8Array views keep the scanner's byte loads monomorphic (zlib yields Buffers).
            for await (const chunk of source) {
              sink.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
              progress?.onChunk?.();
            }
          } catch (e) {
            consumerError = e;
            throw e;
          }
        });
      } catch (e) {
        if (consumerError !== undefined) throw consumerError;
        if (e instanceof ChurnwatchError) throw e;
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && code.startsWith('Z_')) {
          throw new ChurnwatchError(
            'CW_ENCODING',
            `${file}: the gzip data is corrupt or truncated (${(e as Error).message}); re-export or re-transfer the file`,
            { file, line: scanner.lines + 1 },
          );
        }
        throw e;
      }
      bytesRead = src.bytesRead;
      hashedBytes = bytesRead;
    }
    const between = scanner.atRecordStart;
    sink.finish();
    scanner.finish();
    return {
      records: scanner.records,
      lines: scanner.lines,
      bytesRead,
      sha256: hashing ? hash.digest('hex') : '',
      hashedBytes: hashing ? hashedBytes : 0,
      before,
      between,
    };
  } finally {
    await fh.close();
  }
}

/** Adds the file's bytes from `from` to its end to `hash` (the next read under way while one is hashed); returns their count. */
async function hashRest(fh: FileHandle, from: number, hash: Hash, a: Uint8Array, b: Uint8Array): Promise<number> {
  let at = from;
  let pending = fh.read(a, 0, a.length, at);
  for (;;) {
    const { bytesRead: n, buffer } = await pending;
    if (n === 0) return at - from;
    at += n;
    pending = fh.read(buffer === a ? b : a, 0, a.length, at);
    hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
  }
}

/**
 * Reads a whole file for its sha256 and size (the byte ranges of a file cut between
 * threads hash nothing, see ranges.ts); times as epoch milliseconds.
 */
export async function hashFile(
  path: string,
): Promise<{ bytes: number; sha256: string; before: { size: number; mtimeMs: number }; startedAt: number; endedAt: number }> {
  const startedAt = performance.timeOrigin + performance.now();
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const hash = createHash('sha256');
    const bytes = await hashRest(fh, 0, hash, new Uint8Array(1 << 20), new Uint8Array(1 << 20));
    const sha256 = hash.digest('hex');
    return {
      bytes,
      sha256,
      before: { size: st.size, mtimeMs: st.mtimeMs },
      startedAt,
      endedAt: performance.timeOrigin + performance.now(),
    };
  } finally {
    await fh.close();
  }
}

function encodingError(file: string, encoding: string, line: number): ChurnwatchError {
  return new ChurnwatchError(
    'CW_ENCODING',
    `${file}:${line}: bytes that are not valid ${encoding} (check the declared encoding of the extract)`,
    { file, line },
  );
}

function countLf(b: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let k = b.indexOf(LF, from); k >= 0 && k < to; k = b.indexOf(LF, k + 1)) n++;
  return n;
}

/** Length of the UTF-8 sequence a lead byte announces (1 for bytes that cannot lead one). */
function utf8SeqLen(lead: number): number {
  if (lead >= 0xf0) return lead <= 0xf4 ? 4 : 1;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc2) return 2;
  return 1;
}

/** Offset of the first invalid UTF-8 sequence in b[from..to), or -1 (a sequence cut at `to` counts as invalid). */
export function firstInvalidUtf8(b: Uint8Array, from: number, to: number): number {
  let k = from;
  while (k < to) {
    const c = b[k];
    if (c < 0x80) {
      k++;
      continue;
    }
    const n = utf8SeqLen(c);
    if (n === 1 || k + n > to) return k;
    const c1 = b[k + 1];
    let lo = 0x80;
    let hi = 0xbf;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
    else if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
    if (c1 < lo || c1 > hi) return k;
    for (let j = 2; j < n; j++) if ((b[k + j] & 0xc0) !== 0x80) return k;
    k += n;
  }
  return -1;
}

class Utf8Sink implements Sink {
  /** A multi-byte sequence cut by the end of the previous chunk. */
  private readonly pend = new Uint8Array(4);
  private pendLen = 0;

  constructor(
    private readonly scanner: Target,
    private readonly file: string,
  ) {}

  push(chunk: Uint8Array): void {
    let from = 0;
    if (this.pendLen > 0) {
      const need = utf8SeqLen(this.pend[0]) - this.pendLen;
      const take = Math.min(need, chunk.length);
      this.pend.set(chunk.subarray(0, take), this.pendLen);
      if (take < need) {
        // Still incomplete (a tiny chunk): keep waiting as long as only continuation bytes came.
        for (let j = 0; j < take; j++) if ((chunk[j] & 0xc0) !== 0x80) throw this.fail(chunk, 0);
        this.pendLen += take;
        this.scanner.push(chunk);
        return;
      }
      if (!isUtf8(this.pend.subarray(0, this.pendLen + take))) throw this.fail(chunk, 0);
      this.pendLen = 0;
      from = take;
    }
    let end = chunk.length;
    if (end > from && chunk[end - 1] >= 0x80) {
      let k = end - 1;
      while (k > from && k > end - 4 && (chunk[k] & 0xc0) === 0x80) k--;
      if (chunk[k] >= 0xc0 && utf8SeqLen(chunk[k]) > end - k) end = k;
    }
    if (!isUtf8(chunk.subarray(from, end))) {
      const bad = firstInvalidUtf8(chunk, from, end);
      throw this.fail(chunk, bad < 0 ? from : bad);
    }
    if (end < chunk.length) {
      this.pend.set(chunk.subarray(end));
      this.pendLen = chunk.length - end;
    }
    this.scanner.push(chunk);
  }

  finish(): void {
    if (this.pendLen > 0) throw encodingError(this.file, 'UTF-8', this.scanner.lines + 1);
  }

  /** The error for an invalid byte at chunk[at] (line feeds of earlier chunks are counted by the scanner). */
  private fail(chunk: Uint8Array, at: number): ChurnwatchError {
    return encodingError(this.file, 'UTF-8', this.scanner.lines + 1 + countLf(chunk, 0, at));
  }
}

/** Raw bytes since the last line feed are kept (up to this size) to locate decode errors. */
const LINE_HEAD_MAX = 1 << 20;

class DecodingSink implements Sink {
  private readonly decoder: TextDecoder;
  private readonly encoder = new TextEncoder();
  private out = new Uint8Array(0);
  private lineHead: Uint8Array | null = new Uint8Array(0);
  /**
   * True while the decoder holds no part of a character: at the start, after a chunk
   * passed through, and after a decoded chunk that ended in LF (never part of a GBK or
   * GB18030 character).
   */
  private between = true;

  constructor(
    private readonly scanner: Target,
    private readonly file: string,
    private readonly encoding: 'gbk' | 'gb18030',
  ) {
    this.decoder = new TextDecoder(encoding, { fatal: true });
  }

  push(chunk: Uint8Array): void {
    if (this.between && isAscii(chunk)) {
      // ASCII is the same bytes in GBK, GB18030 and UTF-8: the fact extracts (ids,
      // dates, numbers) skip the decoding and re-encoding whole.
      this.scanner.push(chunk);
    } else {
      const ff = chunk.indexOf(0xff);
      if (ff >= 0) throw encodingError(this.file, this.encoding.toUpperCase(), this.scanner.lines + 1 + countLf(chunk, 0, ff));
      let s: string;
      try {
        s = this.decoder.decode(chunk, { stream: true });
      } catch {
        throw this.locate(chunk);
      }
      this.emit(s);
      this.between = chunk[chunk.length - 1] === LF;
    }
    const last = chunk.lastIndexOf(LF);
    if (last >= 0) {
      this.lineHead = chunk.slice(last + 1);
    } else if (this.lineHead !== null) {
      if (this.lineHead.length + chunk.length > LINE_HEAD_MAX) {
        this.lineHead = null;
      } else {
        const joined = new Uint8Array(this.lineHead.length + chunk.length);
        joined.set(this.lineHead);
        joined.set(chunk, this.lineHead.length);
        this.lineHead = joined;
      }
    }
  }

  finish(): void {
    let s: string;
    try {
      s = this.decoder.decode();
    } catch {
      throw encodingError(this.file, this.encoding.toUpperCase(), this.scanner.lines + 1);
    }
    this.emit(s);
  }

  private emit(s: string): void {
    if (s.length === 0) return;
    if (this.out.length < s.length * 3) this.out = new Uint8Array(Math.max(s.length * 3, 1 << 16));
    const { written } = this.encoder.encodeInto(s, this.out);
    this.scanner.push(this.out.subarray(0, written));
  }

  /** Finds the line of the first decode error in `chunk`, decoding it line by line. */
  private locate(chunk: Uint8Array): ChurnwatchError {
    const base = this.scanner.lines + 1;
    const bad = (bytes: Uint8Array, stream: boolean): boolean => {
      try {
        new TextDecoder(this.encoding, { fatal: true }).decode(bytes, { stream });
        return false;
      } catch {
        return true;
      }
    };
    const err = (line: number) => encodingError(this.file, this.encoding.toUpperCase(), line);
    const firstLf = chunk.indexOf(LF);
    const firstEnd = firstLf < 0 ? chunk.length : firstLf + 1;
    if (this.lineHead !== null) {
      const head = new Uint8Array(this.lineHead.length + firstEnd);
      head.set(this.lineHead);
      head.set(chunk.subarray(0, firstEnd), this.lineHead.length);
      if (bad(head, firstLf < 0)) return err(base);
    }
    let line = base + 1;
    for (let s = firstEnd; s < chunk.length; line++) {
      const lf = chunk.indexOf(LF, s);
      const e = lf < 0 ? chunk.length : lf + 1;
      if (bad(chunk.subarray(s, e), lf < 0)) return err(line);
      s = e;
    }
    return err(base);
  }
}
