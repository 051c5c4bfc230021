/**
 * RFC 4180 CSV scanner over bytes. It finds field boundaries without creating a
 * string per field: each record is handed to the callback as a reused view of
 * (buffer, start offsets, end offsets), and the field helpers below decode or
 * parse fields straight from the bytes.
 *
 * Semantics (equal to csv-parse 7 with `{ delimiter, quote: '"', escape: '"',
 * skip_empty_lines: true, bom: true, relax_column_count: true,
 * record_delimiter: ['\n', '\r\n'] }`, which the property tests check):
 * - a UTF-8 BOM at the very start of the stream is skipped;
 * - records end at LF or CR LF; a lone CR is an ordinary field byte;
 * - lines that are completely empty are skipped; a line holding only spaces or
 *   only a delimiter is a record;
 * - a quoted field may hold delimiters, CR, LF and `""` (one quote); the view
 *   points at the unescaped content;
 * - malformed input (unterminated quoted field, a byte other than delimiter or
 *   line end after a closing quote, a quote inside an unquoted field) throws
 *   ChurnwatchError CW_CSV_MALFORMED with {file, line, column: field number}.
 *   The message never contains field content.
 *   One deliberate difference: csv-parse accepts a NUL byte right after a closing
 *   quote (and appends it to the field); this scanner rejects it.
 *
 * Line numbers count LF only (CR LF counts once, a lone CR not at all), and LFs
 * inside quoted fields count. `RecordView.line` is the line a record starts on.
 *
 * Speed: records that lie inside one pushed chunk are scanned in place ("fast
 * mode": tight byte loops, offsets into the caller's chunk, no copying). Only a
 * record that runs over the end of a chunk, or that contains an escaped quote,
 * is re-scanned from its first byte by a resumable state machine ("copy mode")
 * that copies its unescaped bytes into the scanner's own record buffer, so only
 * partial records are copied. The chunk passed to push() is never modified and
 * not retained after push() returns (callers may reuse it). No allocation per
 * record or field; buffers grow by doubling. After an exception (from the scanner
 * or from the callback) the scanner must be discarded.
 */

import { ChurnwatchError } from '../errors.js';
import { MAX_YEAR, MIN_YEAR } from '../util/dates.js';

export interface ScanOptions {
  /** Name used in error messages (e.g. 'usage_daily.csv'). */
  file: string;
  /** Delimiter byte, default 0x2c ','. Any ASCII byte other than CR, LF and the quote. */
  delimiter?: number;
  /** Quote byte, default 0x22 '"'. Any ASCII byte other than CR, LF and the delimiter. */
  quote?: number;
  /**
   * Skip a UTF-8 BOM at the start of the stream (default true). False for a stream
   * that starts inside a file (a byte range after the first): there those bytes
   * would be data, as they are to a reader of the whole file.
   */
  bom?: boolean;
}

/** A view of the current record; valid only during the onRecord callback (it is reused). */
export interface RecordView {
  /** 1-based physical line where the record starts. */
  line: number;
  /** Number of fields. */
  count: number;
  /** Bytes holding the (unescaped) field contents. */
  buf: Uint8Array;
  /** Field i is buf[start[i] .. end[i]); the capacity may exceed count. */
  start: Int32Array;
  end: Int32Array;
}

const LF = 0x0a;
const CR = 0x0d;

// Copy-mode states.
const S_REC = 0; // at the start of a record; nothing of it seen yet
const S_FIELD = 1; // at the start of a field that follows a delimiter
const S_UNQ = 2; // inside an unquoted field
const S_CR = 3; // saw a CR outside quotes; the next byte decides (see crFrom)
const S_QUO = 4; // inside a quoted field
const S_QUO_Q = 5; // inside a quoted field, just saw a quote
const S_CLOSED_CR = 6; // after a closing quote, saw a CR

export class CsvScanner {
  private readonly file: string;
  private readonly delim: number;
  private readonly quote: number;
  /** Bytes above this are ordinary in an unquoted field unless they are the delimiter. */
  private readonly hi: number;
  private readonly onRecord: (rec: RecordView) => void;
  private readonly rec: RecordView;

  /** Line feeds consumed so far. */
  private lf = 0;
  private nRecords = 0;
  private bomDone = false;
  private bomStash: Uint8Array | null = null;
  private finished = false;
  private broken = false;
  private sawBytes = false;
  private lastByteLf = false;

