/**
 * The engine of `churnwatch generate`: deterministic, realistic extracts in the
 * default input contract, at any size.
 *
 * Every subscriber is given a scenario (a behaviour archetype: bill drop, three-month
 * decline, silence, repeated complaints, expiring or lapsed contract, suspension,
 * forwarding, hotline calls, minutes drop, low balance, new line, multi-signal
 * churner, closed line, or normal) and a variant of it; most variants flag their
 * rule, some sit exactly on a rule's boundary (and flag), some sit just outside it
 * (and must not flag). Independent noise on the normal population adds further hits.
 *
 * Determinism: one seed gives byte-identical files. Each file is produced by its own
 * PRNG stream, consumed strictly in output order, so the content never depends on
 * chunking, timing, the wall clock or the time zone. Rows made invalid on purpose
 * (dirtyShare) are inserted from a separate stream, so the valid rows are the same
 * with and without them.
 *
 * Scale: per-subscriber state lives in typed arrays (about 21 bytes a subscriber);
 * rows are written as bytes into ~1 MiB buffers that go to the file (or the gzip
 * stream) with backpressure, so memory does not grow with the size of the files.
 * With gzip the compressed bytes are reproducible for a given zlib build; the
 * uncompressed content is always the same.
 */

import { createWriteStream, promises as fsp } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CONTACT_OUTCOMES, STATUS_VALUES, TICKET_KINDS, defaultHeader, type ExtractName } from '../contract/contract.js';
import { ChurnwatchError } from '../errors.js';
import { putAscii, putBytes, putHundredths, putPadded, putUint } from '../util/bytes.js';
import { daysFromCivil, daysInMonth, formatDay, formatMonth, monthOfDay } from '../util/dates.js';
import { Prng, exp, hashString, ln, mix32 } from './prng.js';
import { type WorkedNight, type WorkedTask, workedContact } from './worked.js';

export interface GenerateOptions {
  /** Number of subscribers N. */
  subscribers: number;
  /** Seed; a number is used through its decimal string (42 and "42" are the same). */
  seed: number | string;
  /** Run date D as a day number (days since 1970-01-01); extracts are complete up to D-1. */
  asOf: number;
  /** Output folder, created if missing. Existing files of the same names are replaced. */
  outDir: string;
  /** Billing months to emit: the full calendar months before D's month. Default 6. */
  months?: number;
  /** Usage days to emit: D-days .. D-1. Default 14. */
  days?: number;
  /** Field delimiter, one character. Default ','. */
  delimiter?: string;
  /** Write .csv.gz instead of .csv. Default false. */
  gzip?: boolean;
  /** Share of fact rows (billing, usage, tickets, contracts) that are invalid on purpose. Default 0. */
  dirtyShare?: number;
  /** Called as output is written, with the file name and its data rows so far. */
  onProgress?: (file: string, rows: number) => void;
  /** Characters buffered before a write (tuning only; never changes the output). Default 1 MiB. */
  chunkSize?: number;
  /** Also write labels.csv (subscriber_id,churned,churn_date) drawn by the planted churn process. Default false. */
  labels?: boolean;
  /**
   * Published nights before D whose tasks a simulated call centre worked (readWorkedNights).
   * contact_history.csv is then the history as of the first of them, followed by one row per
   * worked task of each night. Default none: the history as of D.
   */
  worked?: readonly WorkedNight[];
}

export interface GeneratedFile {
  name: string;
  /** Data rows, header excluded. */
  rows: number;
  /** Bytes on disk (compressed size when gzip). */
  bytes: number;
}

// ---------------------------------------------------------------------------
// Vocabulary

/** Codes into the contract's STATUS_VALUES. */
const [ST_ACTIVE, ST_ARREARS, ST_HOLD, ST_CLOSED] = (['active', 'suspended_arrears', 'suspended_hold', 'closed'] as const).map((v) =>
  STATUS_VALUES.indexOf(v),
) as [number, number, number, number];

/** Scenarios (behaviour archetypes). */
const SC_NORMAL = 0,
  SC_BILL_DROP = 1,
  SC_DECLINE = 2,
  SC_SILENT = 3,
  SC_COMPLAINER = 4,
  SC_EXPIRING = 5,
  SC_LAPSED = 6,
  SC_ARREARS = 7,
  SC_HOLD = 8,
  SC_CLOSED = 9,
  SC_FORWARDING = 10,
  SC_HOTLINE = 11,
  SC_MOU_DROP = 12,
  SC_LOW_BALANCE = 13,
  SC_NEW_ACT = 14,
  SC_CHURNER = 15;

/** Share of subscribers per scenario, in 1/10000; the rest is SC_NORMAL. */
const SCENARIO_WEIGHTS: ReadonlyArray<readonly [number, number]> = [
  [SC_BILL_DROP, 250],
  [SC_DECLINE, 200],
  [SC_SILENT, 200],
  [SC_COMPLAINER, 200],
  [SC_EXPIRING, 200],
  [SC_LAPSED, 200],
  [SC_ARREARS, 350],
  [SC_HOLD, 200],
  [SC_CLOSED, 350],
  [SC_FORWARDING, 150],
  [SC_HOTLINE, 200],
  [SC_MOU_DROP, 200],
  [SC_LOW_BALANCE, 200],
  [SC_NEW_ACT, 80],
  [SC_CHURNER, 120],
];

/**
 * Variant weights per scenario (index = variant). Variant 0 is the plain case; the
 * others are exact-boundary cases (flag) and just-outside cases (do not flag), see
 * the comments where each scenario is applied.
 */
const VARIANT_WEIGHTS: Record<number, readonly number[]> = {
  [SC_BILL_DROP]: [50, 8, 8, 8, 8, 9, 9],
  [SC_DECLINE]: [50, 9, 8, 9, 8, 8, 8],
  [SC_SILENT]: [40, 9, 9, 8, 9, 8, 9, 8],
  [SC_COMPLAINER]: [40, 12, 12, 9, 9, 9, 9],
  [SC_EXPIRING]: [55, 12, 12, 11, 10],
  [SC_LAPSED]: [45, 10, 10, 9, 9, 9, 8],
  [SC_FORWARDING]: [55, 15, 15, 15],
  [SC_HOTLINE]: [50, 14, 12, 12, 12],
  [SC_MOU_DROP]: [50, 10, 10, 10, 10, 10],
  [SC_LOW_BALANCE]: [50, 13, 13, 12, 12],
  [SC_NEW_ACT]: [60, 40],
  [SC_CHURNER]: [1, 1, 1, 1, 1, 1, 1, 1], // bit 0 silent, bit 1 complaints, bit 2 hotline
  [SC_CLOSED]: [1, 1, 1, 1], // decoys: bit 0 complaints, bit 1 expiring contract
};

const F_PREPAID = 1,
  F_FIXED_BILL = 2,
  F_NO_ACTIVATION = 4;

const PLAN_FEES = [800, 1800, 2800, 3800, 5800, 8800, 12800, 18800, 28800, 38800];
const FIXED_FEES_BY_TIER = [
  [0, 1, 2],
  [3, 4],
  [5, 6, 7, 8, 9],
]; // indexes into PLAN_FEES
function planId(idx: number, fiveG: boolean): string {
  return `${fiveG ? '5G' : '4G'}-${String(PLAN_FEES[idx]! / 100).padStart(3, '0')}`;
}

const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤'.split(
    '',
  );
const COMPOUND_SURNAMES = ['欧阳', '司马', '诸葛', '上官'];
const GIVEN =
  '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚兰英华玉萍红桂建国志文辉鑫宇浩然子涵梓轩欣怡佳琪雨晨思远俊杰嘉怡晓东海燕秀梅丹宁波斌凯琳颖婷雪飞鹏'.split(
    '',
  );
