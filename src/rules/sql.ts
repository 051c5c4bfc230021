/**
 * Rule pack → one SQL script (DuckDB or Spark SQL 3.x) that computes what the
 * in-process engine computes: every feature, rule flag, value, tier, risk and
 * expected loss per subscriber, in the columns and the text of scores.csv.
 *
 * Rule expressions compile from the same checked tree that compile.ts turns into
 * JavaScript. Exactness comes from doing the same operations in the same order:
 * money and scaled measures are summed as integers (fen, hundredths), turned into
 * DOUBLE and divided by 100 once, as the folds do; rule arithmetic is DOUBLE, as in
 * JavaScript (IEEE operations are correctly rounded in both engines, so the results
 * are the same bits); comparisons use the same tolerance; "not given" (NaN in
 * JavaScript) is SQL NULL, whose three-valued logic is the rule language's.
 * Numbers are formatted like Number#toFixed, exactly (see fixedText).
 *
 * Only the dialect functions below differ between engines; everything else is the
 * shared subset of the two (CASE, NULLIF, coalesce, floor, abs, trim, lower, substr,
 * lpad, regexp_extract, window functions, CAST to INT/BIGINT/DOUBLE/DECIMAL).
 */
import { ChurnwatchError } from '../errors.js';
import { checkExpression, type Typed } from './check.js';
import { parseExpression } from './parse.js';
import {
  DERIVED_MEASURES,
  MEMBER_LEVELS,
  STATUS_VALUES,
  TICKET_KINDS,
  foldColumns,
  type ColumnMeasure,
  type ExtractName,
  type MeasureExtract as MeasureExtractName,
} from '../contract/contract.js';
import { featureFile, measureColumnName, scoreMeasures, type FeatureRequest } from './catalogue.js';
import { COMPARE_TOLERANCE, comparison } from './compile.js';

export type SqlDialectName = 'duckdb' | 'spark';

/** What the script needs of a loaded rule pack (config/rulepack.ts's RulePack has it; rules/ does not import config/). */
export interface SqlPack {
  name: string;
  version: number;
  value: { expr: string };
  exclude: { expr: string };
  tiers: { method: 'threshold'; high: number; mid: number } | { method: 'rank'; highShare: number; midShare: number };
  rules: readonly {
    id: string;
    enabled: boolean;
    when: string;
    weight: number;
    /** The reason text: its {expressions} read measures the scores carry for `churnwatch tasks --scores`. */
    reason?: readonly (string | { features: ReadonlyMap<string, FeatureRequest> })[];
  }[];
  /** logistic: risk = 1 / (1 + exp(−(intercept + Σ points))), each rule's points in `weight`. */
  score: 'noisy_or' | 'logistic';
  intercept: number;
  /** Measures the pack declares over extra columns of the measure extracts. */
  measures?: readonly ColumnMeasure[];
}

export interface SqlOptions {
  dialect: SqlDialectName;
  /** Run date D as a day number (days since 1970-01-01). */
  asOf: number;
  /** DuckDB: the CSV file of each extract (by extract name). Spark reads tables named after the extracts. */
  files?: Partial<Record<string, string>>;
}

export interface Dialect {
  name: SqlDialectName;
  text: string;
  source(extract: string, opts: SqlOptions): string;
  matches(s: string, re: string): string;
  /** An expression numbering a scan's rows in the order it reads them. */
  scanOrder: string;
  /** A quoted identifier. */
  quote(id: string): string;
}

export const DIALECTS: Record<SqlDialectName, Dialect> = {
  duckdb: {
    name: 'duckdb',
    text: 'VARCHAR',
    source(extract, opts) {
      const file = opts.files?.[extract] ?? `${extract}.csv`;
      return `read_csv(${stringLiteral(file)}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')`;
    },
    matches: (s, re) => `regexp_matches(${s}, ${stringLiteral(re)})`,
    scanOrder: 'row_number() OVER ()',
    quote: (id) => `"${id}"`,
  },
  spark: {
    name: 'spark',
    text: 'STRING',
    source: (extract) => extract,
    matches: (s, re) => `(${s} RLIKE ${stringLiteral(re)})`,
    scanOrder: 'monotonically_increasing_id()',
    quote: (id) => `\`${id}\``,
  },
};

/** A SQL string literal. Backslashes are refused: Spark reads them as escapes, DuckDB does not. */
export function stringLiteral(s: string): string {
  if (s.includes('\\')) throw new Error(`internal: a backslash in SQL text ${JSON.stringify(s)}`);
  return `'${s.replaceAll("'", "''")}'`;
}

/** A DOUBLE literal with the value of the JavaScript number (both parse the shortest decimal text to the same double). */
function double(v: number): string {
  if (!Number.isFinite(v)) throw new Error('internal: non-finite constant');
  return `CAST('${String(v)}' AS DOUBLE)`;
}

/** The run date and its windows are whole day numbers: plain integer literals. */
const int = (v: number) => (v < 0 ? `(${v})` : String(v));

// ------------------------------------------------------------------ field parsing

/**
 * The plain shape of a number: [+-]digits[.digits] with at most `scale` fraction
 * digits and 15 digits in all, as nearly every cell is. It fits DECIMAL(18, scale),
 * which DuckDB casts to several times faster than a wider decimal, and its units stay
 * below 10^15, within the readers' 2^53.
 */
function plainNumberPattern(scale: number): string {
  return scale === 0 ? '^[+-]?[0-9]{1,15}$' : `^[+-]?([0-9]{1,${15 - scale}}([.][0-9]{0,${scale}})?|[.][0-9]{1,${scale}})$`;
}

/**
 * Every number the readers accept (csv-scan.ts parseScaled) whose units can reach
 * 2^53: [+-]digits[.digits], a digit at least, leading zeros, fraction digits past
 * `scale` only if they are zeros ('1.2300'), and at most 16 - scale whole digits
 * after the leading zeros (10^16 units are past 2^53 already), so that its digits
 * always fit a BIGINT.
 */
function numberPattern(scale: number): string {
  const whole = `0*[0-9]{1,${16 - scale}}`;
  return scale === 0 ? `^[+-]?(${whole}([.]0*)?|[.]0+)$` : `^[+-]?(${whole}([.][0-9]{0,${scale}}0*)?|[.][0-9]{1,${scale}}0*)$`;
}

/** The readers' bound on a number in units (fen, hundredths). */
const MAX_UNITS = '9007199254740992';