  // Copy mode (a record being assembled in rbuf across chunks).
  private copying = false;
  private st = S_REC;
  private crFrom = S_REC;
  private rbuf = new Uint8Array(4096);
  private rlen = 0;
  private cn = 0;
  private fstart = 0;
  private recLf = 0;
  private quoteLf = 0;

  constructor(opts: ScanOptions, onRecord: (rec: RecordView) => void) {
    const delim = opts.delimiter ?? 0x2c;
    const quote = opts.quote ?? 0x22;
    for (const [name, b] of [
      ['delimiter', delim],
      ['quote', quote],
    ] as const) {
      if (!Number.isInteger(b) || b < 0 || b > 0x7f || b === LF || b === CR) {
        throw new ChurnwatchError(
          'CW_CONFIG_INVALID',
          `${opts.file}: the CSV ${name} must be a single ASCII character other than CR and LF`,
          { file: opts.file },
        );
      }
    }
    if (delim === quote) {
      throw new ChurnwatchError('CW_CONFIG_INVALID', `${opts.file}: the CSV delimiter and quote must differ`, { file: opts.file });
    }
    this.file = opts.file;
    this.delim = delim;
    this.quote = quote;
    this.hi = Math.max(quote, CR, LF);
    this.onRecord = onRecord;
    if (opts.bom === false) this.bomDone = true;
    this.rec = { line: 0, count: 0, buf: this.rbuf, start: new Int32Array(64), end: new Int32Array(64) };
  }

  /** Records emitted so far. */
  get records(): number {
    return this.nRecords;
  }

  /** Physical lines consumed so far: line feeds, plus a last line without one once finish() ran. */
  get lines(): number {
    return this.lf + (this.finished && this.sawBytes && !this.lastByteLf ? 1 : 0);
  }

  /**
   * True between records: the next byte pushed starts a record (or an empty line).
   * Only then may a caller fold records itself and account for them with skip().
   */
  get atRecordStart(): boolean {
    return this.bomDone && this.bomStash === null && !this.copying && !this.finished && !this.broken;
  }

  /**
   * Accounts for `records` complete records spanning `lfs` line feeds that the caller
   * read itself (see FastRows), right after the last byte pushed; the last of those
   * bytes was a line feed. Only valid when atRecordStart.
   */
  skip(records: number, lfs: number): void {
    if (!this.atRecordStart)
      throw new ChurnwatchError('CW_INTERNAL', `${this.file}: CSV scanner skipped in the middle of a record`, { file: this.file });
    this.nRecords += records;
    this.lf += lfs;
    if (lfs > 0) {
      this.sawBytes = true;
      this.lastByteLf = true;
    }
  }

