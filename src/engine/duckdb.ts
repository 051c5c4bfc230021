/**
 * The duckdb engine: embedded DuckDB reads, checks and folds the measure extracts
 * (billing_monthly, usage_daily) out of core, so their rows never sit in this
 * process. readFacts gives ingest what the in-process reader (ingest/facts.ts) would,
 * the file's stats, its rejected rows and the counts the gates read, and keeps the
 * per-subscriber sums of the months and days the pack reads in DuckDB tables. score()
 * then computes the rules, value, tier, risk and expected loss there, with the SQL
 * the pack compiles to (rules/sql.ts compilePackSql, the same as `churnwatch sql`),
 * over those sums and the feature columns read in process (subscribers, tickets,
 * contracts). What comes back: the score columns of every subscriber, in batches,
 * and the measures only of the flagged ones, which their task texts read.
 *
 * Exactness: each row gets the reader's verdict in the reader's order of checks
 * (field count, subscriber id, period, each numeric column: empty, not a number,
 * below 0), with the reader's reject texts (exported by facts.ts and table-reader.ts);
 * numbers parse with the SQL compiler's parsers (rules/sql.ts), which the
 * differential tests hold to the reader's. Line numbers come from reading the file
 * as lines: DuckDB keeps empty lines as NULL rows in file order, so row k is line k.
 * What that reading cannot see the same way is refused before DuckDB reads it
 * (CW_ENGINE_UNSUPPORTED): a quote character (a quoted field may hold the delimiter
 * or a line break), a lone CR or mixed line ends, a 0x01 byte (the line reader's
 * column separator), bytes that are not UTF-8, another encoding, thousands separators.
 *
 * Memory: DuckDB gets `memory_limit` and spills to a temp folder in the output
 * root (.tmp-engine-<pid>, removed at the end, swept by the next run if killed).
 */
import { closeSync, createReadStream, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ChurnwatchError } from '../errors.js';
import { DERIVED_MEASURES, MEASURE_EXTRACTS, TIERS, foldColumns, measureScale, type FoldColumn } from '../contract/contract.js';
import type { RulePack } from '../config/rulepack.js';
import { ENUM_MISSING, type Column } from '../rules/compile.js';
import { sharedFloat64, sharedUint8 } from '../util/worker.js';
import {
  DIALECTS,
  compilePackSql,
  dayLayers,
  featureColumn,
  layered,
  measureValueSql,
  monthIndex,
  optionalScaled,
  scaled,
  stringLiteral,
} from '../rules/sql.js';
import { BILL_MONTH, SUBSCRIBER_REJECTS, USAGE_DATE, badNumberReason, negativeReason, type MeasureSums } from '../ingest/facts.js';
import type { FactJob, FactResult } from '../ingest/fact-jobs.js';
import { displayName, encodingOf, resolveColumns, type InputOptions } from '../ingest/layout.js';
import { RejectLog, type RejectCode } from '../ingest/rejects.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { fieldCountReason, type FileStats } from '../ingest/table-reader.js';

type DuckDbApi = typeof import('@duckdb/node-api');
type Connection = import('@duckdb/node-api').DuckDBConnection;
type Instance = import('@duckdb/node-api').DuckDBInstance;

/** The version the engine is tested with (the newer releases' platform packages are missing from the registry). */
export const DUCKDB_PACKAGE = '@duckdb/node-api@1.5.5-r.5';

export interface DuckDbSettings {
  /** DuckDB's memory_limit, e.g. "2GB": beyond it, joins, sorts and aggregates spill to tempDir. */
  memoryLimit: string;
  threads: number;
  /** A folder of its own (created, and removed by close()). */
  tempDir: string;
  /** Subscribers scored per query (score()); default SLICE_ROWS. */
  sliceRows?: number;
}

/**
 * Subscribers per scoring query: a slice's features (some 30 doubles a subscriber)
 * take tens of MB in DuckDB, far below any workable memory limit, and 40 slices at
 * 10M cost little over one query.
 */
export const SLICE_ROWS = 1 << 18;

/** The optional dependency, loaded only when the engine is asked for. */
async function loadDuckDb(): Promise<DuckDbApi> {
  try {
    return await import('@duckdb/node-api');
  } catch {
    throw new ChurnwatchError(
      'CW_ENGINE_UNAVAILABLE',
      `--engine duckdb needs the optional package ${DUCKDB_PACKAGE}, which is not installed or has no build for this platform; ` +
        `install it where churnwatch is installed (npm install ${DUCKDB_PACKAGE}), or run with --engine in-process`,
      {},
    );
  }
}