const TIME_PART = '([ T][0-9]{1,2}:[0-9]{2}.*)?$';
const DAY_SEP = `^[0-9]{4}([-][0-9]{1,2}[-][0-9]{1,2}|[/][0-9]{1,2}[/][0-9]{1,2})${TIME_PART}`;
const DAY_COMPACT = `^[0-9]{8}${TIME_PART}`;
const MONTH = '^[0-9]{4}[-/]?[0-9]{2}$';

const asInt = (s: string) => `CAST(${s} AS INT)`;

/** The trimmed text of a column; '' when it is empty or absent from the row. */
const trimmed = (col: string) => `coalesce(trim(${col}), '')`;

/**
 * Columns that parse a date column `t` (already trimmed) into its day number, NULL
 * when it is not a date: YYYY-MM-DD, YYYY/MM/DD (1-2 digit month and day) or
 * YYYYMMDD, a time after it ignored, years 1900-9999, the date must exist.
 * Returned as layers: each list of columns may use the ones before.
 */
export function dayLayers(d: Dialect, t: string, out: string): string[][] {
  const sep = d.matches(t, DAY_SEP),
    compact = d.matches(t, DAY_COMPACT);
  const y = `${out}_y`,
    m = `${out}_m`,
    dd = `${out}_d`;
  return [
    [
      `CASE WHEN ${sep} OR ${compact} THEN ${asInt(`substr(${t}, 1, 4)`)} END AS ${y}`,
      `CASE WHEN ${sep} THEN ${asInt(`regexp_extract(${t}, '^[0-9]{4}[-/]([0-9]{1,2})', 1)`)} WHEN ${compact} THEN ${asInt(`substr(${t}, 5, 2)`)} END AS ${m}`,
      `CASE WHEN ${sep} THEN ${asInt(`regexp_extract(${t}, '^[0-9]{4}[-/][0-9]{1,2}[-/]([0-9]{1,2})', 1)`)} WHEN ${compact} THEN ${asInt(`substr(${t}, 7, 2)`)} END AS ${dd}`,
    ],
    [`CASE WHEN ${validDate(y, m, dd)} THEN ${daysFromCivil(y, m, dd)} END AS ${out}`],
  ];
}

function validDate(y: string, m: string, d: string): string {
  const leap = `(${y} % 4 = 0 AND (${y} % 100 <> 0 OR ${y} % 400 = 0))`;
  const days = `CASE WHEN ${m} = 2 THEN CASE WHEN ${leap} THEN 29 ELSE 28 END WHEN ${m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END`;
  return `${y} BETWEEN 1900 AND 9999 AND ${m} BETWEEN 1 AND 12 AND ${d} >= 1 AND ${d} <= ${days}`;
}

/** Hinnant's days_from_civil, as the readers compute it (years from 1900: floor division is plain division). */
function daysFromCivil(y: string, m: string, d: string): string {
  // `+ CASE ... -1`: dt-sql-parser's Spark grammar refuses `- CASE`.
  const yy = `(${y} + CASE WHEN ${m} <= 2 THEN -1 ELSE 0 END)`;
  const div = (a: string, b: number) => `CAST(floor(${a} / ${b}) AS BIGINT)`;
  const era = div(yy, 400);
  const yoe = `(${yy} - ${era} * 400)`;
  const doy = `(${div(`(153 * (${m} + CASE WHEN ${m} > 2 THEN -3 ELSE 9 END) + 2)`, 5)} + ${d} - 1)`;
  const doe = `(${yoe} * 365 + ${div(yoe, 4)} - ${div(yoe, 100)} + ${doy})`;
  return `(${era} * 146097 + ${doe} - 719468)`;
}

/** Month index (year × 12 + month − 1) of YYYY-MM, YYYY/MM or YYYYMM; NULL otherwise. */
export function monthIndex(d: Dialect, t: string): string {
  const y = asInt(`substr(${t}, 1, 4)`),
    m = asInt(`substr(${t}, length(${t}) - 1, 2)`);
  // Nested: the casts run only on text of the right shape (AND need not evaluate left to right; Spark's ANSI mode fails a bad cast).
  return `CASE WHEN ${d.matches(t, MONTH)} THEN CASE WHEN ${y} BETWEEN 1900 AND 9999 AND ${m} BETWEEN 1 AND 12 THEN ${y} * 12 + ${m} - 1 END END`;
}

/**
 * A scaled number as integer units (fen, hundredths): NULL when it is not a number of
 * that scale, or beyond 2^53 units, as the readers reject it. A plain number casts
 * through DECIMAL(18, scale); any other (a 17-digit one, leading zeros, trailing
 * zero decimals) is rebuilt from its digits, never cast past what DECIMAL(18, scale)
 * holds (that failed the whole query).
 */
export function scaled(d: Dialect, t: string, scale: number): string {
  const plain = `CAST(CAST(${t} AS DECIMAL(18, ${scale})) * ${10 ** scale} AS BIGINT)`;
  const whole = `regexp_extract(${t}, '^[+-]?0*([0-9]*)', 1)`;
  const fraction = scale === 0 ? '' : `, substr(concat(regexp_extract(${t}, '[.]([0-9]*)$', 1), '${'0'.repeat(scale)}'), 1, ${scale})`;
  const units = `CAST(concat(CASE WHEN substr(${t}, 1, 1) = '-' THEN '-0' ELSE '0' END, ${whole}${fraction}) AS BIGINT)`;
  return (
    `CASE WHEN ${d.matches(t, plainNumberPattern(scale))} THEN ${plain} ` +
    `WHEN ${d.matches(t, numberPattern(scale))} THEN CASE WHEN abs(${units}) <= ${MAX_UNITS} THEN ${units} END END`
  );
}

/** An optional scaled column: 0 when empty, NULL when not a number. */
export const optionalScaled = (d: Dialect, t: string, scale: number) => `CASE WHEN ${t} = '' THEN 0 ELSE ${scaled(d, t, scale)} END`;

/** Stacks layers of computed columns over a FROM clause: each layer sees the columns of the ones before it. */
export function layered(from: string, layers: string[][], alias?: string): string {
  let sql = from;
  layers.forEach((cols, k) => {
    sql = `(SELECT *, ${cols.join(', ')} FROM ${sql}) ${k === layers.length - 1 && alias ? alias : `l${k}`}`;
  });
  return sql;
}

// ------------------------------------------------------------------ the extracts

const enumCode = (t: string, values: readonly string[]) =>
  `CASE ${values.map((v, k) => `WHEN lower(${t}) = ${stringLiteral(v)} THEN ${k}`).join(' ')} END`;