  /** Scans a chunk. Chunk boundaries may fall anywhere, even inside `""` or CR LF. */
  push(chunk: Uint8Array): void {
    if (this.finished || this.broken)
      throw new ChurnwatchError('CW_INTERNAL', `${this.file}: CSV scanner used after ${this.finished ? 'finish()' : 'an error'}`, {
        file: this.file,
      });
    let b = chunk;
    let p = 0;
    if (!this.bomDone) {
      if (this.bomStash !== null) {
        const joined = new Uint8Array(this.bomStash.length + b.length);
        joined.set(this.bomStash);
        joined.set(b, this.bomStash.length);
        b = joined;
        this.bomStash = null;
      }
      if (b.length < 3) {
        // Too short to tell; keep it unless it already cannot be a BOM.
        if ((b.length === 0 || b[0] === 0xef) && (b.length < 2 || b[1] === 0xbb)) {
          if (b.length > 0) this.bomStash = b.slice();
          return;
        }
      } else if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
        p = 3;
      }
      this.bomDone = true;
    }
    const len = b.length;
    if (p >= len) return;
    this.sawBytes = true;
    this.lastByteLf = b[len - 1] === LF;
    if (this.copying) {
      p = this.copyScan(b, p, len);
      if (p >= len) return;
    }
    this.fastScan(b, p, len);
  }

  /** Flushes the last record (no trailing newline needed) and checks for an unterminated quote. */
  finish(): void {
    if (this.finished) return;
    if (this.broken) throw new ChurnwatchError('CW_INTERNAL', `${this.file}: CSV scanner used after an error`, { file: this.file });
    if (!this.bomDone) {
      this.bomDone = true;
      const stash = this.bomStash;
      this.bomStash = null;
      if (stash !== null) this.push(stash);
    }
    this.finished = true;
    if (!this.copying) return;
    switch (this.st) {
      case S_REC:
        break;
      case S_CR:
        this.put(CR);
        this.emitCopy();
        break;
      case S_FIELD:
      case S_UNQ:
      case S_QUO_Q:
        this.emitCopy();
        break;
      case S_QUO:
        throw this.fail(this.quoteLf + 1, this.cn + 1, 'a quoted field is not closed before the end of the file');
      case S_CLOSED_CR:
        throw this.fail(this.lf + 1, this.cn + 1, 'a quoted field is followed by a carriage return that does not end the line');
    }
    this.copying = false;
    this.st = S_REC;
  }

  /**
   * Scans complete records in place. A record that reaches the end of the chunk,
   * or that holds an escaped quote, is handed to copyScan from its first byte.
   */
  private fastScan(b: Uint8Array, p: number, len: number): void {
    const d = this.delim;
    const q = this.quote;
    const hi = this.hi;
    const rec = this.rec;
    const onRecord = this.onRecord;
    let start = rec.start;
    let end = rec.end;
    let cap = start.length;
    let lf = this.lf;
    let recStart = -1;
    let recLf = 0;

    records: while (p < len) {
      let c = b[p];
      if (c === LF) {
        lf++;
        p++;
        continue;
      }
      if (c === CR && p + 1 < len && b[p + 1] === LF) {
        lf++;
        p += 2;
        continue;
      }
      recStart = p;
      recLf = lf;
      let n = 0;
      fields: for (;;) {
        if (p >= len) break records;
        if (n === cap) {
          this.grow();
          start = rec.start;
          end = rec.end;
          cap = start.length;
        }
        if (b[p] !== q) {
          const s = p;
          for (;;) {
            // Most bytes (digits, letters, UTF-8) are above `hi`: one comparison each.
            while (p < len && ((c = b[p]) > hi ? c !== d : c !== d && c !== q && c !== LF && c !== CR)) p++;
            if (p >= len) break records;
            if (c === d) {
              start[n] = s;
              end[n++] = p++;
              continue fields;
            }
            if (c === LF) {
              start[n] = s;
              end[n++] = p++;
              break fields;
            }
            if (c === CR) {
              if (p + 1 >= len) break records;
              if (b[p + 1] === LF) {
                start[n] = s;
                end[n++] = p;
                p += 2;
                break fields;
              }
              p++;
              continue;
            }
            this.lf = lf;
            throw this.fail(
              lf + 1,
              n + 1,
              'a quote character appears inside an unquoted field (quote the whole field and double the quotes inside it)',
            );
          }
        } else {
          const s = ++p;
          for (;;) {
            while (p < len && (c = b[p]) !== q) {
              if (c === LF) lf++;
              p++;
            }
            if (p + 1 >= len) break records;
            c = b[p + 1];
            if (c === d) {
              start[n] = s;
              end[n++] = p;
              p += 2;
              continue fields;
            }
            if (c === LF) {
              start[n] = s;
              end[n++] = p;
              p += 2;
              break fields;
            }
            if (c === CR) {
              if (p + 2 >= len) break records;
              if (b[p + 2] === LF) {
                start[n] = s;
                end[n++] = p;
                p += 3;
                break fields;
              }
            } else if (c === q) {
              // An escaped quote: rescan this record in copy mode, which unescapes it.
              this.lf = recLf;
              this.copying = true;
              this.st = S_REC;
              const from = recStart;
              recStart = -1;
              p = this.copyScan(b, from, len);
              if (this.copying) return;
              lf = this.lf;
              start = rec.start;
              end = rec.end;
              cap = start.length;
              continue records;
            }
            this.lf = lf;
            throw this.fail(lf + 1, n + 1, 'a quoted field is followed by something other than the delimiter or the end of the line');
          }
        }
      }
      // The record ended with a line feed (counted now).
      lf++;
      this.lf = lf;
      recStart = -1;
      rec.buf = b;
      rec.count = n;
      rec.line = recLf + 1;
      this.nRecords++;
      onRecord(rec);
      start = rec.start;
      end = rec.end;
      cap = start.length;
    }
    if (recStart < 0) {
      this.lf = lf;
      return;
    }
    // The record starting at recStart runs past the end of the chunk: rescan it in copy mode.
    this.lf = recLf;
    this.copying = true;
    this.st = S_REC;
    this.copyScan(b, recStart, len);
  }

  private grow(): void {
    const rec = this.rec;
    const cap = rec.start.length * 2;
    const s = new Int32Array(cap);
    const e = new Int32Array(cap);
    s.set(rec.start);
    e.set(rec.end);
    rec.start = s;
    rec.end = e;
  }

  private fail(line: number, column: number, what: string): ChurnwatchError {
    this.broken = true;
    const ctx = { file: this.file, line, column };
    return new ChurnwatchError('CW_CSV_MALFORMED', `${this.file}:${line}: malformed CSV in field ${column}: ${what}`, ctx);
  }

  private put(c: number): void {
    if (this.rlen === this.rbuf.length) {
      const nb = new Uint8Array(this.rbuf.length * 2);
      nb.set(this.rbuf);
      this.rbuf = nb;
    }
    this.rbuf[this.rlen++] = c;
  }

  private endField(rl: number): void {
    const rec = this.rec;
    if (this.cn === rec.start.length) this.grow();
    rec.start[this.cn] = this.fstart;
    rec.end[this.cn] = rl;
    this.cn++;
    this.fstart = rl;
  }

  private emitCopy(): void {
    this.endField(this.rlen);
    const rec = this.rec;
    rec.buf = this.rbuf;
    rec.count = this.cn;
    rec.line = this.recLf + 1;
    this.nRecords++;
    this.onRecord(rec);
  }

  /**
   * The resumable state machine. Consumes b[p..len) until the current record is
   * complete (emits it, leaves copy mode and returns the position after it) or
   * the chunk ends (returns len, state kept for the next chunk).
   */
  private copyScan(b: Uint8Array, p: number, len: number): number {
    const d = this.delim;
    const q = this.quote;
    // Unescaping never grows the data: this chunk adds at most len - p bytes, plus a pending CR.
    const need = this.rlen + (len - p) + 1;
    if (need > this.rbuf.length) {
      let size = this.rbuf.length * 2;
      while (size < need) size *= 2;
      const nb = new Uint8Array(size);
      nb.set(this.rbuf.subarray(0, this.rlen));
      this.rbuf = nb;
    }
    const rb = this.rbuf;
    let rl = this.rlen;
    let lf = this.lf;
    let st = this.st;
    let c = 0;
    while (p < len) {
      c = b[p];
      switch (st) {
        case S_REC:
        case S_FIELD:
          if (st === S_REC) {
            rl = 0;
            this.cn = 0;
            this.recLf = lf;
            if (c === LF) {
              // An empty line: skip it and go back to fast mode.
              return this.leaveCopy(0, lf + 1, p + 1, false);
            }
          }
          this.fstart = rl;
          p++;
          if (c === q) {
            this.quoteLf = lf;
            st = S_QUO;
          } else if (c === CR) {
            this.crFrom = st;
            st = S_CR;
          } else if (c === d) {
            this.endField(rl);
            st = S_FIELD;
          } else if (c === LF) {
            // Only reachable from S_FIELD: the line ends with an empty last field.
            return this.leaveCopy(rl, lf + 1, p, true);
          } else {
            rb[rl++] = c;
            st = S_UNQ;
          }
          break;
        case S_UNQ:
          while (p < len && (c = b[p]) !== d && c !== q && c !== LF && c !== CR) {
            rb[rl++] = c;
            p++;
          }
          if (p >= len) break;
          p++;
          if (c === d) {
            this.endField(rl);
            st = S_FIELD;
          } else if (c === LF) {
            return this.leaveCopy(rl, lf + 1, p, true);
          } else if (c === CR) {
            this.crFrom = S_UNQ;
            st = S_CR;
          } else {
            this.lf = lf;
            throw this.fail(
              lf + 1,
              this.cn + 1,
              'a quote character appears inside an unquoted field (quote the whole field and double the quotes inside it)',
            );
          }
          break;
        case S_CR:
          if (c === LF) return this.leaveCopy(rl, lf + 1, p + 1, this.crFrom !== S_REC);
          // A lone CR is field content; this byte is looked at again as part of the field.
          rb[rl++] = CR;
          st = S_UNQ;
          break;
        case S_QUO:
          while (p < len && (c = b[p]) !== q) {
            if (c === LF) lf++;
            rb[rl++] = c;
            p++;
          }
          if (p < len) {
            p++;
            st = S_QUO_Q;
          }
          break;
        case S_QUO_Q:
          p++;
          if (c === q) {
            rb[rl++] = q;
            st = S_QUO;
          } else if (c === d) {
            this.endField(rl);
            st = S_FIELD;
          } else if (c === LF) {
            return this.leaveCopy(rl, lf + 1, p, true);
          } else if (c === CR) {
            st = S_CLOSED_CR;
          } else {
            this.lf = lf;
            throw this.fail(lf + 1, this.cn + 1, 'a quoted field is followed by something other than the delimiter or the end of the line');
          }
          break;
        case S_CLOSED_CR:
          if (c === LF) return this.leaveCopy(rl, lf + 1, p + 1, true);
          this.lf = lf;
          throw this.fail(lf + 1, this.cn + 1, 'a quoted field is followed by something other than the delimiter or the end of the line');
      }
    }
    this.rlen = rl;
    this.lf = lf;
    this.st = st;
    this.copying = true;
    return len;
  }

  /** Ends copy mode at a line feed, emitting the record unless the line was empty. */
  private leaveCopy(rl: number, lf: number, next: number, emit: boolean): number {
    this.rlen = rl;
    this.lf = lf;
    this.copying = false;
    this.st = S_REC;
    if (emit) this.emitCopy();
    return next;
  }
}