/** JavaScript's String#trim set, which the id table trims ids with. */
const ID_SPACE = ` \\t\\n\\u000b\\f\\r\\u00a0\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff`;
/** The readers' blanks around a number or a date: space and TAB to CR. */
const CELL_SPACE = ' \\t\\n\\u000b\\f\\r';
const spaceSet = (escaped: string) => `${JSON.parse(`"${escaped}"`) as string}`;
/**
 * trim() with a character set costs DuckDB some 20 times a plain read of the cell; a
 * cell that starts and ends with a printable ASCII character (nearly all) has nothing
 * to trim in either set, and is taken as it is.
 */
const trimSql = (x: string, set: string) =>
  `CASE WHEN ascii(${x}) BETWEEN 33 AND 126 AND ascii(${x}[-1:]) BETWEEN 33 AND 126 THEN ${x} ELSE trim(${x}, ${stringLiteral(spaceSet(set))}) END`;

const D = DIALECTS.duckdb;

/** What score() gives back: per subscriber, the pack's results; the measure features only for some. */
export interface EngineScores {
  value: Float64Array;
  excluded: Uint8Array;
  /** Per enabled rule, in pack order. */
  flags: Uint8Array[];
  /** Index into TIERS; null for a pack that tiers by rank (the caller ranks every subscriber). */
  tier: Uint8Array | null;
  risk: Float64Array;
  loss: Float64Array;
  /** Subscriber index → row of `measures` (-1: not flagged, not brought back); null: every subscriber, the row its index. */
  rows: Int32Array | null;
  /** How many rows came back: the flagged subscribers, or every one (rows null). */
  kept: number;
  /** The billing and usage features by key, over the rows brought back. */
  measures: Map<string, Float64Array>;
}

/** The whole-file reads of the two measure extracts that this engine takes over. */
type BillingJob = Extract<FactJob, { asOfMonth: number }>;
type UsageJob = Extract<FactJob, { wanted: unknown }>;
export class DuckDbEngine {
  private idsLoaded = false;
  private seq = 0;
  /** Where each per-subscriber sum of the measure extracts is (sumsTable). */
  private readonly sums = new Map<string, { table: string; column: string; scale: number }>();

  private constructor(
    private readonly instance: Instance,
    private readonly conn: Connection,
    private readonly dir: string,
    private readonly memoryLimit: string,
    private readonly sliceRows: number,
  ) {}

  /** Opens the engine for a run over `input`, after refusing a configuration it cannot read the same way (before anything is read). */
  static async open(s: DuckDbSettings, input: InputOptions): Promise<DuckDbEngine> {
    for (const extract of MEASURE_EXTRACTS) {
      const file = displayName(input, extract);
      const encoding = encodingOf(input, extract);
      if (encoding !== 'utf8') throw unsupported(file, `it is configured as ${encoding} (input.encoding or input.encodings)`);
      if (input.thousands) throw unsupported(file, 'input.thousands allows thousands separators in its numbers');
    }
    const api = await loadDuckDb();
    mkdirSync(join(s.tempDir, 'spill'), { recursive: true, mode: 0o700 });
    const instance = await api.DuckDBInstance.create(join(s.tempDir, 'engine.duckdb'), {
      memory_limit: s.memoryLimit,
      threads: String(s.threads),
      temp_directory: join(s.tempDir, 'spill'),
      preserve_insertion_order: 'true',
    });
    return new DuckDbEngine(instance, await instance.connect(), s.tempDir, s.memoryLimit, s.sliceRows ?? SLICE_ROWS);
  }