/**
 * Accepted subscribers, first row per id: the row checks of the reader (id, phone,
 * status, member level, balance, dates).
 */
function subscribersCte(d: Dialect, opts: SqlOptions): string {
  const raw = `(SELECT ${d.scanOrder} AS row_no, ${trimmed('subscriber_id')} AS sid, ${trimmed('msisdn')} AS phone,
      ${trimmed('status')} AS status_t, ${trimmed('member_level')} AS level_t, ${trimmed('prepaid_balance')} AS balance_t,
      ${trimmed('activation_date')} AS activation_t, ${trimmed('status_since')} AS since_t
    FROM ${d.source('subscribers', opts)}) raw`;
  const [aLayer1, aLayer2] = dayLayers(d, 'activation_t', 'activation_day');
  const [sLayer1, sLayer2] = dayLayers(d, 'since_t', 'since_day');
  const parsed = layered(raw, [
    [
      ...aLayer1!,
      ...sLayer1!,
      `${enumCode('status_t', STATUS_VALUES)} AS status_code`,
      `${enumCode('level_t', MEMBER_LEVELS)} AS level_code`,
      `${scaled(d, 'balance_t', 2)} AS balance_fen`,
    ],
    [...aLayer2!, ...sLayer2!],
  ]);
  return `subscribers_ok AS (
  SELECT sid, row_no, status_code, level_code,
    CAST(balance_fen AS DOUBLE) / CAST(100 AS DOUBLE) AS prepaid_balance,
    CAST(activation_day AS DOUBLE) AS activation_date, CAST(since_day AS DOUBLE) AS status_since
  FROM (
    SELECT *, row_number() OVER (PARTITION BY sid ORDER BY row_no) AS nth FROM ${parsed}
    WHERE sid <> '' AND ${d.matches('phone', '^[+]?[0-9]{5,20}$')} AND status_code IS NOT NULL
      AND (level_t = '' OR level_code IS NOT NULL) AND (balance_t = '' OR balance_fen IS NOT NULL)
      AND (activation_t = '' OR activation_day IS NOT NULL) AND (since_t = '' OR since_day IS NOT NULL)
  ) s WHERE nth = 1
)`;
}

/** A numeric column of a fact extract as its reader parses it: an integer of 10^-scale units. */
interface MeasureColumn {
  column: string;
  scale: number;
  /** Empty is refused (otherwise it counts 0). */
  required?: boolean;
  /** Below 0 is allowed (amounts: credits); otherwise refused. */
  signed?: boolean;
}

/**
 * A fact extract of measures per subscriber and period (bill month or usage day):
 * its columns and what each measure a rule can read sums. Generic over
 * (extract, column, scale), so a measure declared elsewhere compiles the same way.
 */
interface MeasureExtract {
  extract: string;
  alias: string;
  period: { column: string; kind: 'month' | 'day' };
  columns: MeasureColumn[];
  measures: Record<string, string[]>;
}

/** The two measure extracts as one script reads them: the contract's columns and those the pack declares and a rule reads. */
interface MeasureSpecs {
  billing: MeasureExtract;
  usage: MeasureExtract;
}

/**
 * A measure extract from the contract's declaration (foldColumns: the built-in
 * measures' columns, then the pack's, each with its scale and checks, as the
 * readers fold them) and its derived measures (activity = calls + sms + data_mb).
 */
function measureSpec(extract: MeasureExtractName, declared: readonly ColumnMeasure[]): MeasureExtract {
  const folds = foldColumns(extract, declared);
  const columnOf = (measure: string) => folds.find((f) => f.measure === measure)!.column;
  return {
    extract,
    alias: extract === 'billing_monthly' ? 'b' : 'u',
    period: extract === 'billing_monthly' ? { column: 'bill_month', kind: 'month' } : { column: 'usage_date', kind: 'day' },
    columns: folds.map((f) => ({ column: f.column, scale: f.scale, required: f.required, signed: !f.nonNegative })),
    measures: Object.fromEntries([
      ...DERIVED_MEASURES.filter((m) => m.extract === extract).map((m) => [m.name, m.sumOf.map(columnOf)] as const),
      ...folds.map((f) => [f.measure, [f.column]] as const),
    ]),
  };
}

/** The specs for the features of a script: a measure the pack declares is read (and its cells checked) only when a feature reads it, as in the readers. */
function measureSpecs(features: FeatureRequest[]): MeasureSpecs {
  const declared = new Map<string, ColumnMeasure>();
  for (const f of features) if ((f.source === 'billing' || f.source === 'usage') && f.declared) declared.set(f.measure, f.declared);
  return { billing: measureSpec('billing_monthly', [...declared.values()]), usage: measureSpec('usage_daily', [...declared.values()]) };
}

/** The extract, measure and period offset (Mk or dk) a feature reads, when it reads a measure extract. */
function measureOf(f: FeatureRequest, specs: MeasureSpecs): { spec: MeasureExtract; measure: string; offset: number } | null {
  if (f.source === 'billing') return { spec: specs.billing, measure: f.measure, offset: f.month };
  if (f.source === 'usage') return { spec: specs.usage, measure: f.measure, offset: f.day };
  return null;
}

/** The scale of a measure: that of its columns (a sum of columns of one scale, as activity). */
function measureScale(spec: MeasureExtract, measure: string): number {
  const scales = new Set(spec.measures[measure]!.map((c) => spec.columns.find((m) => m.column === c)!.scale));
  if (scales.size !== 1) throw new Error(`internal: measure ${measure} sums columns of different scales`);
  return [...scales][0]!;
}

/**
 * The accepted rows of a measure extract (known subscriber, a period, every column
 * a number of its scale, not negative unless signed) and the sums the features read,
 * in integer units: `<alias>_sums`. Months count from M0, the newest month of an
 * accepted row before the run month; days from D.
 */