// ---------------------------------------------------------------------------
// Field helpers: they read the bytes of field i of a RecordView directly. A
// field index outside 0..count-1 reads as an empty field.

/** ASCII whitespace: space, tab, LF, VT, FF, CR. */
function isWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

// A Buffer view of the last record buffer seen, so that fields decode with
// Buffer#toString (fast, no intermediate copy). Records of one chunk share it.
let lastBytes: Uint8Array | null = null;
let lastView: Buffer | null = null;

/**
 * The field as a string, decoded as UTF-8 (a U+FEFF inside a field is kept;
 * invalid bytes, which readExtract rejects up front, would become U+FFFD).
 */
export function fieldString(rec: RecordView, i: number): string {
  if (i < 0 || i >= rec.count) return '';
  const b = rec.buf;
  if (b !== lastBytes || lastView === null) {
    lastView = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    lastBytes = b;
  }
  return lastView.toString('utf8', rec.start[i], rec.end[i]);
}

/** True when the field is missing (i >= count), empty, or only ASCII whitespace. */
export function fieldIsEmpty(rec: RecordView, i: number): boolean {
  if (i < 0 || i >= rec.count) return true;
  const b = rec.buf;
  for (let k = rec.start[i], e = rec.end[i]; k < e; k++) if (!isWs(b[k])) return false;
  return true;
}