  close(): void {
    try {
      this.conn.closeSync();
      this.instance.closeSync();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The accepted subscribers' ids (trimmed, as the id table holds them) with their index. */
  private async loadIds(subscribers: Pick<SubscriberTable, 'n' | 'ids'>): Promise<void> {
    if (this.idsLoaded) return;
    await this.conn.run('CREATE TABLE ids (sid VARCHAR, idx INTEGER)');
    const app = await this.conn.createAppender('ids');
    for (let i = 0; i < subscribers.n; i++) {
      app.appendVarchar(subscribers.ids.get(i));
      app.appendInteger(i);
      app.endRow();
    }
    app.closeSync();
    this.idsLoaded = true;
  }

  /** The fact job of a measure extract, as runFactJob would fold it; null for the other extracts (read in process). */
  async readFacts(
    job: FactJob,
    input: InputOptions,
    subscribers: Pick<SubscriberTable, 'n' | 'ids'>,
    onRows?: (rows: number, bytes: number) => void,
  ) {
    // Whole files only: the ingest plan neither cuts nor hashes apart the files this engine reads.
    if ('hash' in job || (job.extract !== 'billing_monthly' && job.extract !== 'usage_daily') || job.range !== undefined) return null;
    const started = performance.now();
    const probe = await probeFile(job.path, job.file);
    await this.loadIds(subscribers);
    const t = `x${++this.seq}`;
    try {
      const read = await this.checkRows(t, job, input, probe.gzip);
      const rejects = new RejectLog();
      for (const r of read.rejects) rejects.add(job.file, r.line, r.column, r.code, r.reason, r.raw);
      const stats: FileStats = {
        extract: job.extract,
        file: job.file,
        path: job.path,
        bytes: probe.bytes,
        records: read.records,
        accepted: read.records - read.rejects.length,
        rejected: read.rejects.length,
        ms: 0,
        sha256: probe.sha256,
        before: probe.before,
      };
      const result: FactResult =
        job.extract === 'billing_monthly'
          ? await this.foldBilling(t, job, read.folds, stats)
          : await this.foldUsage(t, job, read.folds, input, stats);
      result.rejects = rejects.rows;
      result.stats.ms = performance.now() - started;
      onRows?.(read.records, probe.bytes);
      return result;
    } catch (e) {
      throw engineFailure(e, this.memoryLimit, this.dir);
    } finally {
      await this.conn.run(`DROP TABLE IF EXISTS ${t}_lines; DROP TABLE IF EXISTS ${t}`);
    }
  }

  /**
   * The pack's value, exclusion, flags, tier, risk and expected loss for every
   * subscriber, computed here by the SQL the pack compiles to (compilePackSql, as
   * `churnwatch sql` does), over the measure sums of readFacts and the feature
   * columns read in process (`nodeColumns`: the subscribers' attributes, ticket and
   * contract counts). They come back in batches into typed arrays; the measure
   * features come back only for the subscribers some rule flags (all of them with
   * `all`), which is what the task texts read.
   *
   * One slice of subscriber indexes at a time: every table a slice's query reads is
   * cut to the slice's range, so its hash joins and results stay the size of a
   * slice whatever the number of subscribers (scoring all of them in one query
   * held 10M rows of features in DuckDB's memory, and ran out of 2GB). The
   * in-process columns go to DuckDB a slice at a time too. A pack that tiers by
   * rank ranks every subscriber at once: its tier is left to the caller (null).
   */
  async score(pack: RulePack, asOf: number, n: number, nodeColumns: ReadonlyMap<string, Column>, all: boolean): Promise<EngineScores> {
    const c = compilePackSql(pack, D, asOf);
    const nf = `nf${++this.seq}`;
    const byRank = pack.tiers.method === 'rank';
    // Nothing here reads a result in insertion order (rows are placed by their row_no), so DuckDB need not keep it.
    await this.conn.run('SET preserve_insertion_order = false');
    try {
      const nodeKeys = [...c.features.keys()].filter((k) => nodeColumns.has(k));
      const nodeCols = nodeKeys.map((k) => nodeColumns.get(k)!);
      const cols: string[] = [];
      const measureKeys: string[] = [];
      const tables = new Set<string>();
      for (const [key, f] of c.features) {
        const col = featureColumn(f);
        if (f.source === 'billing' || f.source === 'usage') {
          measureKeys.push(key);
          const at = this.sums.get(sumKey(f.source, f.measure, f.source === 'billing' ? f.month : f.day));
          // A month without rows (a gate let it through) or a day of no rows: 0, as the folds give it.
          if (at === undefined) cols.push(`CAST(0 AS DOUBLE) AS ${col}`);
          else {
            tables.add(at.table);
            cols.push(`${measureValueSql(`${at.table}.${at.column}`, at.scale)} AS ${col}`);
          }
        } else if (nodeColumns.has(key)) cols.push(`r.c${nodeKeys.indexOf(key)} AS ${col}`);
        else throw new Error(`internal: feature ${key} has no column`);
      }
      const measureCols = measureKeys.map((k) => featureColumn(c.features.get(k)!));
      const rules = c.enabled.map((r) => c.ruleColumn(r.id));
      const flaggedSql = rules.length === 0 ? '0' : `CASE WHEN ${rules.map((r) => `${r} = 1`).join(' OR ')} THEN 1 ELSE 0 END`;
      const tierCode = `CASE tier ${TIERS.map((t, k) => `WHEN '${t}' THEN ${k}`).join(' ')} END`;
      const scoring = c.scoring(measureCols, true, false).join(',\n');
      const sliceSql = (lo: number, hi: number) => {
        const range = (x: string) => `${x} >= ${lo} AND ${x} < ${hi}`;
        const driver = nodeKeys.length > 0 ? `${nf} r` : `(SELECT range AS idx FROM range(${lo}, ${hi})) r`;
        const joins = [...tables].map((t) => `LEFT JOIN (SELECT * FROM ${t} WHERE ${range('idx')}) ${t} ON ${t}.idx = r.idx`);
        return `WITH features AS (SELECT CAST(NULL AS VARCHAR) AS sid, r.idx AS row_no${cols.map((x) => `, ${x}`).join('')} FROM ${driver} ${joins.join(' ')}),
${scoring}
SELECT row_no, value, CASE WHEN excluded THEN 1 ELSE 0 END AS excluded, ${tierCode} AS tier, risk, loss, flagged${rules.map((r) => `, ${r}`).join('')}${measureCols
          .map((m) => `, ${all ? m : `CASE WHEN flagged = 1 THEN ${m} END`}`)
          .join('')}
FROM (SELECT *, ${flaggedSql} AS flagged FROM scored) x`;
      };
      const out: EngineScores = {
        value: sharedFloat64(n),
        excluded: new Uint8Array(n),
        flags: rules.map(() => sharedUint8(n)),
        tier: byRank ? null : sharedUint8(n),
        risk: sharedFloat64(n),
        loss: sharedFloat64(n),
        rows: all ? null : new Int32Array(n).fill(-1),
        kept: 0,
        measures: new Map(),
      };
      const kept = measureKeys.map(() => new GrowingFloat64(all ? n : Math.min(n, this.sliceRows)));
      const first = 7 + rules.length;
      let next = 0;
      for (let lo = 0; lo < n; lo += this.sliceRows) {
        const hi = Math.min(n, lo + this.sliceRows);
        if (nodeKeys.length > 0) await this.appendColumns(nf, nodeCols, lo, hi);
        // The slice's rows arrive in any order; its flagged rows are numbered in index order after it.
        const flaggedAt = all ? null : new Uint8Array(hi - lo);
        const slice = all || measureKeys.length === 0 ? null : measureKeys.map(() => new Float64Array(hi - lo));
        await this.eachChunk(sliceSql(lo, hi), (v, r) => {
          const i = v[0]!.getItem(r) as number;
          out.value[i] = (v[1]!.getItem(r) as number | null) ?? Number.NaN;
          out.excluded[i] = v[2]!.getItem(r) as number;
          if (out.tier !== null) out.tier[i] = v[3]!.getItem(r) as number;
          out.risk[i] = v[4]!.getItem(r) as number;
          out.loss[i] = v[5]!.getItem(r) as number;
          for (let j = 0; j < rules.length; j++) out.flags[j]![i] = v[7 + j]!.getItem(r) as number;
          if (all) {
            for (let j = 0; j < kept.length; j++) kept[j]!.set(i, (v[first + j]!.getItem(r) as number | null) ?? Number.NaN);
          } else if (v[6]!.getItem(r) === 1) {
            flaggedAt![i - lo] = 1;
            if (slice !== null) for (let j = 0; j < slice.length; j++) slice[j]![i - lo] = v[first + j]!.getItem(r) as number;
          }
        });
        if (flaggedAt !== null)
          for (let k = 0; k < flaggedAt.length; k++) {
            if (flaggedAt[k] === 0) continue;
            out.rows![lo + k] = next;
            if (slice !== null) for (let j = 0; j < slice.length; j++) kept[j]!.set(next, slice[j]![k]!);
            next++;
          }
      }
      out.kept = all ? n : next;
      measureKeys.forEach((k, j) => {
        out.measures.set(k, kept[j]!.take(out.kept));
      });
      return out;
    } catch (e) {
      throw engineFailure(e, this.memoryLimit, this.dir);
    } finally {
      await this.conn.run(`DROP TABLE IF EXISTS ${nf}`);
      await this.conn.run('SET preserve_insertion_order = true');
    }
  }

  /**
   * Temp table `name` (idx INTEGER, c0, c1, ... DOUBLE) of the columns' rows lo..hi-1,
   * NaN and a missing enum code as NULL; replaced at each call.
   */
  private async appendColumns(name: string, columns: Column[], lo: number, hi: number): Promise<void> {
    const api = await loadDuckDb();
    await this.conn.run(`CREATE OR REPLACE TEMP TABLE ${name} (idx INTEGER${columns.map((_, j) => `, c${j} DOUBLE`).join('')})`);
    const app = await this.conn.createAppender(name, 'main', 'temp');
    const types = [api.INTEGER, ...columns.map(() => api.DOUBLE)];
    const BATCH = 2048;
    for (let from = lo; from < hi; from += BATCH) {
      const rows = Math.min(BATCH, hi - from);
      const chunk = api.DuckDBDataChunk.create(types, rows);
      const idx = chunk.getColumnVector(0);
      for (let r = 0; r < rows; r++) idx.setItem(r, from + r);
      idx.flush();
      columns.forEach((col, j) => {
        const vec = chunk.getColumnVector(j + 1);
        const missing = col instanceof Uint8Array ? ENUM_MISSING : Number.NaN;
        for (let r = 0; r < rows; r++) {
          const x = col[from + r]!;
          vec.setItem(r, Number.isNaN(x) || x === missing ? null : x);
        }
        vec.flush();
      });
      app.appendDataChunk(chunk);
    }
    app.closeSync();
  }

  /** Runs a query and hands each row of each batch to `row` (the batch's column vectors and the row in it). */
  private async eachChunk(sql: string, row: (vectors: { getItem(r: number): unknown }[], r: number) => void): Promise<void> {
    const result = await this.conn.stream(sql);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const vectors = Array.from({ length: chunk.columnCount }, (_, j) => chunk.getColumnVector(j));
      for (let r = 0; r < chunk.rowCount; r++) row(vectors, r);
    }
  }

  private async rows(sql: string): Promise<unknown[][]> {
    return (await this.conn.runAndReadAll(sql)).getRows() as unknown[][];
  }

  /**
   * Reads the file as lines into `<t>_lines` (row k is line k + 1), resolves its
   * header as the reader does, and writes `<t>`: per data line its number, the
   * subscriber index, the period, each fold column in integer units and, for a
   * rejected line, the reject (column, code, reason, raw value).
   */
  private async checkRows(t: string, job: BillingJob | UsageJob, input: InputOptions, gzip: boolean) {
    await this.conn.run(
      `CREATE TABLE ${t}_lines AS SELECT line FROM read_csv(${stringLiteral(job.path)}, header = false, columns = {'line': 'VARCHAR'}, ` +
        `delim = '\x01', quote = '', escape = '', auto_detect = false, strict_mode = false, compression = '${gzip ? 'gzip' : 'none'}')`,
    );
    const head = await this.rows(`SELECT rowid, line FROM ${t}_lines WHERE line IS NOT NULL ORDER BY rowid LIMIT 1`);
    if (head.length === 0) throw emptyFile(job.file);
    const headerRow = Number(head[0]![0]);
    const header = String(head[0]![1])
      .replace(/^\ufeff/, '')
      .split(input.delimiter);
    const columns = resolveColumns(job.extract, header, input, job.file);
    const width = header.length;
    const folds = foldColumns(job.extract, input.measures);
    const period = job.extract === 'billing_monthly' ? BILL_MONTH : USAGE_DATE;

    const field = (name: string) => {
      const at = columns[name] ?? -1;
      return at < 0 ? "''" : `f[${at + 1}]`;
    };
    const base = `(SELECT rowid + 1 AS line_no, len(f) AS nf, ${field('subscriber_id')} AS sid_raw, ${field(period.column)} AS period_raw${folds
      .map((c, j) => `, ${field(c.column)} AS c${j}_raw`)
      .join('')}
      FROM (SELECT rowid, string_split(line, ${stringLiteral(input.delimiter)}) AS f FROM ${t}_lines WHERE rowid > ${headerRow} AND line IS NOT NULL) l) raw`;
    const trims = [
      `${trimSql('sid_raw', ID_SPACE)} AS sid_t`,
      `${trimSql('period_raw', CELL_SPACE)} AS period_t`,
      ...folds.map((_, j) => `${trimSql(`c${j}_raw`, CELL_SPACE)} AS c${j}_t`),
    ];
    const values = folds.map((c, j) => `${(c.required ? scaled : optionalScaled)(D, `c${j}_t`, c.scale)} AS v${j}`);
    const layers =
      period.column === 'bill_month'
        ? [trims, [`${monthIndex(D, 'period_t')} AS period`, ...values]]
        : (() => {
            const [l1, l2] = dayLayers(D, 'period_t', 'period');
            return [trims, [...l1!, ...values], l2!];
          })();
    // The reader's checks, in its order: the first that fails names the reject.
    const checks: { when: string; column: string; code: RejectCode; reason: string; raw: string }[] = [];
    const [countHead, countTail] = fieldCountReason('\u0000', width).split('\u0000') as [string, string];
    const { empty, unknown } = SUBSCRIBER_REJECTS;
    checks.push({
      when: `nf <> ${width}`,
      column: '*',
      code: 'CW_ROW_FIELD_COUNT',
      reason: `${stringLiteral(countHead)} || nf || ${stringLiteral(countTail)}`,
      raw: "''",
    });
    checks.push({ when: `sid_t = ''`, column: empty.column, code: empty.code, reason: stringLiteral(empty.reason), raw: "''" });
    checks.push({ when: 'i.idx IS NULL', column: unknown.column, code: unknown.code, reason: stringLiteral(unknown.reason), raw: 'sid_t' });
    checks.push({
      when: 'period IS NULL',
      column: period.column,
      code: period.code,
      reason: stringLiteral(period.reason),
      raw: 'period_raw',
    });
    folds.forEach((c, j) => {
      if (c.required)
        checks.push({
          when: `c${j}_t = ''`,
          column: c.column,
          code: 'CW_ROW_EMPTY_FIELD',
          reason: stringLiteral(`${c.column} is empty`),
          raw: "''",
        });
      checks.push({
        when: `v${j} IS NULL`,
        column: c.column,
        code: 'CW_ROW_BAD_NUMBER',
        reason: stringLiteral(badNumberReason(c)),
        raw: `c${j}_raw`,
      });
      if (c.nonNegative)
        checks.push({
          when: `v${j} < 0`,
          column: c.column,
          code: 'CW_ROW_NEGATIVE',
          reason: stringLiteral(negativeReason(c.column)),
          raw: `c${j}_raw`,
        });
    });
    const pick = (what: (c: (typeof checks)[number]) => string) =>
      `CASE ${checks.map((c) => `WHEN ${c.when} THEN ${what(c)}`).join(' ')} END`;
    await this.conn.run(`CREATE TABLE ${t} AS
      SELECT line_no, i.idx, period${folds.map((_, j) => `, v${j}`).join('')},
        ${pick((c) => stringLiteral(c.column))} AS r_column, ${pick((c) => stringLiteral(c.code))} AS r_code,
        ${pick((c) => c.reason)} AS r_reason, ${pick((c) => c.raw)} AS r_raw
      FROM ${layered(base, layers, 'p')} LEFT JOIN ids i ON i.sid = p.sid_t`);
    const [[records]] = (await this.rows(`SELECT count(*) FROM ${t}`)) as [[bigint]];
    const rejected = await this.rows(
      `SELECT line_no, r_column, r_code, r_reason, coalesce(r_raw, '') FROM ${t} WHERE r_code IS NOT NULL ORDER BY line_no`,
    );
    if (Number(records) === 0) throw emptyFile(job.file);
    return {
      records: Number(records),
      folds,
      rejects: rejected.map(([line, column, code, reason, raw]) => ({
        line: Number(line),
        column: String(column),
        code: code as RejectCode,
        reason: String(reason),
        raw: String(raw),
      })),
    };
  }

  /** Accepted rows per key (`key` over the accepted rows of `<t>`), ascending, as KeyCounts.toMap gives them. */
  private async countsBy(t: string, key: string, where = 'true'): Promise<Map<number, number>> {
    const rows = await this.rows(`SELECT ${key} AS k, count(*) FROM ${t} WHERE r_code IS NULL AND ${where} GROUP BY k ORDER BY k`);
    return new Map(rows.map(([k, n]) => [Number(k), Number(n)]));
  }

  /**
   * Rows that repeat the values of the first row of their subscriber and period,
   * among the rows the reader keeps a state for (`kept`, over `<t>` ordered by line):
   * the reader compares 32-bit hashes of the values, this the values themselves,
   * the same barring a hash collision (1 in 2^32 per pair).
   */
  private async repeats(from: string, folds: FoldColumn[]): Promise<number> {
    const firsts = folds.map((_, j) => `first_value(v${j}) OVER w AS f${j}`).join(', ');
    const same = folds.map((_, j) => `v${j} = f${j}`).join(' AND ');
    const [[n]] = (await this.rows(`SELECT count(*) FROM (
        SELECT *, row_number() OVER w AS k, ${firsts} FROM ${from} WINDOW w AS (PARTITION BY idx, period ORDER BY line_no)
      ) r WHERE k > 1 AND ${same}`)) as [[bigint]];
    return Number(n);
  }

  /**
   * Sums per subscriber, kept in DuckDB for score(): table `<name>` with one column
   * per wanted sum (integer units, NULL where the subscriber has no row), each noted
   * under its key (extract, measure, offset) with its scale. Stored in index order,
   * so that a slice of score() reads only the row groups of its range.
   */
  private async sumsTable(t: string, name: string, wanted: { key: string; sum: string; scale: number }[]): Promise<void> {
    if (wanted.length === 0) return;
    await this.conn.run(
      `CREATE OR REPLACE TABLE ${name} AS SELECT idx, ${wanted.map((w, j) => `sum(${w.sum}) AS s${j}`).join(', ')} FROM ${t} WHERE r_code IS NULL GROUP BY idx ORDER BY idx`,
    );
    wanted.forEach((w, j) => {
      this.sums.set(w.key, { table: name, column: `s${j}`, scale: w.scale });
    });
  }

  private async foldBilling(t: string, job: BillingJob, folds: FoldColumn[], stats: FileStats) {
    const asOfMonth = job.asOfMonth;
    const rowsPerMonth = await this.countsBy(t, 'period');
    const width = folds.map((f) => job.windows[f.measure] ?? 0);
    const window = Math.max(1, ...width);
    // The reader keeps a month while it is within `window` of the newest month seen so far (in file order).
    const duplicates = await this.repeats(
      `(SELECT * FROM (SELECT *, max(period) OVER (ORDER BY line_no ROWS UNBOUNDED PRECEDING) AS newest FROM ${t}
        WHERE r_code IS NULL AND period < ${asOfMonth}) s WHERE period > newest - ${window})`,
      folds,
    );
    const before = [...rowsPerMonth.keys()].filter((m) => m < asOfMonth);
    if (before.length > 0) {
      const m0 = Math.max(...before);
      const wanted: { key: string; sum: string; scale: number }[] = [];
      for (let k = 0; k < window; k++) {
        if (!rowsPerMonth.has(m0 - k)) continue;
        folds.forEach((f, j) => {
          if (k < width[j]!)
            wanted.push({
              key: sumKey('billing', f.measure, k),
              sum: `CASE WHEN period = ${m0 - k} THEN v${j} ELSE 0 END`,
              scale: f.scale,
            });
        });
      }
      await this.sumsTable(t, 'billing_sums', wanted);
    }
    // The sums stay in DuckDB (score() reads them); M0 is the gates' choice, the same newest month before the run month.
    const months = new Map<number, MeasureSums>();
    stats.duplicates = duplicates;
    return { extract: job.extract, stats, rejects: [], billing: { months, rowsPerMonth } } satisfies FactResult;
  }

  private async foldUsage(t: string, job: UsageJob, folds: FoldColumn[], input: InputOptions, stats: FileStats) {
    const slot = (measure: string) => `v${folds.findIndex((f) => f.measure === measure)}`;
    const derived = DERIVED_MEASURES.filter((d) => d.extract === 'usage_daily');
    const activity = derived
      .find((d) => d.name === 'activity')!
      .sumOf.map(slot)
      .join(' + ');
    const rowsPerDay = await this.countsBy(t, 'period');
    const activeRowsPerDay = await this.countsBy(t, 'period', `${activity} > 0`);
    const days = job.wanted.map(([k]) => job.asOf - k);
    const duplicates =
      days.length === 0 ? 0 : await this.repeats(`(SELECT * FROM ${t} WHERE r_code IS NULL AND period IN (${days.join(', ')}))`, folds);
    const wanted: { key: string; sum: string; scale: number }[] = [];
    for (const [k, measures] of job.wanted) {
      const on = (x: string) => `CASE WHEN period = ${job.asOf - k} THEN ${x} ELSE 0 END`;
      for (const f of folds)
        if (measures.includes(f.measure)) wanted.push({ key: sumKey('usage', f.measure, k), sum: on(slot(f.measure)), scale: f.scale });
      for (const d of derived)
        if (measures.includes(d.name))
          wanted.push({
            key: sumKey('usage', d.name, k),
            sum: on(`(${d.sumOf.map(slot).join(' + ')})`),
            scale: measureScale(d, input.measures),
          });
    }
    await this.sumsTable(t, 'usage_sums', wanted);
    const byDay = new Map<number, MeasureSums>();
    stats.duplicates = duplicates;
    return { extract: job.extract, stats, rejects: [], usage: { rowsPerDay, activeRowsPerDay, days: byDay } } satisfies FactResult;
  }
}

/** A Float64Array filled by index that grows as it is filled past its length. */
class GrowingFloat64 {
  private a: Float64Array;
  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(1, capacity));
  }
  set(i: number, x: number): void {
    if (i >= this.a.length) {
      const b = new Float64Array(Math.max(i + 1, this.a.length * 2));
      b.set(this.a);
      this.a = b;
    }
    this.a[i] = x;
  }
  /** The first `n` values (the array itself when it has exactly n). */
  take(n: number): Float64Array {
    return this.a.length === n ? this.a : this.a.slice(0, n);
  }
}