function measureCtes(d: Dialect, opts: SqlOptions, spec: MeasureExtract, features: FeatureRequest[], specs: MeasureSpecs): string {
  const { alias, columns } = spec;
  const raw = `(SELECT ${[
    `${trimmed('subscriber_id')} AS sid`,
    `${trimmed(spec.period.column)} AS period_t`,
    ...columns.map((c) => `${trimmed(c.column)} AS ${c.column}_t`),
  ].join(', ')}
    FROM ${d.source(spec.extract, opts)}) raw`;
  const values = columns.map((c) => `${(c.required ? scaled : optionalScaled)(d, `${c.column}_t`, c.scale)} AS ${c.column}_n`);
  const parsed =
    spec.period.kind === 'month'
      ? layered(raw, [[`${monthIndex(d, 'period_t')} AS period`, ...values]], alias)
      : (() => {
          const [l1, l2] = dayLayers(d, 'period_t', 'period');
          return layered(raw, [[...l1!, ...values], l2!], alias);
        })();
  const checks = columns.map((c) => (c.signed ? `${alias}.${c.column}_n IS NOT NULL` : `${alias}.${c.column}_n >= 0`));
  const first = spec.period.kind === 'month' ? 'm.m0' : int(opts.asOf);
  const sums = features.flatMap((f) => {
    const m = measureOf(f, specs);
    if (m === null || m.spec !== spec) return [];
    const sum = spec.measures[m.measure]!.map((c) => `${c}_n`).join(' + ');
    return [`sum(CASE WHEN ${alias}.period = ${first} - ${m.offset} THEN ${sum} ELSE 0 END) AS ${featureColumn(f)}`];
  });
  const ok = `${alias}_ok AS (
  SELECT ${alias}.* FROM ${parsed} JOIN subscribers_ok s ON ${alias}.sid = s.sid
  WHERE ${alias}.period IS NOT NULL AND ${checks.join(' AND ')}
)`;
  if (spec.period.kind === 'day') {
    return `${ok},
${alias}_sums AS (SELECT ${alias}.sid, ${sums.join(',\n    ')} FROM ${alias}_ok ${alias} GROUP BY ${alias}.sid)`;
  }
  return `${ok},
-- M0: the newest month of an accepted row before the run month.
${alias}_m0 AS (SELECT max(period) AS m0 FROM ${alias}_ok WHERE period < ${monthOfDayLiteral(opts.asOf)}),
${alias}_sums AS (SELECT ${alias}.sid, ${sums.join(',\n    ')} FROM ${alias}_ok ${alias} CROSS JOIN ${alias}_m0 m GROUP BY ${alias}.sid)`;
}

function ticketsCte(d: Dialect, opts: SqlOptions, features: FeatureRequest[]): string {
  const raw = `(SELECT ${d.scanOrder} AS row_no, ${trimmed('ticket_id')} AS tid, ${trimmed('subscriber_id')} AS sid,
      ${trimmed('created_at')} AS created_t, ${trimmed('kind')} AS kind_t FROM ${d.source('tickets', opts)}) raw`;
  const [l1, l2] = dayLayers(d, 'created_t', 'day');
  const parsed = layered(raw, [[...l1!, `${enumCode('kind_t', TICKET_KINDS)} AS kind`], l2!], 't');
  const counts = features
    .filter((f): f is Extract<FeatureRequest, { source: 'tickets' }> => f.source === 'tickets')
    .map((f) => {
      const kind = f.kind === 'any' ? '' : ` AND kind = ${TICKET_KINDS.indexOf(f.kind as (typeof TICKET_KINDS)[number])}`;
      return `sum(CASE WHEN day BETWEEN ${int(opts.asOf + f.from)} AND ${int(opts.asOf + f.to)}${kind} THEN 1 ELSE 0 END) AS ${featureColumn(f)}`;
    });
  return `tickets_sums AS (
  SELECT sid, ${counts.join(',\n    ')}
  FROM (
    SELECT t.*, row_number() OVER (PARTITION BY t.tid ORDER BY t.row_no) AS nth
    FROM ${parsed} JOIN subscribers_ok s ON t.sid = s.sid
    WHERE t.tid <> '' AND t.day IS NOT NULL AND t.kind IS NOT NULL
  ) k WHERE nth = 1
  GROUP BY sid
)`;
}

function contractsCte(d: Dialect, opts: SqlOptions, features: FeatureRequest[]): string {
  const D = int(opts.asOf);
  const raw = `(SELECT ${d.scanOrder} AS row_no, ${trimmed('contract_id')} AS cid, ${trimmed('subscriber_id')} AS sid,
      ${trimmed('start_date')} AS start_t, ${trimmed('end_date')} AS end_t, ${trimmed('renewed')} AS renewed_t, ${trimmed('kind')} AS kind
    FROM ${d.source('contracts', opts)}) raw`;
  const [s1, s2] = dayLayers(d, 'start_t', 'start_day');
  const [e1, e2] = dayLayers(d, 'end_t', 'end_day');
  const parsed = layered(
    raw,
    [
      [...s1!, ...e1!, `${enumCode('renewed_t', ['0', '1', 'false', 'true'])} AS renewed_code`],
      [...s2!, ...e2!],
    ],
    'c',
  );
  const counts = features
    .filter((f): f is Extract<FeatureRequest, { source: 'contracts' }> => f.source === 'contracts')
    .map((f) => {
      const window = `end_day BETWEEN ${int(opts.asOf + f.from)} AND ${int(opts.asOf + f.to)}`;
      // Lapsed: ended before D, and no contract of the same kind runs on D or later.
      const cond = f.which === 'expiring' ? `NOT renewed AND ${window}` : `NOT renewed AND end_day < ${D} AND ${window} AND running = 0`;
      return `sum(CASE WHEN ${cond} THEN 1 ELSE 0 END) AS ${featureColumn(f)}`;
    });
  return `contracts_sums AS (
  SELECT sid, ${counts.join(',\n    ')}
  FROM (
    SELECT *, max(CASE WHEN end_day >= ${D} THEN 1 ELSE 0 END) OVER (PARTITION BY sid, kind) AS running
    FROM (
      SELECT c.*, renewed_code % 2 = 1 AS renewed, row_number() OVER (PARTITION BY c.cid ORDER BY c.row_no) AS nth
      FROM ${parsed} JOIN subscribers_ok s ON c.sid = s.sid
      WHERE c.cid <> '' AND c.start_day IS NOT NULL AND c.end_day IS NOT NULL AND c.end_day >= c.start_day AND c.renewed_code IS NOT NULL
    ) k WHERE nth = 1
  ) r
  GROUP BY sid
)`;
}

function monthOfDayLiteral(day: number): number {
  const dt = new Date(day * 86_400_000);
  return dt.getUTCFullYear() * 12 + dt.getUTCMonth();
}

// ------------------------------------------------------------------ features and expressions

/** A feature's column in the script: its scores-file name, prefixed so that it never meets a rule id. */
export function featureColumn(f: FeatureRequest): string {
  return `f_${measureColumnName(f)}`;
}

/** A measure's value from its summed integer units (NULL: no rows, 0), divided once as the folds divide. */
export function measureValueSql(units: string, scale: number): string {
  return `CAST(coalesce(${units}, 0) AS DOUBLE) / ${double(10 ** scale)}`;
}