/** Byte-for-byte equality of the field with `ascii` (no trimming, case-sensitive). */
export function fieldEquals(rec: RecordView, i: number, ascii: Uint8Array): boolean {
  if (i < 0 || i >= rec.count) return ascii.length === 0;
  const b = rec.buf;
  const s = rec.start[i];
  if (rec.end[i] - s !== ascii.length) return false;
  for (let k = 0; k < ascii.length; k++) if (b[s + k] !== ascii[k]) return false;
  return true;
}

const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
const TWO_53 = 9007199254740992;
/** floor(2^53 / 10): v * 10 + d stays <= 2^53 iff v < this, or v === this and d <= 2. */
const ACC_MAX = 900719925474099;

/**
 * Decimal → integer scaled by 10^scale (scale 0..15): '12.34' scale 2 → 1234,
 * '-5' → -500, '+1.5' → 150, ' 7 ' → 700 (surrounding ASCII whitespace is ignored).
 * '.5' and '5.' are accepted. More fractional digits than `scale` → NaN unless the
 * extra ones are all zeros ('1.2300' is fine). Empty, junk, an exponent, or a
 * result with |result| > 2^53 → NaN. With `thousands`, the integer part may be
 * grouped with commas ('1,234,567.50'): 1–3 digits, then groups of exactly 3;
 * only meaningful when the delimiter is not ','. Never returns -0.
 */