/** The key of a per-subscriber sum: a measure of M<offset> (billing) or d<offset> (usage). */
function sumKey(source: 'billing' | 'usage', measure: string, offset: number): string {
  return `${source}:${measure}:${offset}`;
}

function emptyFile(file: string): ChurnwatchError {
  return new ChurnwatchError(
    'CW_EXTRACT_EMPTY',
    `gate non-empty-files failed: ${file} has no data rows; check the export job that writes it`,
    {
      file,
      gate: 'non-empty-files',
    },
  );
}

function unsupported(file: string, what: string): ChurnwatchError {
  return new ChurnwatchError(
    'CW_ENGINE_UNSUPPORTED',
    `${file}: ${what}, which the duckdb engine cannot check row by row the way the in-process reader does; run this input with --engine in-process`,
    { file },
  );
}

/**
 * One pass over the file before DuckDB reads it: its sha256 (for the manifest, as
 * the reader takes it, over the bytes on disk), its size, and the refusals of the
 * module comment.
 */
async function probeFile(path: string, file: string) {
  const st = statSync(path);
  const before = { size: st.size, mtimeMs: st.mtimeMs };
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  const gzip = path.endsWith('.gz') || (head[0] === 0x1f && head[1] === 0x8b);
  const hash = createHash('sha256');
  let bytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  let carry = Buffer.alloc(0);
  let lastByte = -1;
  let lf = 0;
  let cr = 0;
  const check = (b: Buffer) => {
    if (b.includes(0x22)) throw unsupported(file, 'it has a quote character (a quoted field)');
    if (b.includes(0x01)) throw unsupported(file, 'it has a 0x01 byte');
    if (lastByte === 0x0d && b[0] !== 0x0a) throw unsupported(file, 'it has a CR that does not end a line');
    for (let p = b.indexOf(0x0d); p >= 0; p = b.indexOf(0x0d, p + 1)) {
      cr++;
      if (p + 1 < b.length && b[p + 1] !== 0x0a) throw unsupported(file, 'it has a CR that does not end a line');
    }
    for (let p = b.indexOf(0x0a); p >= 0; p = b.indexOf(0x0a, p + 1)) lf++;
    lastByte = b[b.length - 1]!;
    const all = carry.length > 0 ? Buffer.concat([carry, b]) : b;
    const cut = utf8Cut(all);
    if (!isUtf8(all.subarray(0, cut))) throw unsupported(file, 'it is not valid UTF-8');
    carry = Buffer.from(all.subarray(cut));
  };
  // A refusal ends the read early; the pipeline then fails with its own abort error, which the refusal replaces.
  let refused: unknown;
  try {
    const sink = async (src: AsyncIterable<Buffer>) => {
      try {
        for await (const b of src) if (b.length > 0) check(b);
      } catch (e) {
        refused = e;
        throw e;
      }
    };
    if (gzip) await pipeline(createReadStream(path), hashing, createGunzip(), sink);
    else await pipeline(createReadStream(path), hashing, sink);
  } catch (e) {
    if (refused !== undefined) throw refused;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_'))
      throw new ChurnwatchError(
        'CW_ENCODING',
        `${file}: the gzip data is corrupt or truncated (${(e as Error).message}); re-export or re-transfer the file`,
        {
          file,
        },
      );
    throw e;
  }
  if (carry.length > 0 || lastByte === 0x0d)
    throw unsupported(file, carry.length > 0 ? 'it is not valid UTF-8' : 'it has a CR that does not end a line');
  // Every CR ends a line here; DuckDB reads the line ends it detects, so all of them must be one kind.
  if (cr > 0 && cr !== lf) throw unsupported(file, 'it mixes CR LF and LF line ends');
  return { sha256: hash.digest('hex'), bytes, before, gzip };
}