/** The value of a feature per subscriber, as the feature stage gives it (0 without rows, NULL when not given). */
function featureValue(f: FeatureRequest, specs: MeasureSpecs): string {
  const col = featureColumn(f);
  switch (f.source) {
    case 'subscribers': {
      const map: Record<string, string> = {
        status: 's.status_code',
        member_level: 's.level_code',
        prepaid_balance: 's.prepaid_balance',
        activation_date: 's.activation_date',
        status_since: 's.status_since',
      };
      return `${map[f.column]!} AS ${col}`;
    }
    case 'billing':
    case 'usage': {
      const m = measureOf(f, specs)!;
      const scale = measureScale(m.spec, m.measure);
      return `${measureValueSql(`${m.spec.alias}.${col}`, scale)} AS ${col}`;
    }
    case 'tickets':
      return `CAST(coalesce(t.${col}, 0) AS DOUBLE) AS ${col}`;
    case 'contracts':
      return `CAST(coalesce(c.${col}, 0) AS DOUBLE) AS ${col}`;
  }
}

/**
 * A measure's text in the scores, from its integer units as summed (fen, hundredths,
 * counts): whole numbers for a count, two decimals otherwise, exact, as scores.csv
 * writes a measure (`formatMeasure` in catalogue.ts).
 */
function measureText(d: Dialect, f: FeatureRequest, specs: MeasureSpecs): string {
  const col = featureColumn(f);
  const units = f.source === 'tickets' ? `t.${col}` : f.source === 'contracts' ? `c.${col}` : `${measureOf(f, specs)!.spec.alias}.${col}`;
  const n = `CAST(coalesce(${units}, 0) AS BIGINT)`;
  const scale = f.source === 'billing' || f.source === 'usage' ? measureScale(measureOf(f, specs)!.spec, measureOf(f, specs)!.measure) : 0;
  if (scale === 0) return `CAST(${n} AS ${d.text}) AS m_${col}`;
  if (scale !== 2) throw new Error(`internal: a measure of scale ${scale}`);
  const a = `abs(${n})`;
  return (
    `concat(CASE WHEN ${n} < 0 THEN '-' ELSE '' END, CAST(CAST((${a} - ${a} % 100) / 100 AS BIGINT) AS ${d.text}), '.', ` +
    `lpad(CAST(${a} % 100 AS ${d.text}), 2, '0')) AS m_${col}`
  );
}

/** Longest SQL text one expression may compile to: min/max/abs of NULLs repeat their operands. */
const MAX_EXPRESSION_SQL = 200_000;

/**
 * A checked tree as a SQL expression over the feature columns. Numbers are DOUBLE,
 * "not given" is NULL; a condition is a SQL boolean whose unknown is the rule
 * language's unknown (a rule flags only when it is true).
 */
export function expressionSql(tree: Typed, columnOf: (key: string) => string, asOf: number): string {
  const E = double(COMPARE_TOLERANCE);
  // Checked at every node: a text that doubles per level is refused before it grows past the limit.
  const visit = (t: Typed): string => {
    const sql = node(t);
    if (sql.length > MAX_EXPRESSION_SQL) throw new SqlTooLarge();
    return sql;
  };
  const node = (t: Typed): string => {
    switch (t.k) {
      case 'const':
        return double(t.value);
      case 'day':
        return `CAST(${asOf - t.offset} AS DOUBLE)`;
      case 'feature':
        return columnOf(t.key);
      case 'enumEq':
        return `(${columnOf(t.key)} ${t.negate ? '<>' : '='} ${t.code})`;
      case 'given':
        return `(${columnOf(t.key)} IS NOT NULL)`;
      case 'neg':
        return `(-${visit(t.arg)})`;
      case 'arith': {
        const l = visit(t.left),
          r = visit(t.right);
        // x / 0 is not given (NULL), as in the JavaScript loops, in every mode of both engines.
        return t.op === '/' ? finite(`(${l} / NULLIF(${r}, 0))`) : `(${l} ${t.op} ${r})`;
      }
      case 'call': {
        const args = t.args.map(visit);
        if (t.fn === 'abs') return `abs(${args[0]})`;
        if (t.fn === 'pct_change') {
          const [a, b] = args as [string, string];
          return `(${finite(`((${a} - ${b}) / NULLIF(${b}, 0))`)} * ${double(100)})`;
        }
        // least/greatest skip NULLs; Math.min/max do not.
        const [a, b] = args as [string, string];
        return `CASE WHEN ${a} IS NULL OR ${b} IS NULL THEN NULL ELSE ${t.fn === 'min' ? 'least' : 'greatest'}(${a}, ${b}) END`;
      }
      case 'cmp': {
        return comparison(t.op, `(${visit(t.left)} - ${visit(t.right)})`, E, 'abs');
      }
      case 'not':
        return `(NOT ${visit(t.arg)})`;
      case 'logic':
        return `(${visit(t.left)} ${t.op.toUpperCase()} ${visit(t.right)})`;
    }
    throw new Error('internal: unknown node');
  };
  return visit(tree);
}

class SqlTooLarge extends Error {}

/** A quotient that overflowed (Spark gives Infinity where JavaScript's check gives NaN) is not given. */
function finite(x: string): string {
  return `CASE WHEN abs(${x}) <= ${double(Number.MAX_VALUE)} THEN ${x} END`;
}

// ------------------------------------------------------------------ formatting

/**
 * Number#toFixed(digits) of a DOUBLE column `x`, exactly: the integer n nearest to
 * |x| × 10^digits (the larger on a tie) computed without rounding error. |x| is
 * split (Veltkamp) into two halves of 26 bits, each of which times 10^digits is
 * exact; the floor of their sum plus one half comes from an error-free sum.
 * Returned as layers of columns named `<out>_*`, the last `<out>` the text.
 */