export function parseScaled(rec: RecordView, i: number, scale: number, thousands = false): number {
  if (i < 0 || i >= rec.count) return NaN;
  const b = rec.buf;
  const s = rec.start[i];
  const e = rec.end[i];
  const v = plainScaledAt(b, s, e, scale);
  return v === v ? v : parseScaledGeneral(b, s, e, scale, thousands);
}

/**
 * The usual shape of a number, parsed fast: [-]digits[.digits] with at most 15
 * digits and no more fraction digits than `scale` (parseScaled's result); NaN for
 * anything else, which parseScaled hands to the general parser (so NaN here does not
 * mean the field is invalid).
 */
export function plainScaledAt(b: Uint8Array, s: number, e: number, scale: number): number {
  // One digit (counts are mostly 0..9).
  if (e - s === 1) {
    const d = b[s] - 0x30;
    return d >= 0 && d <= 9 ? d * POW10[scale] : NaN;
  }
  let p = s;
  if (p < e && b[p] === 0x2d) p++;
  const d0 = p;
  let v = 0;
  let c = 0;
  while (p < e && (c = b[p] - 0x30) >= 0 && c <= 9) {
    v = v * 10 + c;
    p++;
  }
  let n = p - d0;
  let k = scale;
  if (p < e && b[p] === 0x2e) {
    const f0 = ++p;
    while (k > 0 && p < e && (c = b[p] - 0x30) >= 0 && c <= 9) {
      v = v * 10 + c;
      p++;
      k--;
    }
    n += p - f0;
  }
  if (p === e && n > 0 && n <= 15) {
    if (k > 0) {
      v *= POW10[k];
      if (v > TWO_53) return NaN;
    }
    return d0 > s && v !== 0 ? -v : v;
  }
  return NaN;
}

function parseScaledGeneral(b: Uint8Array, p: number, e: number, scale: number, thousands: boolean): number {
  while (p < e && isWs(b[p])) p++;
  while (e > p && isWs(b[e - 1])) e--;
  if (p === e) return NaN;
  let neg = false;
  let c = b[p];
  if (c === 0x2d) {
    neg = true;
    p++;
  } else if (c === 0x2b) {
    p++;
  }
  let v = 0;
  let digits = 0;
  if (!thousands) {
    while (p < e) {
      c = b[p] - 0x30;
      if (c < 0 || c > 9) break;
      if (v >= ACC_MAX && (v > ACC_MAX || c > 2)) return NaN;
      v = v * 10 + c;
      digits++;
      p++;
    }
  } else {
    let group = 0;
    let grouped = false;
    while (p < e) {
      c = b[p];
      if (c === 0x2c) {
        if (group === 0 || (grouped ? group !== 3 : group > 3)) return NaN;
        grouped = true;
        group = 0;
        p++;
        continue;
      }
      c -= 0x30;
      if (c < 0 || c > 9) break;
      if (v >= ACC_MAX && (v > ACC_MAX || c > 2)) return NaN;
      v = v * 10 + c;
      digits++;
      group++;
      p++;
    }
    if (grouped && group !== 3) return NaN;
  }
  let frac = 0;
  if (p < e && b[p] === 0x2e) {
    p++;
    while (p < e) {
      c = b[p] - 0x30;
      if (c < 0 || c > 9) break;
      if (frac < scale) {
        if (v >= ACC_MAX && (v > ACC_MAX || c > 2)) return NaN;
        v = v * 10 + c;
        frac++;
      } else if (c !== 0) {
        return NaN;
      }
      digits++;
      p++;
    }
  }
  if (p !== e || digits === 0) return NaN;
  if (frac < scale) {
    v *= POW10[scale - frac];
    if (!(v <= TWO_53)) return NaN;
  }
  return neg && v !== 0 ? -v : v;
}

function digit(b: Uint8Array, k: number): number {
  const d = b[k] - 0x30;
  return d >= 0 && d <= 9 ? d : -1;
}