const REGIONS = [
  '广州市天河区',
  '广州市越秀区',
  '广州市海珠区',
  '广州市白云区',
  '广州市番禺区',
  '深圳市南山区',
  '深圳市福田区',
  '深圳市宝安区',
  '深圳市龙岗区',
  '佛山市禅城区',
  '佛山市南海区',
  '佛山市顺德区',
  '东莞市南城街道',
  '东莞市虎门镇',
  '珠海市香洲区',
  '中山市石岐街道',
  '惠州市惠城区',
  '江门市蓬江区',
  '汕头市金平区',
  '湛江市赤坎区',
  '肇庆市端州区',
  '清远市清城区',
  '韶关市浈江区',
  '梅州市梅江区',
  '杭州市西湖区',
  '杭州市滨江区',
  '宁波市鄞州区',
  '温州市鹿城区',
  '南京市鼓楼区',
  '苏州市姑苏区',
  '无锡市梁溪区',
  '武汉市洪山区',
  '长沙市岳麓区',
  '成都市武侯区',
  '重庆市渝中区',
  '西安市雁塔区',
  '郑州市金水区',
  '济南市历下区',
  '福州市鼓楼区',
  '厦门市思明区',
];
const MSISDN_PREFIXES = [
  '130',
  '131',
  '132',
  '133',
  '134',
  '135',
  '136',
  '137',
  '138',
  '139',
  '150',
  '151',
  '152',
  '153',
  '155',
  '156',
  '157',
  '158',
  '159',
  '180',
  '181',
  '182',
  '183',
  '184',
  '185',
  '186',
  '187',
  '188',
  '189',
];

/** Codes into the contract's TICKET_KINDS. */
const K_COMPLAINT = 0,
  K_FAULT = 1,
  K_INQUIRY = 2,
  K_OTHER = 3;
const TICKET_CATEGORIES = [
  ['资费争议', '网络质量', '服务态度', '营销宣传', '携号转网', '乱扣费'],
  ['无信号', '通话掉线', '上网慢', '宽带故障', '终端故障', '短信收发异常'],
  ['套餐咨询', '话费查询', '积分兑换', '业务办理', '流量查询'],
  ['建议', '表扬', '其他'],
];
const CONTRACT_KINDS = ['plan_contract', 'handset_lease', 'annual_package'];
const CHANNELS = ['phone', 'phone', 'phone', 'phone', 'phone', 'phone', 'phone', 'sms', 'sms', 'visit'];

const PAD2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

/** Fen (integer) to yuan with two decimals. */
function money(fen: number): string {
  if (fen < 0) return `-${money(-fen)}`;
  const y = Math.floor(fen / 100);
  return `${y}.${PAD2[fen - y * 100]}`;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : Math.min(x, hi);
}