function fixedLayers(x: string, digits: number, out: string, text: string): string[][] {
  const P = 10 ** digits;
  const c = (n: string) => `${out}_${n}`;
  return [
    [`abs(${x}) AS ${c('a')}`],
    [`${c('a')} * ${double(134217729)} AS ${c('c')}`],
    [`${c('c')} - (${c('c')} - ${c('a')}) AS ${c('ah')}`],
    [`${c('ah')} * ${double(P)} AS ${c('h')}`, `(${c('a')} - ${c('ah')}) * ${double(P)} AS ${c('l')}`],
    [`CAST(floor(${c('h')}) AS DOUBLE) AS ${c('fh')}`],
    [`(${c('h')} - ${c('fh')}) + ${double(0.5)} AS ${c('u')}`],
    [`${c('u')} + ${c('l')} AS ${c('s')}`],
    [`${c('s')} - ${c('u')} AS ${c('bb')}`],
    [`(${c('u')} - (${c('s')} - ${c('bb')})) + (${c('l')} - ${c('bb')}) AS ${c('err')}`],
    [
      `${c('fh')} + CAST(floor(${c('s')}) AS DOUBLE) - CASE WHEN ${c('s')} = CAST(floor(${c('s')}) AS DOUBLE) AND ${c('err')} < 0 THEN 1 ELSE 0 END AS ${c('n')}`,
    ],
    [`CAST(${c('n')} AS BIGINT) AS ${c('i')}`],
    [
      `CASE WHEN ${x} IS NULL THEN '' ELSE concat(CASE WHEN ${x} < 0 THEN '-' ELSE '' END, CAST(CAST(floor(${c('i')} / ${P}) AS BIGINT) AS ${text}), '.', ` +
        `lpad(CAST(${c('i')} - CAST(floor(${c('i')} / ${P}) AS BIGINT) * ${P} AS ${text}), ${digits}, '0')) END AS ${out}`,
    ],
  ];
}

/** The largest |x| whose e^x the script computes: 2^k then stays a normal double (no overflow or subnormal scaling). */
export const EXP_LIMIT = 708;

/** A double from its two 32-bit words, as fdlibm writes its constants (exactly, no decimal rounding to reason about). */
function fromWords(hi: number, lo: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getFloat64(0);
}

/**
 * e^x of a DOUBLE column `x` (|x| < EXP_LIMIT), bit for bit as JavaScript's
 * Math.exp gives it. V8 computes Math.exp with fdlibm's algorithm; an engine's own
 * exp() differs from it in the last bit for about one argument in ten (DuckDB's,
 * glibc's), which moves a printed risk or expected loss when it falls on a rounding
 * edge. So the script does fdlibm's steps itself, in operations that IEEE rounds
 * the same everywhere (+ − × ÷, floor, and power(2, k), exact for an integer k):
 * x = k·ln2 + r with ln2 in two parts (hi − lo), e^r from a rational approximation
 * of degree 5, then times 2^k. Should a later V8 change its exp, test/sql/exp.test.ts
 * fails rather than the scripts drifting quietly. The branches on |x| compare the high word of x in
 * fdlibm; here they compare |x| with the smallest double of the next high word.
 * Returned as layers of columns named `<out>_*`, the last `<out>`.
 */
function expLayers(x: string, out: string): string[][] {
  const c = (n: string) => `${out}_${n}`;
  const half = fromWords(0x3fd62e43, 0); // |x| from here on is reduced (fdlibm: high word above 0x3fd62e42)
  const oneAndHalf = fromWords(0x3ff0a2b2, 0); // below this, k is ±1
  const tiny = 2 ** -28; // below this, e^x is 1 + x
  const ln2Hi = fromWords(0x3fe62e42, 0xfee00000);
  const ln2Lo = fromWords(0x3dea39ef, 0x35793c76);
  const invLn2 = fromWords(0x3ff71547, 0x652b82fe);
  const P = [
    fromWords(0x3fc55555, 0x5555553e),
    fromWords(0xbf66c16c, 0x16bebd93),
    fromWords(0x3f11566a, 0xaf25de2c),
    fromWords(0xbebbbd41, 0xc5d26bf1),
    fromWords(0x3e663769, 0x72bea4d0),
  ];
  const one = double(1),
    two = double(2),
    zero = double(0);
  const reduced = `${c('a')} >= ${double(half)}`;
  // k: the integer nearest x / ln2, as fdlibm truncates x / ln2 ± 0.5 toward zero.
  const k =
    `CASE WHEN NOT ${reduced} THEN ${zero} WHEN ${c('a')} < ${double(oneAndHalf)} THEN CASE WHEN ${x} < ${zero} THEN ${double(-1)} ELSE ${one} END ` +
    `WHEN ${x} < ${zero} THEN CAST(ceil(${double(invLn2)} * ${x} - ${double(0.5)}) AS DOUBLE) ` +
    `ELSE CAST(floor(${double(invLn2)} * ${x} + ${double(0.5)}) AS DOUBLE) END`;
  const poly = P.reduceRight((inner, p) => (inner === '' ? `${c('t')} * ${double(p)}` : `${c('t')} * (${double(p)} + ${inner})`), '');
  return [
    [`abs(${x}) AS ${c('a')}`],
    [`${k} AS ${c('k')}`],
    [
      `CASE WHEN ${reduced} THEN ${x} - ${c('k')} * ${double(ln2Hi)} ELSE ${x} END AS ${c('hi')}`,
      `CASE WHEN ${reduced} THEN ${c('k')} * ${double(ln2Lo)} ELSE ${zero} END AS ${c('lo')}`,
    ],
    [`CASE WHEN ${reduced} THEN ${c('hi')} - ${c('lo')} ELSE ${x} END AS ${c('r')}`],
    [`${c('r')} * ${c('r')} AS ${c('t')}`],
    [`${c('r')} - ${poly} AS ${c('c')}`],
    [
      `CASE WHEN ${c('a')} < ${double(tiny)} THEN ${one} + ${x} ` +
        `WHEN ${c('k')} = ${zero} THEN ${one} - ((${c('r')} * ${c('c')}) / (${c('c')} - ${two}) - ${c('r')}) ` +
        `ELSE ${one} - ((${c('lo')} - (${c('r')} * ${c('c')}) / (${two} - ${c('c')})) - ${c('hi')}) END AS ${c('y')}`,
    ],
    // V8 returns Math.E for e^1 (its steps would give the next double up).
    [
      `CASE WHEN ${x} = ${one} THEN ${double(Math.E)} WHEN ${c('k')} = ${zero} THEN ${c('y')} ELSE ${c('y')} * power(${two}, ${c('k')}) END AS ${out}`,
    ],
  ];
}

// ------------------------------------------------------------------ the script

function compileChecked(expr: string, what: string, measures?: readonly ColumnMeasure[]) {
  try {
    return checkExpression(parseExpression(expr), { measures });
  } catch (e) {
    throw new ChurnwatchError('CW_RULE_EXPRESSION', `${what}: ${(e as Error).message}`, { rule: what });
  }
}