/** Where a buffer can be cut without splitting a UTF-8 sequence (its incomplete tail goes to the next chunk). */
function utf8Cut(b: Buffer): number {
  for (let k = 1; k <= 3 && k <= b.length; k++) {
    const c = b[b.length - k]!;
    if (c < 0x80) return b.length;
    if (c >= 0xc0) {
      const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return len > k ? b.length - k : b.length;
    }
  }
  return b.length;
}

/**
 * DuckDB's failures that are the machine's, not a bug (70): out of memory, a refusal
 * of the configuration (78, the fix is a flag), and a full disk under its temp folder
 * (73: its tables and spill files did not fit); the run stays unpublished either way.
 */
export function engineFailure(e: unknown, limit: string, tempDir: string): unknown {
  const message = e instanceof Error ? e.message : '';
  if (message.startsWith('IO Error') && message.includes('No space left on device'))
    return new ChurnwatchError(
      'CW_ENGINE_DISK_FULL',
      `--engine duckdb filled the disk of its temp folder ${tempDir} (its tables and spill files, removed after the run); ` +
        'free space there or give --out a folder on a larger disk (reading the 10M set, 6 GB of measure extracts, it held more than 6 GB there), or run without --engine duckdb',
      { file: tempDir },
    );
  if (!message.startsWith('Out of Memory Error')) return e;
  return new ChurnwatchError(
    'CW_ENGINE_MEMORY',
    `--engine duckdb ran out of memory within --memory-limit ${limit} (${message.split('\n')[0]}); ` +
      'raise --memory-limit (engine.memory_limit of --config), or run without --engine duckdb',
  );
}