/** Value of the `n` digits at b[k..k+n), or -1 when one of them is not a digit. */
function digitsAt(b: Uint8Array, k: number, n: number): number {
  let v = 0;
  for (let j = 0; j < n; j++) {
    const d = digit(b, k + j);
    if (d < 0) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** True when b[k..e) is a time part `[ T]H[H]:MM[:SS[.f+]][Z|±HH[:]MM]` (as parseDay accepts). */
function isTimePart(b: Uint8Array, k: number, e: number): boolean {
  if (b[k] !== 0x20 && b[k] !== 0x54) return false;
  k++;
  if (k >= e || digit(b, k) < 0) return false;
  k++;
  if (k < e && digit(b, k) >= 0) k++;
  if (k + 3 > e || b[k] !== 0x3a || digitsAt(b, k + 1, 2) < 0) return false;
  k += 3;
  if (k < e && b[k] === 0x3a) {
    if (k + 3 > e || digitsAt(b, k + 1, 2) < 0) return false;
    k += 3;
    if (k < e && b[k] === 0x2e) {
      k++;
      const f = k;
      while (k < e && digit(b, k) >= 0) k++;
      if (k === f) return false;
    }
  }
  if (k === e) return true;
  const c = b[k];
  if (c === 0x5a) return k + 1 === e;
  if (c !== 0x2b && c !== 0x2d) return false;
  k++;
  if (k + 2 > e || digitsAt(b, k, 2) < 0) return false;
  k += 2;
  if (k < e && b[k] === 0x3a) k++;
  return k + 2 === e && digitsAt(b, k, 2) >= 0;
}

const MONTH_DAYS = Int32Array.of(0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31);

/**
 * Days since 1970-01-01, or NaN unless MIN_YEAR <= y <= MAX_YEAR and the date exists.
 * The same as isValidDate/daysFromCivil from util/dates (a test checks every day of
 * the range), without their per-call array and floating-point floors.
 */
export function dayNumber(y: number, m: number, d: number): number {
  if (y < MIN_YEAR || y > MAX_YEAR || m < 1 || m > 12 || d < 1) return NaN;
  const leap = (y & 3) === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > MONTH_DAYS[m] + (m === 2 && leap ? 1 : 0)) return NaN;
  // Hinnant's days_from_civil; y >= 1899 here, so truncating division is floor division.
  const yy = m <= 2 ? y - 1 : y;
  const era = (yy / 400) | 0;
  const yoe = yy - era * 400;
  const doy = (((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) | 0) + d - 1;
  const doe = yoe * 365 + ((yoe / 4) | 0) - ((yoe / 100) | 0) + doy;
  return era * 146097 + doe - 719468;
}

/** A one-entry cache of isoDayAt: YYYYMMDD as a number, and its day number. */
let lastYmd = -1;
let lastYmdDay = NaN;

/** isoDayAt's answer for bytes that are not YYYY-MM-DD (parseDayField then tries the other forms). */
export const NOT_ISO = -1e9;

/**
 * The day number of exactly 'YYYY-MM-DD' at b[p..p+10) (NaN for a date that does not
 * exist or a year outside MIN_YEAR–MAX_YEAR, as parseDayField), or NOT_ISO when the bytes do
 * not have that shape. Fact rows come in runs of one day: the last date is cached.
 */
export function isoDayAt(b: Uint8Array, p: number): number {
  if (b[p + 4] !== 0x2d || b[p + 7] !== 0x2d) return NOT_ISO;
  const y = digitsAt(b, p, 4);
  const m = digitsAt(b, p + 5, 2);
  const d = digitsAt(b, p + 8, 2);
  if ((y | m | d) < 0) return NOT_ISO;
  const ymd = y * 10000 + m * 100 + d;
  if (ymd === lastYmd) return lastYmdDay;
  const day = dayNumber(y, m, d);
  lastYmd = ymd;
  lastYmdDay = day;
  return day;
}

/** Month index of exactly 'YYYY-MM' at b[p..p+7) (NaN when invalid, as parseMonthField), or NOT_ISO for another shape. */
export function isoMonthAt(b: Uint8Array, p: number): number {
  if (b[p + 4] !== 0x2d) return NOT_ISO;
  const y = digitsAt(b, p, 4);
  const m = digitsAt(b, p + 5, 2);
  if ((y | m) < 0) return NOT_ISO;
  return y < MIN_YEAR || y > MAX_YEAR || m < 1 || m > 12 ? NaN : y * 12 + (m - 1);
}

/**
 * Calendar day number (days since 1970-01-01) of 'YYYY-MM-DD', 'YYYY/MM/DD' or
 * 'YYYYMMDD' (1–2 digit month and day are accepted with separators), optionally
 * followed by a time part ' HH:MM[:SS[.fff]]' or 'THH:MM…' with an optional zone
 * (ignored). Years MIN_YEAR–MAX_YEAR; an invalid calendar date (2026-02-30) → NaN.
 * Same result as parseDay(fieldString(rec, i)) from util/dates, except that only
 * ASCII whitespace around the value is ignored.
 */
export function parseDayField(rec: RecordView, i: number): number {
  if (i < 0 || i >= rec.count) return NaN;
  const b = rec.buf;
  let p = rec.start[i];
  let e = rec.end[i];
  if (e - p === 10) {
    const day = isoDayAt(b, p);
    if (day !== NOT_ISO) return day;
  }
  while (p < e && isWs(b[p])) p++;
  while (e > p && isWs(b[e - 1])) e--;
  if (e - p < 8) return NaN;
  const y = digitsAt(b, p, 4);
  if (y < 0) return NaN;
  let m: number;
  let d: number;
  let k: number;
  const sep = b[p + 4];
  if (sep === 0x2d || sep === 0x2f) {
    k = p + 5;
    m = digit(b, k);
    if (m < 0) return NaN;
    k++;
    if (k < e && digit(b, k) >= 0) m = m * 10 + digit(b, k++);
    if (k >= e || b[k] !== sep) return NaN;
    k++;
    d = k < e ? digit(b, k) : -1;
    if (d < 0) return NaN;
    k++;
    if (k < e && digit(b, k) >= 0) d = d * 10 + digit(b, k++);
  } else {
    if (e - p < 8) return NaN;
    m = digitsAt(b, p + 4, 2);
    d = digitsAt(b, p + 6, 2);
    if (m < 0 || d < 0) return NaN;
    k = p + 8;
  }
  if (k < e && !isTimePart(b, k, e)) return NaN;
  return dayNumber(y, m, d);
}

/**
 * Milliseconds into the day of a field parseDayField accepted, as written (a zone
 * offset is ignored, as it is for the day); -1 when the field holds a date alone.
 */
export function timeOfDayField(rec: RecordView, i: number): number {
  const b = rec.buf;
  let p = rec.start[i];
  let e = rec.end[i];
  while (p < e && isWs(b[p])) p++;
  while (e > p && isWs(b[e - 1])) e--;
  // A date is at least 8 bytes (YYYYMMDD, YYYY-M-D); the time part starts at a space or a T.
  let k = p + 8;
  while (k < e && b[k] !== 0x20 && b[k] !== 0x54) k++;
  if (k >= e) return -1;
  k++;
  let h = digit(b, k++);
  if (digit(b, k) >= 0) h = h * 10 + digit(b, k++);
  const m = digitsAt(b, k + 1, 2);
  k += 3;
  let sec = 0;
  let ms = 0;
  if (k < e && b[k] === 0x3a) {
    sec = digitsAt(b, k + 1, 2);
    k += 3;
    if (k < e && b[k] === 0x2e) {
      k++;
      for (let scale = 100; scale >= 1 && k < e && digit(b, k) >= 0; scale /= 10) ms += digit(b, k++) * scale;
    }
  }
  return ((h * 60 + m) * 60 + sec) * 1000 + ms;
}

/** Month index (year * 12 + month - 1) of 'YYYY-MM', 'YYYY/MM' or 'YYYYMM' (years MIN_YEAR–MAX_YEAR); NaN otherwise. */
export function parseMonthField(rec: RecordView, i: number): number {
  if (i < 0 || i >= rec.count) return NaN;
  const b = rec.buf;
  let p = rec.start[i];
  let e = rec.end[i];
  while (p < e && isWs(b[p])) p++;
  while (e > p && isWs(b[e - 1])) e--;
  const n = e - p;
  if (n !== 6 && n !== 7) return NaN;
  const y = digitsAt(b, p, 4);
  if (n === 7 && b[p + 4] !== 0x2d && b[p + 4] !== 0x2f) return NaN;
  const m = digitsAt(b, e - 2, 2);
  if (y < MIN_YEAR || y > MAX_YEAR || m < 1 || m > 12) return NaN;
  return y * 12 + (m - 1);
}