/** A pack compiled to SQL over a relation `features` (sid, row_no and one column per feature, named by featureColumn). */
export interface PackSql {
  enabled: SqlPack['rules'][number][];
  /** What the value, the exclusion and each enabled rule's condition read, then what the reason texts read, by key. */
  features: Map<string, FeatureRequest>;
  /** The measures the scores carry for the task step (`churnwatch tasks --scores`). */
  measures: FeatureRequest[];
  /** A rule's flag column. */
  ruleColumn(id: string): string;
  /**
   * The CTEs `flags` and `scored` over `features`: value, exclusion, flags, tier,
   * risk and expected loss. `carry`: columns of `features` kept along; `excluded`
   * kept when asked (a logistic pack always keeps it). `rankTiers` false: a pack
   * that tiers by rank gets a NULL tier, for a caller that scores a slice of the
   * subscribers at a time and ranks them all itself.
   */
  scoring(carry: readonly string[], keepExcluded: boolean, rankTiers?: boolean): string[];
}

/**
 * The one compilation of a pack's expressions to SQL: the script of `churnwatch sql`
 * and the duckdb engine both score through it.
 */
export function compilePackSql(pack: SqlPack, d: Dialect, asOf: number): PackSql {
  // Rule ids are checked by the pack loader; quoted anyway so an id that is a keyword stays a name.
  const ruleColumn = (id: string) => d.quote(id);
  const enabled = pack.rules.filter((r) => r.enabled);
  const parts = [
    { id: 'value', checked: compileChecked(pack.value.expr, 'value', pack.measures) },
    { id: 'exclude', checked: compileChecked(pack.exclude.expr, 'exclude', pack.measures) },
    ...enabled.map((r) => ({ id: r.id, checked: compileChecked(r.when, r.id, pack.measures) })),
  ];
  const features = new Map<string, FeatureRequest>();
  for (const p of parts) for (const [k, f] of p.checked.features) features.set(k, f);
  const columnOf = (key: string) => featureColumn(features.get(key)!);
  const sqlOf = (p: (typeof parts)[number]) => {
    try {
      return expressionSql(p.checked.tree, columnOf, asOf);
    } catch (e) {
      if (!(e instanceof SqlTooLarge)) throw e;
      throw new ChurnwatchError(
        'CW_SQL_UNSUPPORTED',
        `rule ${p.id}: its expression compiles to more than ${MAX_EXPRESSION_SQL} characters of SQL (nested min/max repeat their operands); simplify it to run it as SQL`,
        { rule: p.id },
      );
    }
  };
  const [valueSql, excludeSql, ...ruleSql] = parts.map(sqlOf);
  // The measures the value, the exclusion and each rule's condition and reason read, in that order, for the
  // task step (`churnwatch tasks --scores`); the subscribers' attributes it reads from subscribers.csv.
  for (const r of enabled)
    for (const p of r.reason ?? []) if (typeof p !== 'string') for (const [k, f] of p.features) if (!features.has(k)) features.set(k, f);
  const measures = scoreMeasures([...features.values()]);
  const scoring = (carry: readonly string[], keepExcluded: boolean, rankTiers = true) =>
    scoringCtes(pack, enabled, { valueSql: valueSql!, excludeSql: excludeSql!, ruleSql }, ruleColumn, carry, keepExcluded, rankTiers);
  return { enabled, features, measures, ruleColumn, scoring };
}

export function rulePackSql(pack: SqlPack, opts: SqlOptions): string {
  const d = DIALECTS[opts.dialect];
  const { enabled, features, measures, ruleColumn, scoring } = compilePackSql(pack, d, opts.asOf);

  const list = [...features.values()];
  const files = new Set(list.map(featureFile));
  const ctes = [subscribersCte(d, opts)];
  const joins: string[] = [];
  const specs = measureSpecs(list);
  for (const spec of [specs.billing, specs.usage]) {
    if (!files.has(spec.extract as ExtractName)) continue;
    ctes.push(measureCtes(d, opts, spec, list, specs));
    joins.push(`LEFT JOIN ${spec.alias}_sums ${spec.alias} ON ${spec.alias}.sid = s.sid`);
  }
  if (files.has('tickets')) {
    ctes.push(ticketsCte(d, opts, list));
    joins.push('LEFT JOIN tickets_sums t ON t.sid = s.sid');
  }
  if (files.has('contracts')) {
    ctes.push(contractsCte(d, opts, list));
    joins.push('LEFT JOIN contracts_sums c ON c.sid = s.sid');
  }
  ctes.push(`features AS (
  SELECT s.sid, s.row_no${list.map((f) => `,\n    ${featureValue(f, specs)}`).join('')}${measures.map((f) => `,\n    ${measureText(d, f, specs)}`).join('')}
  FROM subscribers_ok s
  ${joins.join('\n  ')}
)`);
  ctes.push(
    ...scoring(
      measures.map((f) => `m_${featureColumn(f)}`),
      false,
    ),
  );
  const formatted = layered(
    'scored',
    zipLayers(
      fixedLayers('value', 2, 'value_text', d.text),
      fixedLayers('risk', 4, 'risk_text', d.text),
      fixedLayers('loss', 2, 'loss_text', d.text),
    ),
  );
  const header = [
    `-- churnwatch ${pack.name} v${pack.version}: scores per subscriber, as scores.csv (${d.name === 'duckdb' ? 'DuckDB' : 'Spark SQL 3.x'}).`,
    '-- Generated by `churnwatch sql`; the run date is fixed in the script.',
    d.name === 'spark'
      ? '-- Reads tables or views named subscribers, billing_monthly, usage_daily, tickets and contracts, every column a STRING.'
      : '-- Reads the CSV files named below, every column as text.',
  ].join('\n');
  return `${header}
WITH
${ctes.join(',\n')}
SELECT sid AS subscriber_id, value_text AS value, tier,
  CASE WHEN risk = 0 THEN '0.0000' ELSE risk_text END AS risk_score,
  CASE WHEN loss = 0 THEN '0.00' ELSE loss_text END AS expected_loss${enabled.map((r) => `,\n  ${ruleColumn(r.id)}`).join('')}${measures
    .map((f) => `,\n  m_${featureColumn(f)} AS ${d.quote(measureColumnName(f))}`)
    .join('')}
FROM ${formatted}
ORDER BY row_no;
`;
}