function pickWeighted(rng: Prng, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let r = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

// ---------------------------------------------------------------------------
// Output: rows are written as bytes into a chunk buffer with util/bytes.ts (no
// per-row strings on the hot paths), and a full chunk is handed to the file or gzip
// stream with backpressure.

const FORBIDDEN_DELIMITERS = /[0-9A-Za-z".:_ +\-\r\n]/;
/** Room kept after a chunk's nominal size, so that a row never has to check for space. */
const SLACK = 1 << 16;

class Sink {
  rows = 0;
  pos = 0;
  private b: Buffer;
  private readonly cap: number;
  private readonly delim: Buffer;
  private readonly d0: number;
  private readonly target: Writable;
  private readonly done: Promise<unknown>;
  private failure: unknown = undefined;

  constructor(
    readonly path: string,
    readonly name: string,
    gzip: boolean,
    private readonly chunk: number,
    delimiter: string,
    private readonly onProgress?: (file: string, rows: number) => void,
  ) {
    this.cap = chunk + SLACK;
    this.b = Buffer.allocUnsafe(this.cap);
    this.delim = Buffer.from(delimiter, 'utf8');
    this.d0 = this.delim.length === 1 ? this.delim[0]! : -1;
    const file = createWriteStream(path);
    if (gzip) {
      // Level 1: about three times as fast as the default for ~15% more bytes on these files.
      const gz = createGzip({ level: 1 });
      // The gzip header's OS byte differs between zlib builds; pin it to 3 (Unix).
      let offset = 0;
      const pin = new Transform({
        transform(data: Buffer, _enc, cb) {
          if (offset <= 9 && offset + data.length > 9) data[9 - offset] = 3;
          offset += data.length;
          cb(null, data);
        },
      });
      this.target = gz;
      this.done = pipeline(gz, pin, file);
    } else {
      this.target = file;
      this.done = finished(file);
    }
    this.done.catch((err: unknown) => {
      this.failure = err;
    });
  }

  get full(): boolean {
    return this.pos >= this.chunk;
  }

  /** Makes sure n more bytes fit. */
  room(n: number): void {
    if (this.pos + n > this.b.length) {
      const nb = Buffer.allocUnsafe(Math.max(this.b.length * 2, this.pos + n));
      this.b.copy(nb, 0, 0, this.pos);
      this.b = nb;
    }
  }

  sep(): void {
    if (this.d0 >= 0) this.b[this.pos++] = this.d0;
    else {
      this.delim.copy(this.b, this.pos);
      this.pos += this.delim.length;
    }
  }

  /** Ends a data row. */
  end(): void {
    this.b[this.pos++] = 10;
    this.rows++;
  }

  /** Any text (UTF-8), unquoted. */
  str(s: string): void {
    this.room(s.length * 3);
    this.pos += this.b.write(s, this.pos, 'utf8');
  }

  /** A short ASCII string. */
  ascii(s: string): void {
    this.pos = putAscii(this.b, this.pos, s);
  }

  bytes(u: Uint8Array): void {
    this.pos = putBytes(this.b, this.pos, u, 0, u.length);
  }

  /** A non-negative integer. */
  uint(n: number): void {
    this.pos = putUint(this.b, this.pos, n);
  }

  /** A non-negative integer below 10^width, zero-padded to width digits. */
  pad(n: number, width: number): void {
    this.pos = putPadded(this.b, this.pos, n, width);
  }

  /** An integer number of hundredths as a decimal with two places ("-12.05"). */
  dec2(h: number): void {
    this.pos = putHundredths(this.b, this.pos, h);
  }

  async flush(): Promise<void> {
    if (this.failure !== undefined) throw this.wrap(this.failure);
    if (this.pos === 0) return;
    const data = this.b.subarray(0, this.pos);
    this.b = Buffer.allocUnsafe(this.cap);
    this.pos = 0;
    if (!this.target.write(data)) {
      try {
        await Promise.race([once(this.target, 'drain'), this.done]);
      } catch (err) {
        throw this.wrap(err);
      }
    }
    this.onProgress?.(this.name, this.rows);
  }

  async close(): Promise<GeneratedFile> {
    await this.flush();
    this.target.end();
    try {
      await this.done;
    } catch (err) {
      throw this.wrap(err);
    }
    if (this.failure !== undefined) throw this.wrap(this.failure);
    const st = await fsp.stat(this.path);
    this.onProgress?.(this.name, this.rows);
    return { name: this.name, rows: this.rows, bytes: st.size };
  }

  private wrap(err: unknown): ChurnwatchError {
    if (err instanceof ChurnwatchError) return err;
    const code = (err as { code?: unknown } | null)?.code;
    return new ChurnwatchError(
      'CW_OUTPUT_UNWRITABLE',
      `cannot write ${this.name}${typeof code === 'string' ? ` (${code})` : ''}; check that the output folder is writable and has free space`,
      { file: this.name },
    );
  }
}

/** Decides, row by row, whether an invalid row follows (probability q, by geometric gaps). */
class Dirt {
  private gap = Infinity;
  private readonly lnKeep: number;
  constructor(
    readonly rng: Prng,
    private readonly q: number,
  ) {
    this.lnKeep = q > 0 && q < 1 ? ln(1 - q) : 0;
    if (q > 0) this.gap = this.draw();
  }
  private draw(): number {
    if (this.q >= 1) return 1;
    return 1 + Math.floor(ln(1 - this.rng.next()) / this.lnKeep);
  }
  tick(): boolean {
    if (--this.gap > 0) return false;
    this.gap = this.draw();
    return true;
  }
  unknownId(): string {
    return `99${String(this.rng.int(0, 99_999_999)).padStart(8, '0')}`;
  }
}

// ---------------------------------------------------------------------------
// The generator

interface Ctx {
  N: number;
  D: number;
  K: number; // billing months
  days: number;
  seed: string;
  key: number;
  dirtyQ: number;
  fd: (day: number) => string;
  /** A day as the 10 ASCII bytes of YYYY-MM-DD. */
  dayBytes: (day: number) => Uint8Array;
  /** Quotes a text field when it holds the delimiter, a quote or a line break. */
  q: (s: string) => string;
  status: Uint8Array;
  scen: Uint8Array;
  variant: Uint8Array;
  flags: Uint8Array;
  plan: Uint8Array;
  act: Int32Array;
  since: Int32Array;
  base: Int32Array; // typical monthly bill, fen
  mou: Int32Array; // typical monthly minutes
  /** subscriber_id as a number (written zero-padded to 10 digits). */
  idNum: (i: number) => number;
  idOf: (i: number) => string;
  msisdnPrefix: (i: number) => string;
  msisdnSuffix: (i: number) => number;
  /** A stable per-subscriber uint32 for a purpose (salt). */
  hu: (i: number, salt: number) => number;
  sink: (name: ExtractName) => Sink;
  /** What the planted churn process reads, kept by writeBilling; null without labels. */
  planted: Planted | null;
  worked: readonly WorkedNight[];
}

/** Per subscriber, the bills of M0 and M1 (fen) and the minutes of M0, as written; -1 when the month has no row. */
interface Planted {
  billM0: Int32Array;
  billM1: Int32Array;
  mouM0: Int32Array;
}

export async function generateExtracts(opts: GenerateOptions): Promise<{ files: GeneratedFile[] }> {
  const N = opts.subscribers;
  const K = opts.months ?? 6;
  const days = opts.days ?? 14;
  const d = opts.delimiter ?? ',';
  const dirtyShare = opts.dirtyShare ?? 0;
  const chunk = opts.chunkSize ?? 1 << 20;
  const gzip = opts.gzip ?? false;
  const D = opts.asOf;
  if (!Number.isInteger(N) || N < 1 || N > 50_000_000)
    throw new ChurnwatchError('CW_USAGE', 'subscribers must be a whole number from 1 to 50000000');
  if (!Number.isInteger(D) || D < daysFromCivil(1990, 1, 1) || D > daysFromCivil(2900, 1, 1))
    throw new ChurnwatchError('CW_USAGE', 'the run date is out of range');
  if (!Number.isInteger(K) || K < 1 || K > 120) throw new ChurnwatchError('CW_USAGE', 'months must be a whole number from 1 to 120');
  if (!Number.isInteger(days) || days < 1 || days > 366) throw new ChurnwatchError('CW_USAGE', 'days must be a whole number from 1 to 366');
  if (typeof d !== 'string' || d.length !== 1 || FORBIDDEN_DELIMITERS.test(d))
    throw new ChurnwatchError(
      'CW_USAGE',
      'the delimiter must be one character that is not a letter, digit, quote, space, line break or one of . : _ + -',
    );
  if (!(dirtyShare >= 0 && dirtyShare <= 0.5)) throw new ChurnwatchError('CW_USAGE', 'dirtyShare must be between 0 and 0.5');
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new ChurnwatchError('CW_USAGE', 'chunkSize must be a positive whole number');

  const seed = String(opts.seed);
  const h = hashString(`churnwatch-generate/${seed}`);
  const key = h[0];
  const ext = gzip ? '.csv.gz' : '.csv';

  const dayLo = D - 40000;
  const dayCache: string[] = [];
  const dayByteCache: Uint8Array[] = [];
  const fd = (day: number): string => {
    const k = day - dayLo;
    if (k < 0 || k > 45000) return formatDay(day);
    return dayCache[k] ?? (dayCache[k] = formatDay(day));
  };
  const dayBytes = (day: number): Uint8Array => {
    const k = day - dayLo;
    if (k < 0 || k > 45000) return Buffer.from(formatDay(day), 'latin1');
    return dayByteCache[k] ?? (dayByteCache[k] = Buffer.from(fd(day), 'latin1'));
  };
  const q = (s: string): string =>
    s.includes(d) || s.includes('"') || s.includes('\n') || s.includes('\r') ? `"${s.replace(/"/g, '""')}"` : s;

  // Ids: one per block of 7 numbers, so they are increasing but not contiguous.
  const idSalt = h[1];
  const idNum = (i: number): number => 1_000_000 + i * 7 + (mix32(idSalt ^ i) % 7);
  const idOf = (i: number): string => String(idNum(i)).padStart(10, '0');
  checkWorked({ N, D, idOf }, opts.worked ?? []);
  try {
    await fsp.mkdir(opts.outDir, { recursive: true });
  } catch {
    throw new ChurnwatchError('CW_OUTPUT_UNWRITABLE', 'cannot create the output folder; check the path and permissions');
  }

  // Phone numbers: a bijection of the index onto 8-digit suffixes (so they are unique
  // whatever the prefix), behind a 13x/15x/18x prefix.
  const mA = 36892717,
    mB = 71362373,
    mC = h[2] % 100_000_000,
    mE = h[3] % 100_000_000;
  const msisdnSuffix = (i: number): number => {
    let x = (i * mA + mC) % 100_000_000;
    x = (x % 10000) * 10000 + Math.floor(x / 10000);
    return (x * mB + mE) % 100_000_000;
  };
  const msisdnPrefix = (i: number): string => MSISDN_PREFIXES[mix32(key ^ Math.imul(i, 0x9e3779b1)) % MSISDN_PREFIXES.length]!;
  const hu = (i: number, salt: number): number => mix32(Math.imul(i, 0x9e3779b1) ^ mix32(key + salt));

  const ctx: Ctx = {
    N,
    D,
    K,
    days,
    seed,
    key,
    dirtyQ: dirtyShare > 0 ? dirtyShare / (1 - dirtyShare) : 0,
    fd,
    dayBytes,
    q,
    status: new Uint8Array(N),
    scen: new Uint8Array(N),
    variant: new Uint8Array(N),
    flags: new Uint8Array(N),
    plan: new Uint8Array(N),
    act: new Int32Array(N),
    since: new Int32Array(N),
    base: new Int32Array(N),
    mou: new Int32Array(N),
    idNum,
    idOf,
    msisdnPrefix,
    msisdnSuffix,
    hu,
    planted: opts.labels
      ? { billM0: new Int32Array(N).fill(-1), billM1: new Int32Array(N).fill(-1), mouM0: new Int32Array(N).fill(-1) }
      : null,
    worked: opts.worked ?? [],
    sink: (name) => {
      const sink = new Sink(join(opts.outDir, name + ext), name + ext, gzip, chunk, d, opts.onProgress);
      sink.str(defaultHeader(name).join(d) + '\n');
      return sink;
    },
  };

  const files: GeneratedFile[] = [];
  files.push(await writeSubscribers(ctx));
  files.push(await writeBilling(ctx));
  files.push(await writeUsage(ctx));
  files.push(await writeTickets(ctx));
  files.push(await writeContracts(ctx));
  files.push(await writeContacts(ctx));
  files.push(await writeDoNotCall(ctx));
  if (ctx.planted)
    files.push(await writeLabels(ctx, new Sink(join(opts.outDir, 'labels.csv'), 'labels.csv', false, chunk, ',', opts.onProgress)));
  return { files };
}

function streamFor(ctx: Ctx, label: string): Prng {
  return new Prng(`churnwatch-generate/${ctx.seed}/${label}`);
}

// ---------------------------------------------------------------------------
// subscribers.csv: also draws every subscriber's profile into the typed arrays.

async function writeSubscribers(ctx: Ctx): Promise<GeneratedFile> {
  const { N, D, q } = ctx;
  const rng = streamFor(ctx, 'subscribers');
  const w = ctx.sink('subscribers');
  const scenCum: number[] = [];
  let acc = 0;
  for (const [, wt] of SCENARIO_WEIGHTS) scenCum.push((acc += wt));
  const managers = clamp(Math.floor(N / 800), 1, 99999);
  const ln16 = ln(16),
    ln40 = ln(40),
    ln80 = ln(80),
    ln220 = ln(220),
    ln450 = ln(450),
    ln6000 = ln(6000);
  const planIds = PLAN_FEES.map((_, k) => [q(planId(k, false)), q(planId(k, true))] as const);
  const regions = REGIONS.map(q);

  for (let i = 0; i < N; i++) {
    // Scenario and variant.
    const r = rng.next() * 10000;
    let sc = SC_NORMAL;
    for (let k = 0; k < scenCum.length; k++) {
      if (r < scenCum[k]!) {
        sc = SCENARIO_WEIGHTS[k]![0];
        break;
      }
    }
    const vw = VARIANT_WEIGHTS[sc];
    const v = vw ? pickWeighted(rng, vw) : 0;

    // Spend tier, plan and typical bill.
    const tr = rng.next();
    const tier = tr < 0.6 ? 0 : tr < 0.8 ? 1 : 2;
    let base: number;
    if (tier === 0) base = clamp(Math.round(rng.lognormal(ln16, 0.45) * 100), 300, 2900);
    else if (tier === 1) base = rng.int(3100, 5800);
    else base = clamp(6100 + Math.round(rng.lognormal(ln40, 0.65) * 100), 6100, 60000);
    const fixed = rng.chance(0.4);
    let plan: number;
    if (fixed) {
      plan = rng.pick(FIXED_FEES_BY_TIER[tier]!);
      base = PLAN_FEES[plan]!;
    } else {
      plan = 0;
      while (plan + 1 < PLAN_FEES.length && PLAN_FEES[plan + 1]! <= base) plan++;
    }
    const fiveG = plan >= 4 ? rng.chance(0.7) : rng.chance(0.15);

    // Minutes of use.
    let mou: number;
    if (rng.chance(0.06)) mou = rng.int(0, 20);
    else mou = clamp(Math.round(rng.lognormal(tier === 0 ? ln80 : tier === 1 ? ln220 : ln450, tier === 0 ? 0.9 : 0.7)), 0, 6000);

    // Activation.
    let act: number;
    let noActivation = false;
    if (sc === SC_NEW_ACT) act = D - rng.int(1, 10);
    else if (sc === SC_SILENT && v === 4)
      act = D - 3; // activated exactly on d3: silence counts
    else if (sc === SC_SILENT && v === 5)
      act = D - 2; // activated on d2: too new for silence
    else if (sc === SC_NORMAL && rng.chance(0.06))
      act = D - rng.int(15, 200); // some billing months missing
    else {
      act = D - rng.int(220, 6000);
      noActivation = sc === SC_SILENT ? v === 6 : sc === SC_NORMAL && rng.chance(0.03);
    }

    // Status.
    let status = ST_ACTIVE;
    let since = act;
    if (sc === SC_ARREARS) {
      status = ST_ARREARS;
      since = D - rng.int(1, 90);
    } else if (sc === SC_HOLD) {
      status = ST_HOLD;
      since = D - rng.int(1, 120);
    } else if (sc === SC_CLOSED) {
      status = ST_CLOSED;
      since = D - rng.int(1, 150);
    } else if (act < D - 60 && rng.chance(0.12)) since = D - rng.int(1, D - act - 1); // resumed after a past suspension

    // Prepaid balance.
    const prepaid = sc === SC_LOW_BALANCE ? true : rng.chance(0.5);
    let balance = 0;
    if (prepaid) {
      if (sc === SC_LOW_BALANCE) {
        // under 10.00 flags; 9.99 and 0.00 and a negative balance flag; 10.00 does not
        balance = v === 0 ? rng.int(0, 999) : v === 1 ? 999 : v === 2 ? 1000 : v === 3 ? -rng.int(1, 5000) : 0;
      } else if (status === ST_ARREARS) {
        balance = -rng.int(1, 8000);
      } else if (status === ST_CLOSED) {
        balance = 0;
      } else {
        balance = clamp(Math.round(rng.lognormal(ln6000, 0.8)), 0, 500000);
      }
    }

    ctx.scen[i] = sc;
    ctx.variant[i] = v;
    ctx.status[i] = status;
    ctx.act[i] = act;
    ctx.since[i] = since;
    ctx.base[i] = base;
    ctx.mou[i] = mou;
    ctx.plan[i] = plan;
    ctx.flags[i] = (prepaid ? F_PREPAID : 0) | (fixed ? F_FIXED_BILL : 0) | (noActivation ? F_NO_ACTIVATION : 0);

    // Display fields.
    const surname = rng.chance(0.01) ? rng.pick(COMPOUND_SURNAMES) : rng.pick(SURNAMES);
    const name = surname + rng.pick(GIVEN) + (rng.chance(0.6) ? rng.pick(GIVEN) : '');
    const mr = rng.next();
    const level =
      tier === 2
        ? mr < 0.1
          ? 'diamond'
          : mr < 0.4
            ? 'gold'
            : mr < 0.7
              ? 'silver'
              : 'none'
        : tier === 1
          ? mr < 0.1
            ? 'gold'
            : mr < 0.4
              ? 'silver'
              : 'none'
          : mr < 0.08
            ? 'silver'
            : 'none';
    const region = rng.pick(regions);
    const hasManager = tier === 2 ? rng.chance(0.9) : tier === 1 ? rng.chance(0.2) : false;
    const hideSince = status === ST_ACTIVE && rng.chance(0.02);

    w.room(512);
    w.pad(ctx.idNum(i), 10);
    w.sep();
    w.ascii(ctx.msisdnPrefix(i));
    w.pad(ctx.msisdnSuffix(i), 8);
    w.sep();
    w.str(q(name));
    w.sep();
    w.ascii(STATUS_VALUES[status]!);
    w.sep();
    if (!hideSince) w.bytes(ctx.dayBytes(since));
    w.sep();
    if (!noActivation) w.bytes(ctx.dayBytes(act));
    w.sep();
    w.str(planIds[plan]![fiveG ? 1 : 0]);
    w.sep();
    w.ascii(level);
    w.sep();
    w.str(region);
    w.sep();
    if (hasManager) {
      w.ascii('CM');
      w.pad(1 + (ctx.hu(i, 6) % managers), 5);
    }
    w.sep();
    if (prepaid) w.dec2(balance);
    w.end();
    if (w.full) await w.flush();
  }
  return w.close();
}

// ---------------------------------------------------------------------------
// billing_monthly.csv, subscriber by subscriber, months ascending.

async function writeBilling(ctx: Ctx): Promise<GeneratedFile> {
  const { N, D, K } = ctx;
  const rng = streamFor(ctx, 'billing');
  const dirt = new Dirt(streamFor(ctx, 'billing/dirty'), ctx.dirtyQ);
  const w = ctx.sink('billing_monthly');

  const Dm = monthOfDay(D);
  const monthStr: string[] = [];
  const monthStart = new Int32Array(K);
  const monthLen = new Int32Array(K);
  for (let k = 0; k < K; k++) {
    const m = Dm - K + k;
    const y = Math.floor(m / 12),
      mo = (m % 12) + 1;
    monthStr.push(formatMonth(m));
    monthStart[k] = daysFromCivil(y, mo, 1);
    monthLen[k] = daysInMonth(y, mo);
  }
  const amt = new Float64Array(K);
  const mouA = new Int32Array(K);
  const hot = new Int32Array(K);
  const present = new Uint8Array(K);
  const mode = new Uint8Array(K); // 0 one row, 1 split into two rows, 2 bill line + credit line, 3 hotline calls split 3 + 2
  // j = months before M0 (M0 is the month before D's month) -> array index
  const J = (j: number): number => K - 1 - j;
  const has = (j: number): boolean => J(j) >= 0;
  const M = (j: number): number => (has(j) ? amt[J(j)]! : 0);
  const set = (j: number, fen: number): void => {
    if (has(j)) {
      amt[J(j)] = fen;
      present[J(j)] = 1;
    }
  };
  const setMou = (j: number, m: number): void => {
    if (has(j)) {
      mouA[J(j)] = m;
      present[J(j)] = 1;
    }
  };
  const hotNoise = (): number => {
    const r = rng.next();
    return r < 0.85 ? 0 : r < 0.95 ? 1 : r < 0.985 ? 2 : r < 0.997 ? 3 : r < 0.9993 ? 4 : rng.int(5, 8);
  };

  let i = 0;
  const emit = (k: number, fen: number, m: number, hc: number): void => {
    w.pad(ctx.idNum(i), 10);
    w.sep();
    w.ascii(monthStr[k]!);
    w.sep();
    w.dec2(fen);
    w.sep();
    w.uint(m);
    w.sep();
    w.uint(hc);
    w.end();
    if (dirt.tick()) {
      const r = dirt.rng;
      const kind = r.int(0, 3);
      let sid = ctx.idOf(i),
        month = monthStr[k]!,
        amount = money(fen);
      if (kind === 0) sid = r.chance(0.8) ? dirt.unknownId() : '';
      else if (kind === 1 || kind === 2) month = r.pick([`${month.slice(0, 4)}-13`, 'N/A', '', `${month.slice(0, 4)}00`, '13/2025']);
      else amount = r.pick(['', 'N/A', '12.3.4', '#VALUE!', '1e']);
      w.str(sid);
      w.sep();
      w.str(ctx.q(month));
      w.sep();
      w.str(ctx.q(amount));
      w.sep();
      w.uint(m);
      w.sep();
      w.uint(hc);
      w.end();
    }
  };

  for (i = 0; i < N; i++) {
    const st = ctx.status[i]!,
      sc = ctx.scen[i]!,
      v = ctx.variant[i]!;
    const a = ctx.act[i]!,
      since = ctx.since[i]!,
      base = ctx.base[i]!,
      mouBase = ctx.mou[i]!;
    const fixed = (ctx.flags[i]! & F_FIXED_BILL) !== 0;
    const fee = PLAN_FEES[ctx.plan[i]!]!;

    for (let k = 0; k < K; k++) {
      const ms = monthStart[k]!,
        len = monthLen[k]!,
        me = ms + len - 1;
      // Draw for every month, so later months do not depend on earlier presence.
      let fen = fixed ? base : base * rng.lognormal(0, 0.12);
      let m = mouBase * rng.lognormal(0, 0.15);
      let hc = hotNoise();
      mode[k] = 0;
      present[k] = 0;
      if (me < a) continue; // not yet a subscriber
      let frac = a > ms ? (me - a + 1) / len : 1;
      if (st === ST_CLOSED) {
        if (ms >= since) continue;
        if (me >= since) frac *= (since - ms) / len;
      } else if (st === ST_ARREARS && ms > since) {
        fen = fee;
        m = 0; // still billed the plan fee
      } else if (st === ST_HOLD && ms > since) {
        fen = 500;
        m = 0;
        hc = 0; // number-keeping fee
      } else if (st === ST_HOLD && me >= since) {
        frac *= (since - ms + 1) / len;
      }
      amt[k] = Math.round(fen * frac);
      mouA[k] = Math.round(m * frac);
      hot[k] = hc;
      present[k] = 1;
    }

    // Scenario shapes, in integer fen on M0..M3.
    switch (sc) {
      case SC_BILL_DROP:
        if (v === 0) {
          if (M(1) < 1000) set(1, rng.int(1000, 3000));
          set(0, Math.floor((M(1) * rng.int(150, 700)) / 1000));
        } else {
          // 70.00 after 100.00 and 7.07 after 10.10 flag; 70.01 after 100.00 and anything after 9.99 do not.
          const m1 = [0, 10000, 1010, 10000, 999, 10000, 10000][v]!;
          const m0 = [0, 7000, 707, 7001, 0, 7000, 7000][v]!;
          set(3, m1);
          set(2, m1);
          set(1, m1);
          set(0, m0);
          if (v === 5 && has(1)) mode[J(1)] = 1; // M1 on two rows that must be summed
          if (v === 6 && has(0)) mode[J(0)] = 2; // M0 as a bill line and a credit line
        }
        break;
      case SC_DECLINE:
        if (v === 0) {
          const m3 = Math.max(M(3), rng.int(1200, 9000));
          const m2 = Math.floor((m3 * rng.int(930, 975)) / 1000);
          const m1 = Math.floor((m2 * rng.int(930, 975)) / 1000);
          const m0 = Math.min(Math.floor((m1 * rng.int(880, 970)) / 1000), Math.floor((m3 * 8) / 10));
          set(3, m3);
          set(2, m2);
          set(1, m1);
          set(0, m0);
        } else {
          // 100→95→90→80 flags (exactly 80%); 80.01 does not; a 10.00 start flags, 9.99 does not;
          // a flat step does not; 10.10→…→8.08 flags (exactly 80%).
          const rows = [
            [],
            [10000, 9500, 9000, 8000],
            [10000, 9500, 9000, 8001],
            [1000, 950, 900, 800],
            [999, 950, 900, 700],
            [10000, 9000, 9000, 7000],
            [1010, 950, 900, 808],
          ][v]!;
          set(3, rows[0]!);
          set(2, rows[1]!);
          set(1, rows[2]!);
          set(0, rows[3]!);
        }
        break;
      case SC_CHURNER: {
        if (M(1) < 1000) set(1, rng.int(1500, 6000));
        set(0, Math.floor((M(1) * rng.int(250, 650)) / 1000));
        const m1 = Math.max(has(1) ? mouA[J(1)]! : 0, rng.int(80, 600));
        setMou(1, m1);
        setMou(0, Math.floor((m1 * rng.int(50, 450)) / 1000));
        if (v & 4 && has(0)) hot[J(0)] = rng.int(5, 9);
        break;
      }
      case SC_HOTLINE:
        if (has(0)) {
          if (v === 0) hot[J(0)] = rng.int(5, 12);
          else if (v === 1)
            hot[J(0)] = 5; // exactly 5 flags
          else if (v === 2)
            hot[J(0)] = 4; // 4 does not
          else if (v === 3) {
            hot[J(0)] = 5;
            mode[J(0)] = 3;
          } // 3 + 2 on two rows: flags
          else {
            hot[J(0)] = 1;
            if (has(1)) hot[J(1)] = 7;
          } // many calls a month too early
          present[J(0)] = 1;
        }
        break;
      case SC_MOU_DROP:
        if (v === 0) {
          const m1 = Math.max(has(1) ? mouA[J(1)]! : 0, rng.int(80, 900));
          setMou(1, m1);
          setMou(0, Math.floor((m1 * rng.int(30, 500)) / 1000));
        } else {
          // 60→30 and 200→100 flag; 59→0 and 201→101 do not; 40+20 on two rows → 30 flags.
          const m1 = [0, 60, 59, 201, 200, 60][v]!;
          const m0 = [0, 30, 0, 101, 100, 30][v]!;
          setMou(1, m1);
          setMou(0, m0);
          if (v === 5 && has(1)) mode[J(1)] = 1;
        }
        if (has(0) && has(1)) set(0, M(1)); // only the minutes move
        break;
      default:
        break;
    }

    if (ctx.planted) {
      const p = ctx.planted;
      if (has(0) && present[J(0)]) {
        p.billM0[i] = amt[J(0)]!;
        p.mouM0[i] = mouA[J(0)]!;
      }
      if (has(1) && present[J(1)]) p.billM1[i] = amt[J(1)]!;
    }
    w.room(256 * K);
    for (let k = 0; k < K; k++) {
      const r = rng.next();
      const split = rng.next();
      if (!present[k]) continue;
      const fen = amt[k]!,
        m = mouA[k]!,
        hc = hot[k]!;
      let md = mode[k]!;
      if (md === 0 && sc !== SC_BILL_DROP && sc !== SC_DECLINE && sc !== SC_MOU_DROP && sc !== SC_HOTLINE) {
        if (r < 0.02) md = 1;
        else if (r < 0.03 && fen >= 1000) md = 2;
      }
      if (md === 1) {
        const fa = Math.floor(fen * split);
        const ma = Math.floor(m * split);
        const ha = Math.floor(hc * split);
        emit(k, fa, ma, ha);
        emit(k, fen - fa, m - ma, hc - ha);
      } else if (md === 2) {
        const credit = Math.max(100, Math.floor(fen * (0.05 + 0.2 * split)));
        emit(k, fen + credit, m, hc);
        emit(k, -credit, 0, 0);
      } else if (md === 3) {
        const ma = Math.floor(m / 2);
        const fa = fen > 2000 ? fen - 2000 : fen;
        emit(k, fa, ma, 3);
        emit(k, fen - fa, m - ma, hc - 3);
      } else {
        emit(k, fen, m, hc);
      }
    }
    if (w.full) await w.flush();
  }
  return w.close();
}

// ---------------------------------------------------------------------------
// usage_daily.csv, day by day (as daily partitions are concatenated), subscribers in order.

async function writeUsage(ctx: Ctx): Promise<GeneratedFile> {
  const { N, D, days } = ctx;
  const rng = streamFor(ctx, 'usage');
  const dirt = new Dirt(streamFor(ctx, 'usage/dirty'), ctx.dirtyQ);
  const w = ctx.sink('usage_daily');

  let day = 0;
  let i = 0;
  let dayB: Uint8Array = new Uint8Array(0);
  const emit = (calls: number, sms: number, data: number, fwd: number): void => {
    w.pad(ctx.idNum(i), 10);
    w.sep();
    w.bytes(dayB);
    w.sep();
    w.uint(calls);
    w.sep();
    w.uint(sms);
    w.sep();
    w.dec2(data);
    w.sep();
    w.uint(fwd);
    w.end();
    if (dirt.tick()) {
      const r = dirt.rng;
      const kind = r.int(0, 2);
      const ds = ctx.fd(day);
      let sid = ctx.idOf(i),
        date = ds,
        c = String(calls);
      if (kind === 0) sid = r.chance(0.8) ? dirt.unknownId() : '';
      else if (kind === 1) date = r.pick([`${ds.slice(0, 4)}-02-30`, `${ds.slice(0, 4)}-13-01`, 'N/A', '', `${ds.slice(0, 4)}1332`]);
      else c = r.pick(['', 'N/A', 'x', '#REF!', '-2']);
      w.str(sid);
      w.sep();
      w.str(ctx.q(date));
      w.sep();
      w.str(ctx.q(c));
      w.sep();
      w.uint(sms);
      w.sep();
      w.dec2(data);
      w.sep();
      w.uint(fwd);
      w.end();
    }
  };

  // What one subscriber-day gives.
  const NONE = 0,
    ROW = 1,
    ZERO = 2,
    FORCED = 3;
  for (day = D - days; day < D; day++) {
    dayB = ctx.dayBytes(day);
    const j = D - day; // 1 = d1
    for (i = 0; i < N; i++) {
      const st = ctx.status[i]!;
      if (day < ctx.act[i]!) continue;
      if (st !== ST_ACTIVE && day >= ctx.since[i]!) continue; // suspended or closed: no usage
      const sc = ctx.scen[i]!;
      const u = rng.next();
      let kind = ROW;
      let fwd = 0;
      let splitFwd = false;
      let tiny = false;
      const mouBase = ctx.mou[i]!;
      if (sc !== SC_NORMAL) {
        const v = ctx.variant[i]!;
        switch (sc) {
          case SC_SILENT:
            if (v === 0) {
              if (j <= 3 + (ctx.hu(i, 5) % 6)) kind = u < 0.8 ? NONE : ZERO;
            } else if (v === 1) {
              if (j <= 3) kind = ZERO;
            } // rows present, all zero: silent
            else if (v === 2) {
              if (j <= 3) kind = NONE;
              else if (j === 4) kind = FORCED;
            } else if (v === 3) {
              if (j <= 2) kind = NONE;
              else if (j === 3) kind = FORCED;
            } // silent on d1, d2 only
            else if (v === 4 || v === 5)
              kind = NONE; // new line, never used
            else if (v === 6) {
              if (j <= 5) kind = NONE;
            } else if (v === 7) {
              if (j <= 3) {
                kind = j === 2 ? ZERO : NONE;
                tiny = j === 2;
              }
            } // 0.01 MB on d2 is activity
            break;
          case SC_CHURNER:
            if (v & 1 && j <= 3 + (ctx.hu(i, 5) % 3)) kind = NONE;
            break;
          case SC_NEW_ACT:
            if (v === 1) kind = NONE;
            break;
          case SC_FORWARDING:
            if (v === 0) {
              if (j <= 3 + (ctx.hu(i, 4) % 5)) {
                kind = FORCED;
                fwd = 1 + Math.floor(u * 6);
              }
            } else if (v === 1) {
              if (j === 1 || j === 2 || j === 4 || j === 5) {
                kind = FORCED;
                fwd = 1 + Math.floor(u * 4);
              } else if (j === 3) kind = FORCED;
            } // gap on d3
            else if (v === 2) {
              if (j <= 3) {
                kind = FORCED;
                fwd = 1 + Math.floor(u * 4);
                splitFwd = j === 2;
              }
            } else if (j <= 3) {
              kind = FORCED;
              fwd = 1;
            }
            break;
          default:
            break;
        }
      }
      if (kind === ROW) {
        const low = mouBase < 30;
        if (u < (low ? 0.1 : 0.02)) kind = NONE;
        else if (u < (low ? 0.14 : 0.03)) kind = ZERO;
        else if (u > 0.7 && ctx.hu(i, 7) % 100 === 0) fwd = 1 + Math.floor((u - 0.7) * 10); // occasional forwarder
      }
      if (kind === NONE) continue;
      w.room(256);
      if (kind === ZERO) {
        emit(0, 0, tiny ? 1 : 0, 0);
      } else {
        const hs = ctx.hu(i, 2);
        const smsRate = (hs % 40) / 10;
        const l = (hs >>> 8) % 100;
        const dataMean = 2000 + Math.floor((l * l * 100) / 12); // hundredths of MB a day
        let calls = Math.floor((mouBase / 78) * (0.2 + 1.6 * rng.next()) + rng.next());
        const sms = Math.floor(smsRate * 2 * rng.next());
        const data = Math.floor(dataMean * (0.1 + 1.8 * rng.next()));
        if (kind === FORCED && calls + sms + data === 0) calls = 1;
        const sp = rng.next();
        if (splitFwd || sp < 0.004) {
          // The same subscriber-day on two rows; the reader must sum them.
          const c1 = Math.floor(calls * sp * 100) % (calls + 1);
          const s1 = Math.floor(sms / 2);
          const d1 = Math.floor(data / 3);
          const f1 = splitFwd ? 0 : Math.floor(fwd / 2);
          emit(c1, s1, d1, f1);
          emit(calls - c1, sms - s1, data - d1, fwd - f1);
        } else {
          emit(calls, sms, data, fwd);
        }
      }
      if (w.full) await w.flush();
    }
  }
  return w.close();
}

// ---------------------------------------------------------------------------
// tickets.csv

async function writeTickets(ctx: Ctx): Promise<GeneratedFile> {
  const { N, D, fd, q } = ctx;
  const rng = streamFor(ctx, 'tickets');
  const dirt = new Dirt(streamFor(ctx, 'tickets/dirty'), ctx.dirtyQ);
  const w = ctx.sink('tickets');
  const categories = TICKET_CATEGORIES.map((list) => list.map(q));

  // created_at forms: 0 "YYYY-MM-DD HH:MM:SS", 1 "YYYY-MM-DDTHH:MM:SS", 2 "YYYY-MM-DD", 3 "YYYYMMDD"
  const tDay: number[] = [],
    tSec: number[] = [],
    tKind: number[] = [],
    tForm: number[] = [];
  const add = (day: number, kind: number, sec = -1, form = -1): void => {
    tDay.push(day);
    tKind.push(kind);
    tSec.push(sec >= 0 ? sec : rng.int(8 * 3600, 22 * 3600 - 1));
    if (form >= 0) tForm.push(form);
    else {
      const r = rng.next();
      tForm.push(r < 0.55 ? 0 : r < 0.75 ? 1 : r < 0.95 ? 2 : 3);
    }
  };
  const inWindow = (): number => D - rng.int(1, 90);
  const background = (): void => {
    const r = rng.next();
    const n = r < 0.88 ? 0 : r < 0.97 ? 1 : r < 0.995 ? 2 : 3;
    for (let t = 0; t < n; t++) {
      const kr = rng.next();
      add(D - rng.int(1, 180), kr < 0.55 ? K_INQUIRY : kr < 0.75 ? K_FAULT : kr < 0.9 ? K_COMPLAINT : K_OTHER);
    }
  };
  const fmt = (day: number, sec: number, form: number): string => {
    const ds = fd(day);
    if (form === 2) return ds;
    if (form === 3) return ds.slice(0, 4) + ds.slice(5, 7) + ds.slice(8, 10);
    const hh = Math.floor(sec / 3600),
      mm = Math.floor((sec % 3600) / 60),
      ss = sec % 60;
    return `${ds}${form === 1 ? 'T' : ' '}${PAD2[hh]}:${PAD2[mm]}:${PAD2[ss]}`;
  };

  let n = 0;
  let xn = 0;
  const order: number[] = [];
  for (let i = 0; i < N; i++) {
    const sc = ctx.scen[i]!,
      v = ctx.variant[i]!;
    tDay.length = 0;
    tSec.length = 0;
    tKind.length = 0;
    tForm.length = 0;
    if (sc === SC_COMPLAINER) {
      if (v === 0) {
        const c = rng.int(2, 4);
        for (let t = 0; t < c; t++) add(inWindow(), K_COMPLAINT);
        if (rng.chance(0.3)) add(D - rng.int(91, 180), K_COMPLAINT);
      } else if (v === 1) {
        const c = rng.int(3, 5);
        for (let t = 0; t < c; t++) add(inWindow(), K_FAULT);
      } else if (v === 2) {
        add(D - 90, K_COMPLAINT, 0, 0);
        add(inWindow(), K_COMPLAINT);
      } // exactly 2, one at the window's first second
      else if (v === 3) {
        add(D - 91, K_COMPLAINT, 86399, 0);
        add(inWindow(), K_COMPLAINT);
      } // one a second too early
      else if (v === 4) {
        add(inWindow(), K_FAULT);
        add(inWindow(), K_FAULT);
        add(inWindow(), K_COMPLAINT);
        add(inWindow(), K_INQUIRY);
      } else if (v === 5) {
        add(D - 90, K_FAULT, 0, 2);
        add(D - 1, K_FAULT, 86399, 1);
        add(inWindow(), K_FAULT);
      } // exactly 3, at both ends
      else {
        add(inWindow(), K_COMPLAINT);
        add(D - rng.int(100, 180), K_COMPLAINT);
        add(D - rng.int(100, 180), K_COMPLAINT);
      }
    } else if (sc === SC_CHURNER && v & 2) {
      const c = rng.int(2, 3);
      for (let t = 0; t < c; t++) add(inWindow(), K_COMPLAINT);
      background();
    } else if (sc === SC_CLOSED && v & 1) {
      add(inWindow(), K_COMPLAINT);
      add(inWindow(), K_COMPLAINT); // closed lines never flag
    } else if (sc === SC_ARREARS) {
      if (rng.chance(0.3)) add(inWindow(), K_INQUIRY);
      background();
    } else {
      background();
    }
    if (tDay.length === 0) continue;
    // Chronological within the subscriber (insertion sort on day, then second).
    order.length = 0;
    for (let t = 0; t < tDay.length; t++) {
      let p = order.length;
      while (p > 0 && (tDay[order[p - 1]!]! > tDay[t]! || (tDay[order[p - 1]!] === tDay[t] && tSec[order[p - 1]!]! > tSec[t]!))) p--;
      order.splice(p, 0, t);
    }
    const id = ctx.idOf(i);
    w.room(512 * order.length);
    for (const t of order) {
      const kind = tKind[t]!;
      const created = fmt(tDay[t]!, tSec[t]!, tForm[t]!);
      const category = rng.pick(categories[kind]!);
      w.ascii('T');
      w.pad(++n, 10);
      w.sep();
      w.ascii(id);
      w.sep();
      w.ascii(created);
      w.sep();
      w.ascii(TICKET_KINDS[kind]!);
      w.sep();
      w.str(category);
      w.end();
      if (dirt.tick()) {
        const r = dirt.rng;
        const bad = r.int(0, 3);
        let xid = `TX${String(++xn).padStart(9, '0')}`,
          sid = id,
          c = created,
          k: string = TICKET_KINDS[kind]!;
        if (bad === 0) sid = dirt.unknownId();
        else if (bad === 1) c = r.pick(['N/A', '', `${created.slice(0, 4)}-02-30 10:00:00`, `${created.slice(0, 4)}-13-01`]);
        else if (bad === 2) k = r.pick(['complain', '投诉', 'unknown', 'ticket']);
        else xid = '';
        w.str(xid);
        w.sep();
        w.str(sid);
        w.sep();
        w.str(q(c));
        w.sep();
        w.str(q(k));
        w.sep();
        w.str(category);
        w.end();
      }
    }
    if (w.full) await w.flush();
  }
  return w.close();
}

// ---------------------------------------------------------------------------
// contracts.csv

async function writeContracts(ctx: Ctx): Promise<GeneratedFile> {
  const { N, D } = ctx;
  const rng = streamFor(ctx, 'contracts');
  const dirt = new Dirt(streamFor(ctx, 'contracts/dirty'), ctx.dirtyQ);
  const w = ctx.sink('contracts');
  let n = 0;
  let xn = 0;
  const renewedText = (renewed: boolean): string => (rng.chance(0.5) ? (renewed ? '1' : '0') : renewed ? 'true' : 'false');
  const duration = (kind: number): number => (kind === 2 ? 365 : kind === 1 ? 730 : rng.chance(0.5) ? 365 : 730);

  let i = 0;
  const emit = (kind: number, start: number, end: number, renewed: boolean): void => {
    const ren = renewedText(renewed);
    w.room(512);
    w.ascii('HT');
    w.pad(++n, 9);
    w.sep();
    w.pad(ctx.idNum(i), 10);
    w.sep();
    w.ascii(CONTRACT_KINDS[kind]!);
    w.sep();
    w.bytes(ctx.dayBytes(start));
    w.sep();
    w.bytes(ctx.dayBytes(end));
    w.sep();
    w.ascii(ren);
    w.end();
    if (dirt.tick()) {
      const r = dirt.rng;
      const bad = r.int(0, 3);
      const startS = ctx.fd(start),
        endS = ctx.fd(end);
      let sid = ctx.idOf(i),
        s = startS,
        e = endS,
        rn = ren;
      if (bad === 0) sid = dirt.unknownId();
      else if (bad === 1) {
        if (r.chance(0.5)) s = r.pick(['N/A', `${startS.slice(0, 4)}-02-30`, '00000000']);
        else e = r.pick(['N/A', `${endS.slice(0, 4)}-13-01`, '9999-99-99', ctx.fd(start - 1)]);
      } else if (bad === 2) rn = r.pick(['2', 'maybe', '-1', 'n/a']);
      else e = '';
      w.str(`HX${String(++xn).padStart(9, '0')}`);
      w.sep();
      w.str(sid);
      w.sep();
      w.ascii(CONTRACT_KINDS[kind]!);
      w.sep();
      w.str(ctx.q(s));
      w.sep();
      w.str(ctx.q(e));
      w.sep();
      w.str(ctx.q(rn));
      w.end();
    }
  };
  /** A contract ending on `end`, of a plausible length. */
  const ending = (kind: number, end: number, renewed: boolean): void => {
    emit(kind, end - duration(kind) + 1, end, renewed);
  };
  const background = (): void => {
    const r = rng.next();
    const count = r < 0.6 ? 0 : r < 0.92 ? 1 : 2;
    const first = rng.int(0, 2);
    for (let c = 0; c < count; c++) {
      const kind = (first + c) % 3;
      const start = D - rng.int(30, 900);
      const end = start + duration(kind) - 1;
      const renewed = end < D ? rng.chance(0.7) : rng.chance(0.1);
      emit(kind, start, end, renewed);
    }
  };

  for (i = 0; i < N; i++) {
    const sc = ctx.scen[i]!,
      v = ctx.variant[i]!;
    if (sc === SC_EXPIRING) {
      const kind = rng.int(0, 2);
      if (v === 0) ending(kind, D + rng.int(0, 30), false);
      else if (v === 1)
        ending(kind, D, false); // ends on the run date: flags
      else if (v === 2)
        ending(kind, D + 30, false); // ends on D+30: flags
      else if (v === 3)
        ending(kind, D + 31, false); // one day outside
      else ending(kind, D + rng.int(0, 30), true); // already renewed
    } else if (sc === SC_LAPSED) {
      const kind = rng.int(0, 2);
      if (v === 0) ending(kind, D - rng.int(1, 30), false);
      else if (v === 1)
        ending(kind, D - 30, false); // ended exactly 30 days ago: flags
      else if (v === 2)
        ending(kind, D - 1, false); // ended yesterday: flags
      else if (v === 3)
        ending(kind, D - 31, false); // one day outside
      else if (v === 4) {
        // followed by a new contract of the same kind: does not flag
        const end = D - rng.int(1, 30);
        ending(kind, end, false);
        emit(kind, end + 1, D + rng.int(60, 700), false);
      } else if (v === 5) {
        // a running contract of another kind does not cover it: flags
        const end = D - rng.int(1, 30);
        ending(kind, end, false);
        emit((kind + 1) % 3, D - rng.int(1, 200), D + rng.int(60, 700), false);
      } else ending(kind, D - rng.int(1, 30), true); // renewed
    } else if (sc === SC_CLOSED && v & 2) {
      ending(rng.int(0, 2), D + rng.int(0, 30), false); // closed lines never flag
    } else {
      background();
    }
    if (w.full) await w.flush();
  }
  return w.close();
}

// ---------------------------------------------------------------------------
// contact_history.csv: results of earlier retention contacts.

async function writeContacts(ctx: Ctx): Promise<GeneratedFile> {
  const { N, fd, q } = ctx;
  // After worked nights, the history from before the first of them, as that night's set had it:
  // a CRM's export only grows, its old rows never move with the date of the next export.
  const D = ctx.worked.length > 0 ? ctx.worked[0]!.day : ctx.D;
  const rng = streamFor(ctx, 'contacts');
  const w = ctx.sink('contact_history');
  const channels = CHANNELS.map(q);
  let n = 0;
  const days: number[] = [];
  for (let i = 0; i < N; i++) {
    const sc = ctx.scen[i]!;
    const p = sc === SC_NORMAL ? 0.02 : sc === SC_CLOSED ? 0.3 : 0.12;
    if (!rng.chance(p)) continue;
    const count = rng.int(1, 3);
    days.length = 0;
    for (let c = 0; c < count; c++) days.push(D - rng.int(1, 120));
    days.sort((x, y) => x - y);
    w.room(512 * count);
    for (let c = 0; c < count; c++) {
      const day = days[c]!;
      const sec = rng.int(9 * 3600, 21 * 3600 - 1);
      const channel = rng.pick(channels);
      const r = rng.next();
      const last = c === count - 1;
      const outcome =
        sc === SC_CLOSED && last && r < 0.6 ? 'churned' : CONTACT_OUTCOMES[r < 0.35 ? 0 : r < 0.5 ? 1 : r < 0.75 ? 2 : r < 0.92 ? 3 : 4]!;
      const ds = fd(day);
      contactHead(ctx, w, i, ds, sec, channel, outcome);
      w.ascii(`RT${ds.slice(0, 4)}${ds.slice(5, 7)}${ds.slice(8, 10)}-`);
      w.pad(++n, 7);
      w.end();
    }
    if (w.full) await w.flush();
  }
  // What the call centre wrote back on the worked nights: one row per task it worked, with the task's id.
  for (const night of ctx.worked) {
    const ds = fd(night.day);
    for (const task of night.tasks) {
      const { outcome, second } = workedContact(ctx.seed, night.day, task);
      if (outcome === null) continue;
      w.room(512 + task.taskId.length);
      contactHead(ctx, w, subscriberIndex(ctx, task), ds, second, q(task.channel), outcome);
      w.ascii(task.taskId);
      w.end();
      if (w.full) await w.flush();
    }
  }
  return w.close();
}

/** A contact row up to its task_id: subscriber, "YYYY-MM-DD hh:mm:ss", channel (quoted as needed) and outcome, each followed by the delimiter. */
function contactHead(ctx: Ctx, w: Sink, i: number, ds: string, sec: number, channel: string, outcome: string): void {
  w.pad(ctx.idNum(i), 10);
  w.sep();
  w.ascii(`${ds} ${PAD2[Math.floor(sec / 3600)]}:${PAD2[Math.floor((sec % 3600) / 60)]}:${PAD2[sec % 60]}`);
  w.sep();
  w.str(channel);
  w.sep();
  w.ascii(outcome);
  w.sep();
}

/** The index of a worked task's subscriber in this set (checked by checkWorked), from its 10-digit id. */
function subscriberIndex(ctx: Pick<Ctx, 'N' | 'idOf'>, task: WorkedTask): number {
  const i = /^\d{10}$/.test(task.subscriberId) ? Math.floor((Number(task.subscriberId) - 1_000_000) / 7) : -1;
  return i >= 0 && i < ctx.N && ctx.idOf(i) === task.subscriberId ? i : -1;
}

/**
 * Refuses worked nights that cannot be this set's: a night on or after D, or a task
 * of a subscriber the seed and size do not make (those nights ran on another set).
 */
function checkWorked(ctx: Pick<Ctx, 'N' | 'idOf' | 'D'>, worked: readonly WorkedNight[]): void {
  for (const night of worked) {
    if (!(night.day < ctx.D))
      throw new ChurnwatchError(
        'CW_USAGE',
        `worked night ${formatDay(night.day)} is not before the run date; only earlier nights can have been worked`,
      );
    for (const task of night.tasks)
      if (subscriberIndex(ctx, task) < 0)
        throw new ChurnwatchError(
          'CW_USAGE',
          `${task.file}: line ${task.line}: the task's subscriber is not in this generated set; generate with the --seed and --subscribers of the set that night ran on`,
          { file: task.file, line: task.line },
        );
  }
}

// ---------------------------------------------------------------------------
// do_not_call.csv: about 1% of the base, plus a few numbers from outside it.

async function writeDoNotCall(ctx: Ctx): Promise<GeneratedFile> {
  const { N } = ctx;
  const rng = streamFor(ctx, 'dnc');
  const w = ctx.sink('do_not_call');
  let outside = 0;
  const line = (k: number): void => {
    w.room(64);
    w.ascii(ctx.msisdnPrefix(k));
    w.pad(ctx.msisdnSuffix(k), 8);
    w.end();
  };
  for (let i = 0; i < N; i++) {
    if (rng.chance(0.01)) line(i);
    if (i % 2000 === 1999) line(N + outside++); // not a subscriber: indexes beyond N map to unused numbers
    if (w.full) await w.flush();
  }
  return w.close();
}

// ---------------------------------------------------------------------------
// labels.csv: who churned in the 90 days after D, drawn by a planted process.

/**
 * The planted churn process, a logistic model over what the extracts show:
 *   logit P(churn) = -3.0
 *     + 3.0 × drop           drop = 1 − bill(M0)/bill(M1), 0 when the bill did not fall or bill(M1) < 10 yuan
 *     + 1.0 × [minutes(M0) < 30]        low current usage (no M0 row counts as 0 minutes)
 *     + 0.7 × [bill(M0) < 20 yuan]      low value
 *     + 0.8 × [tenure < 365 days]       a young line
 *     + 1.2 × [status arrears or on hold]
 * A churner's churn date is uniform on D+1..D+90. Closed lines have left already and
 * get no row. The draws come from their own stream, after all the extracts, so the
 * extracts are the same bytes with and without labels.
 */
export const PLANTED_CHURN = { intercept: -3.0, drop: 3.0, lowMinutes: 1.0, lowBill: 0.7, youngLine: 0.8, suspended: 1.2 } as const;

async function writeLabels(ctx: Ctx, w: Sink): Promise<GeneratedFile> {
  const { N, D } = ctx;
  const p = ctx.planted!;
  const c = PLANTED_CHURN;
  const rng = streamFor(ctx, 'labels');
  w.str('subscriber_id,churned,churn_date\n');
  for (let i = 0; i < N; i++) {
    const st = ctx.status[i]!;
    if (st === ST_CLOSED) continue;
    const m0 = Math.max(0, p.billM0[i]!),
      m1 = p.billM1[i]!;
    const drop = m1 >= 1000 && m0 < m1 ? 1 - m0 / m1 : 0;
    const logit =
      c.intercept +
      c.drop * drop +
      (Math.max(0, p.mouM0[i]!) < 30 ? c.lowMinutes : 0) +
      (m0 < 2000 ? c.lowBill : 0) +
      (D - ctx.act[i]! < 365 ? c.youngLine : 0) +
      (st === ST_ARREARS || st === ST_HOLD ? c.suspended : 0);
    const churned = rng.next() < 1 / (1 + exp(-logit));
    w.room(64);
    w.pad(ctx.idNum(i), 10);
    w.sep();
    if (churned) {
      w.ascii('1,');
      w.ascii(ctx.fd(D + rng.int(1, 90)));
    } else w.ascii('0,');
    w.end();
    if (w.full) await w.flush();
  }
  return w.close();
}