function scoringCtes(
  pack: SqlPack,
  enabled: SqlPack['rules'][number][],
  sql: { valueSql: string; excludeSql: string; ruleSql: string[] },
  ruleColumn: (id: string) => string,
  carry: readonly string[],
  keepExcluded: boolean,
  rankTiers: boolean,
): string[] {
  const { valueSql, excludeSql, ruleSql } = sql;
  const ctes: string[] = [];
  const flagCols = enabled.map((r, j) => `CASE WHEN NOT excluded AND ${ruleSql[j]} THEN 1 ELSE 0 END AS ${ruleColumn(r.id)}`);
  const logistic = pack.score === 'logistic';
  ctes.push(`flags AS (
  SELECT sid, row_no, value${logistic || keepExcluded ? ', excluded' : ''}${carry.map((c) => `, ${c}`).join('')}${flagCols.map((c) => `,\n    ${c}`).join('')}
  FROM (SELECT *, ${valueSql} AS value, CASE WHEN ${excludeSql} THEN true ELSE false END AS excluded FROM features) f
)`);

  const E = double(COMPARE_TOLERANCE);
  const tier =
    pack.tiers.method === 'threshold'
      ? `CASE WHEN value - ${double(pack.tiers.high)} >= -${E} THEN 'high' WHEN value - ${double(pack.tiers.mid)} >= -${E} THEN 'mid' ELSE 'mass' END`
      : !rankTiers
        ? 'CAST(NULL AS STRING)'
        : (() => {
            const t = pack.tiers;
            // Math.round(share × n) for a positive product is floor(share × n + 0.5).
            const high = `floor(${double(t.highShare)} * count(*) OVER () + ${double(0.5)})`;
            const mid = `floor(${double(t.midShare)} * count(*) OVER () + ${double(0.5)})`;
            const rank = 'row_number() OVER (ORDER BY value DESC NULLS LAST, sid) - 1';
            return `CASE WHEN ${rank} < ${high} THEN 'high' WHEN ${rank} < ${high} + ${mid} THEN 'mid' ELSE 'mass' END`;
          })();
  const hits = enabled.length === 0 ? '0' : enabled.map((r) => ruleColumn(r.id)).join(' + ');
  // Noisy-OR in pack order, as score.ts multiplies: an unhit rule's factor is exactly 1.
  const keep =
    enabled.length === 0
      ? double(1)
      : enabled.map((r) => `CASE WHEN ${ruleColumn(r.id)} = 1 THEN ${double(1 - r.weight)} ELSE ${double(1)} END`).join(' * ');
  // The logit summed in pack order from the intercept, as score.ts adds (adding 0 for a rule not hit changes nothing).
  const logit = [
    double(pack.intercept),
    ...enabled.map((r) => `CASE WHEN ${ruleColumn(r.id)} = 1 THEN ${double(r.weight)} ELSE ${double(0)} END`),
  ].join(' + ');
  // e^−logit through expLayers, not the engine's exp(): see there.
  const risk = logistic
    ? `CASE WHEN excluded THEN ${double(0)} ELSE ${double(1)} / (${double(1)} + exp_neg_logit) END`
    : `CASE WHEN ${hits} > 0 THEN ${double(1)} - (${keep}) ELSE ${double(0)} END`;
  if (logistic) checkLogitRange(pack, enabled);
  const withExp = logistic ? layered('flags', [[`-(${logit}) AS neg_logit`], ...expLayers('neg_logit', 'exp_neg_logit')]) : 'flags';
  ctes.push(`scored AS (
  SELECT *, CASE WHEN value > 0 THEN risk * value ELSE ${double(0)} END AS loss
  FROM (SELECT *, ${tier} AS tier, ${risk} AS risk FROM ${withExp}) r
)`);
  return ctes;
}

/**
 * The script computes e^x exactly only for |x| < EXP_LIMIT. The logit of a logistic
 * pack is at most |intercept| + Σ |points| away from 0; a pack that can go past
 * that (a risk within 1e-307 of 0 or 1: points no fit writes) is refused, naming
 * the rule with the most points, rather than scored by a different exp.
 */
function checkLogitRange(pack: SqlPack, enabled: SqlPack['rules']): void {
  const reach = enabled.reduce((s, r) => s + Math.abs(r.weight), Math.abs(pack.intercept));
  if (reach < EXP_LIMIT) return;
  const largest = enabled.reduce<SqlPack['rules'][number] | undefined>(
    (m, r) => (m && Math.abs(m.weight) >= Math.abs(r.weight) ? m : r),
    undefined,
  );
  const who = largest && Math.abs(largest.weight) > Math.abs(pack.intercept) ? `rule ${largest.id}` : 'intercept';
  throw new ChurnwatchError(
    'CW_SQL_UNSUPPORTED',
    `${who}: the logit can reach ${reach} (|intercept| plus the points of every rule), and the SQL script reproduces the risk exactly only below ${EXP_LIMIT}; scale the points down to run the pack as SQL`,
    { rule: largest?.id ?? 'intercept' },
  );
}

/**
 * A query giving e^x (DOUBLE, |x| < EXP_LIMIT) for each number in `values` in column e, as the scripts compute it. For tests.
 */
export function expQuery(values: number[]): string {
  const rows = values.map((v, k) => `SELECT ${k} AS k, ${double(v)} AS x`).join(' UNION ALL ');
  return `SELECT k, e FROM ${layered(`(${rows}) v`, expLayers('x', 'e'))} ORDER BY k`;
}

/**
 * A query giving Number#toFixed(digits) of each number in `values` (DOUBLE,
 * NULL for not given) in column x_text, beside the number x. For tests.
 */
export function toFixedQuery(dialect: SqlDialectName, values: (number | null)[], digits: number): string {
  const d = DIALECTS[dialect];
  const rows = values.map((v, k) => `SELECT ${k} AS k, ${v === null ? 'CAST(NULL AS DOUBLE)' : double(v)} AS x`).join(' UNION ALL ');
  return `SELECT k, x_text FROM ${layered(`(${rows}) v`, fixedLayers('x', digits, 'x_text', d.text))} ORDER BY k`;
}

function zipLayers(...lists: string[][][]): string[][] {
  const depth = Math.max(...lists.map((l) => l.length));
  return Array.from({ length: depth }, (_, k) => lists.flatMap((l) => l[k] ?? []));
}

/** A query giving each text of `texts` as `scaled` reads it (BIGINT units, NULL when refused), in column u. For tests. */
export function scaledQuery(dialect: SqlDialectName, texts: string[], scale: number): string {
  const rows = texts.map((t, k) => `SELECT ${k} AS k, ${stringLiteral(t)} AS t`).join(' UNION ALL ');
  return `SELECT k, ${scaled(DIALECTS[dialect], 't', scale)} AS u FROM (${rows}) v ORDER BY k`;
}
