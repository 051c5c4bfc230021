/**
 * The input contract, declared once: every extract a run reads, its columns (type,
 * required or optional, enum values, domain), its keys, the order extracts are read
 * and reported in, the value tiers, and the measures a rule may call. Ingest, the
 * gates, the rule checker's allow-list, `rules check`, `explain`, the generator and
 * the README's extract table all read this table; nothing else spells these facts out.
 *
 * Ground floor: imports nothing of churnwatch.
 */

export const STATUS_VALUES = ['active', 'suspended_arrears', 'suspended_hold', 'closed'] as const;
export const MEMBER_LEVELS = ['diamond', 'gold', 'silver', 'none'] as const;
export const TICKET_KINDS = ['complaint', 'fault', 'inquiry', 'other'] as const;
export const CONTACT_OUTCOMES = ['retained', 'declined', 'unreachable', 'callback', 'churned'] as const;
export const RENEWED_VALUES = ['0', '1', 'true', 'false'] as const;
/** The values of renewed that mean it was renewed. */
export const RENEWED_TRUE: readonly string[] = ['1', 'true'];

/** "a, b, c or d", for a message listing the values a cell may have. */
export function oneOf(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

/** The value tiers, best first; a tier's index is its code in scores.csv and scores.arrow. */
export const TIERS = ['high', 'mid', 'mass'] as const;
export type Tier = (typeof TIERS)[number];

/** How a cell is read. Money has two decimals (summed in fen); ids and phones stay text. */
export type ColumnType = 'id' | 'phone' | 'text' | 'enum' | 'bool' | 'day' | 'month' | 'money' | 'number' | 'count';

/** The unit of a number a rule reads (enum attributes compare with their values). */
export type Unit = 'money' | 'count' | 'number' | 'day' | 'bool';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  required: boolean;
  /** Enum values (type enum or bool). */
  values?: readonly string[];
  /** Numbers that cannot be negative (counts, minutes, volumes): a negative cell is rejected. */
  nonNegative?: boolean;
  /** Shown after the name in the README's extract table. */
  note?: string;
  describe: string;
}

export type Needed = 'always' | 'when-read' | 'optional';

export interface ExtractSpec {
  /** Contract name; the default file is `<name>.csv` or `<name>.csv.gz`. */
  name: string;
  needed: Needed;
  oneRowIs: string;
  /** Columns in the order a default export writes them. */
  columns: readonly ColumnSpec[];
  /** The column that ties a row to a subscriber (subscriber_id, or msisdn for the do-not-call list). */
  key: string;
  /** The column that dates a row, if any (a bill month, a day). */
  date?: string;
  /** A column whose value is unique per row (a second row with it is a duplicate), if the contract says so. */
  uniqueKey?: string;
  /** How progress lines name the extract while it is read. */
  stage: string;
}

const col = (name: string, type: ColumnType, required: boolean, describe: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({
  name,
  type,
  required,
  describe,
  ...extra,
});

/** Every extract, in the order they are read and reported (summary.json's files, rejects.csv's rows). */
export const EXTRACT_SPECS = [
  {
    name: 'subscribers',
    needed: 'always',
    oneRowIs: 'a subscriber',
    key: 'subscriber_id',
    uniqueKey: 'subscriber_id',
    stage: 'subscribers',
    columns: [
      col('subscriber_id', 'id', true, 'subscriber id (text)'),
      col('msisdn', 'phone', true, 'phone number (text, digits)'),
      col('name', 'text', false, 'name'),
      col('status', 'enum', true, 'subscriber status', { values: STATUS_VALUES }),
      col('status_since', 'day', false, 'date of the last status change'),
      col('activation_date', 'day', false, 'activation date'),
      col('plan_id', 'text', false, 'tariff plan'),
      col('member_level', 'enum', false, 'member card level', { values: MEMBER_LEVELS }),
      col('region', 'text', false, 'region'),
      col('manager_id', 'text', false, 'customer manager'),
      col('prepaid_balance', 'money', false, 'prepaid balance in yuan'),
    ],
  },
  {
    name: 'billing_monthly',
    needed: 'always',
    oneRowIs: 'a bill line of one subscriber and month',
    key: 'subscriber_id',
    date: 'bill_month',
    stage: 'billing',
    columns: [
      col('subscriber_id', 'id', true, 'subscriber id'),
      col('bill_month', 'month', true, 'bill month'),
      col('amount', 'money', true, 'amount in yuan, 2 decimals, may be negative', { note: 'yuan, 2 decimals, may be negative' }),
      col('mou', 'number', false, 'minutes of use', { nonNegative: true }),
      col('hotline_calls', 'count', false, 'calls to service hotlines', { nonNegative: true }),
    ],
  },
  {
    name: 'usage_daily',
    needed: 'when-read',
    oneRowIs: 'usage of one subscriber on one day',
    key: 'subscriber_id',
    date: 'usage_date',
    stage: 'usage',
    columns: [
      col('subscriber_id', 'id', true, 'subscriber id'),
      col('usage_date', 'day', true, 'usage date'),
      col('calls', 'count', true, 'calls', { nonNegative: true }),
      col('sms', 'count', false, 'SMS', { nonNegative: true }),
      col('data_mb', 'number', false, 'data in MB', { nonNegative: true }),
      col('forwarded_calls', 'count', false, 'forwarded calls', { nonNegative: true }),
    ],
  },
  {
    name: 'tickets',
    needed: 'when-read',
    oneRowIs: 'a complaint, fault report or inquiry',
    key: 'subscriber_id',
    date: 'created_at',
    uniqueKey: 'ticket_id',
    stage: 'tickets',
    columns: [
      col('ticket_id', 'id', true, 'ticket id'),
      col('subscriber_id', 'id', true, 'subscriber id'),
      col('created_at', 'day', true, 'creation date or date-time'),
      col('kind', 'enum', true, 'ticket kind', { values: TICKET_KINDS }),
      col('category', 'text', false, 'category'),
    ],
  },
  {
    name: 'contracts',
    needed: 'when-read',
    oneRowIs: 'a contract, promotion or lease',
    key: 'subscriber_id',
    date: 'end_date',
    uniqueKey: 'contract_id',
    stage: 'contracts',
    columns: [
      col('contract_id', 'id', true, 'contract id'),
      col('subscriber_id', 'id', true, 'subscriber id'),
      col('kind', 'text', false, 'contract kind'),
      col('start_date', 'day', true, 'start date'),
      col('end_date', 'day', true, 'end date (not before the start date)'),
      col('renewed', 'bool', true, 'renewed', { values: RENEWED_VALUES }),
    ],
  },
  {
    name: 'do_not_call',
    needed: 'optional',
    oneRowIs: 'a line that must not be called',
    key: 'msisdn',
    stage: 'do-not-call list',
    columns: [col('msisdn', 'phone', true, 'phone number')],
  },
  {
    name: 'contact_history',
    needed: 'optional',
    oneRowIs: 'an earlier retention contact',
    key: 'subscriber_id',
    date: 'contacted_at',
    stage: 'contact history',
    columns: [
      col('subscriber_id', 'id', true, 'subscriber id'),
      col('contacted_at', 'day', true, 'contact date or date-time'),
      col('channel', 'text', false, 'channel'),
      col('outcome', 'enum', true, 'outcome', { values: CONTACT_OUTCOMES }),
      col('task_id', 'text', false, 'task id of the contact'),
    ],
  },
] as const satisfies readonly ExtractSpec[];

export type ExtractName = (typeof EXTRACT_SPECS)[number]['name'];
export const EXTRACT_NAMES: readonly ExtractName[] = EXTRACT_SPECS.map((e) => e.name);

const BY_NAME = new Map<string, ExtractSpec>(EXTRACT_SPECS.map((e) => [e.name, e]));

export function extractSpec(name: ExtractName): ExtractSpec {
  return BY_NAME.get(name)!;
}

/** Position of an extract in the read and report order. */
export function extractRank(name: ExtractName): number {
  return EXTRACT_NAMES.indexOf(name);
}

export function columnSpec(extract: ExtractName, column: string): ColumnSpec | undefined {
  return extractSpec(extract).columns.find((c) => c.name === column);
}

/** The header line a default export writes. */
export function defaultHeader(name: ExtractName): string[] {
  return extractSpec(name).columns.map((c) => c.name);
}

// ---------------------------------------------------------------- delivery

export const ENCODINGS = ['utf8', 'gbk', 'gb18030'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Per extract: contract column → who reads it ("rule <id>", "the value", ...), for the columns a run needs. */
export type ColumnNeeds = Partial<Record<ExtractName, Record<string, string[]>>>;

export interface InputOptions {
  dir: string;
  delimiter: string;
  /** The encoding of every extract without an entry in `encodings`. */
  encoding: Encoding;
  /** Per-extract encodings, for an export set whose files differ (a UTF-8 tickets file among GBK ones). */
  encodings: Partial<Record<ExtractName, Encoding>>;
  /** Accept thousands separators in amounts ("1,234.50"); only with a delimiter other than ",". */
  thousands: boolean;
  /** File name per extract when it differs from "<name>.csv" / "<name>.csv.gz". */
  files: Partial<Record<ExtractName, string>>;
  /** Header renames per extract: contract column → header in the real export. */
  columns: Partial<Record<ExtractName, Record<string, string>>>;
  /**
   * Optional columns the enabled rules (or the value, the exclusion) read: absent
   * from a header, they fail the required-columns gate instead of reading as empty.
   */
  needs?: ColumnNeeds;
  /** Country code of phone numbers written without one (digits, no '+'); 86 when not given. */
  defaultCountryCode?: string;
  /**
   * Measures the rule pack declares over extra columns of the monthly or daily
   * extract: their columns are located (and summed) like the contract's optional ones.
   */
  measures?: readonly ColumnMeasure[];
  /**
   * A monthly or daily extract exported wide (one row per subscriber, a column per
   * month or day): per numeric column, the header of each period (docs/operating.md).
   */
  wide?: Partial<Record<MeasureExtract, WideLayout>>;
  /**
   * Threads that read the extracts (the large ones cut into byte ranges between them);
   * default: the available cores. 1 reads everything in the main thread.
   */
  workers?: number;
  /**
   * Look the ids of plain fact rows up a batch at a time (true) or one at a time
   * (false) in every reader; by default as the rows' order says (ingest/unsorted-ids.ts).
   * Never changes a result: tests and A/B timing fix it.
   */
  idBatch?: boolean;
}

/** Column of the extract (amount, mou, …) → period key (M0, 2026-08; d1, 2026-11-22) → header of the wide file. */
export type WideLayout = Record<string, Record<string, string>>;

/**
 * A period key of a wide layout: relative (Mk: k months before the month before the
 * run month, so M0 is the month before D's; dk: day D-k) or absolute (YYYY-MM for
 * months, YYYY-MM-DD for days). Null when it is neither.
 */
export function widePeriodKey(extract: MeasureExtract, key: string): { relative: number } | { absolute: string } | null {
  const prefix = MEASURE_OFFSET[extract];
  const rel = new RegExp(`^${prefix}(\\d{1,3})$`, 'i').exec(key.trim());
  if (rel) return { relative: Number(rel[1]) };
  const abs = extract === 'billing_monthly' ? /^\d{4}-(0[1-9]|1[0-2])$/ : /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
  return abs.test(key.trim()) ? { absolute: key.trim() } : null;
}

export function defaultInputOptions(dir: string): InputOptions {
  return { dir, delimiter: ',', encoding: 'utf8', encodings: {}, thousands: false, files: {}, columns: {} };
}

/** How header names are compared: trimmed and case-folded, so "Amount " is amount. */
export function foldHeader(name: string): string {
  return name.trim().toLowerCase();
}

// ---------------------------------------------------------------- measures

/** The extracts whose numeric columns are summed per subscriber and month (Mk) or day (dk). */
export type MeasureExtract = 'billing_monthly' | 'usage_daily';
export const MEASURE_EXTRACTS: readonly MeasureExtract[] = ['billing_monthly', 'usage_daily'];

/** How a measure of each such extract is called: `name(Mk)` or `name(dk)`. */
export const MEASURE_OFFSET: Record<MeasureExtract, 'M' | 'd'> = { billing_monthly: 'M', usage_daily: 'd' };

/**
 * A per-subscriber sum over a numeric column of a monthly or daily extract:
 * `name(Mk)` or `name(dk)` in a rule. Built-in ones are listed here; a rule pack may
 * declare more over extra columns of the same extracts (`measures:` in the pack).
 * Plain data: it crosses to the ingest worker as it is.
 */
export interface ColumnMeasure {
  name: string;
  extract: MeasureExtract;
  /** The header name of the column (a built-in measure reads the contract column of that name). */
  column: string;
  unit: Unit;
  /**
   * Decimals a cell may have, kept exactly: the sums are made in integers of
   * 10^-scale (fen for money) and divided once all rows are in.
   */
  scale: number;
  describe: string;
}

/** A sum of other measures of the same extract: activity = calls + sms + data_mb. */
export interface DerivedMeasure {
  name: string;
  extract: MeasureExtract;
  sumOf: readonly string[];
  unit: Unit;
  describe: string;
}

/**
 * Usage counts are read with two decimals like the volumes (exports that average a
 * day write them so), which lets activity add them up exactly in hundredths.
 */
export const COLUMN_MEASURES: readonly ColumnMeasure[] = [
  { name: 'amount', extract: 'billing_monthly', column: 'amount', unit: 'money', scale: 2, describe: 'bill amount of month Mk in yuan' },
  { name: 'mou', extract: 'billing_monthly', column: 'mou', unit: 'number', scale: 2, describe: 'minutes of use in month Mk' },
  {
    name: 'hotline_calls',
    extract: 'billing_monthly',
    column: 'hotline_calls',
    unit: 'count',
    scale: 0,
    describe: 'hotline calls in month Mk',
  },
  { name: 'calls', extract: 'usage_daily', column: 'calls', unit: 'count', scale: 2, describe: 'calls on day dk' },
  { name: 'sms', extract: 'usage_daily', column: 'sms', unit: 'count', scale: 2, describe: 'SMS on day dk' },
  { name: 'data_mb', extract: 'usage_daily', column: 'data_mb', unit: 'number', scale: 2, describe: 'data in MB on day dk' },
  {
    name: 'forwarded_calls',
    extract: 'usage_daily',
    column: 'forwarded_calls',
    unit: 'count',
    scale: 2,
    describe: 'forwarded calls on day dk',
  },
];

export const DERIVED_MEASURES: readonly DerivedMeasure[] = [
  {
    name: 'activity',
    extract: 'usage_daily',
    sumOf: ['calls', 'sms', 'data_mb'],
    unit: 'number',
    describe: 'calls + sms + data_mb on day dk',
  },
];

/** The usage-active gate counts the rows of a day where this derived measure is above 0. */
export const ACTIVITY_MEASURE = 'activity';

/**
 * Counts of dated events per subscriber in a window of days around D: what a call
 * reads, by extract, and the column that dates an event.
 */
export interface EventMeasure {
  name: string;
  extract: 'tickets' | 'contracts';
  date: string;
  /** The columns besides the key that the count reads (an optional one among them becomes needed). */
  reads: readonly string[];
  call: string;
  describe: string;
}

export const EVENT_MEASURES: readonly EventMeasure[] = [
  {
    name: 'tickets',
    extract: 'tickets',
    date: 'created_at',
    reads: ['created_at', 'kind'],
    call: 'tickets(kind, from, to)',
    describe: `tickets of kind (${TICKET_KINDS.map((k) => `'${k}'`).join(', ')} or 'any') created in [D+from, D+to]`,
  },
  {
    name: 'contracts_expiring',
    extract: 'contracts',
    date: 'end_date',
    reads: ['end_date', 'renewed'],
    call: 'contracts_expiring(from, to)',
    describe: 'contracts not renewed with end_date in [D+from, D+to]',
  },
  {
    name: 'contracts_lapsed',
    extract: 'contracts',
    date: 'end_date',
    reads: ['end_date', 'renewed', 'kind'],
    call: 'contracts_lapsed(from, to)',
    describe: 'contracts not renewed with end_date in [D+from, D+to] and no contract of the same kind ending on or after D',
  },
];

/** Subscriber attributes a rule can name directly; each is the subscribers column of its name. */
export const ATTRIBUTES: Record<string, { unit: Unit | 'enum'; values?: readonly string[]; describe: string }> = {
  status: { unit: 'enum', values: STATUS_VALUES, describe: 'subscriber status' },
  member_level: { unit: 'enum', values: MEMBER_LEVELS, describe: 'member card level (none when not given)' },
  prepaid_balance: { unit: 'money', describe: 'prepaid balance in yuan (not given for postpaid lines)' },
  activation_date: { unit: 'day', describe: 'activation date' },
  status_since: { unit: 'day', describe: 'date of the last status change' },
};

/** The built-in measure (column or derived) of a name, if there is one. */
export function builtinMeasure(name: string): ColumnMeasure | DerivedMeasure | undefined {
  return COLUMN_MEASURES.find((m) => m.name === name) ?? DERIVED_MEASURES.find((m) => m.name === name);
}

/** The scale of a measure's sums: its column's, or (derived) its parts', which the contract keeps equal. */
export function measureScale(m: ColumnMeasure | DerivedMeasure, extra: readonly ColumnMeasure[] = []): number {
  if ('scale' in m) return m.scale;
  const part = [...COLUMN_MEASURES, ...extra].find((c) => c.name === m.sumOf[0]);
  return part!.scale;
}

/**
 * A numeric column a fold reads from each row of a monthly or daily extract, with
 * how its cell is checked: every built-in column measure of the extract in contract
 * order, then the pack's (optional, and below 0 only for money).
 */
export interface FoldColumn {
  measure: string;
  column: string;
  unit: Unit;
  scale: number;
  required: boolean;
  nonNegative: boolean;
}

export function foldColumns(extract: MeasureExtract, extra: readonly ColumnMeasure[] = []): FoldColumn[] {
  const builtin = COLUMN_MEASURES.filter((m) => m.extract === extract).map((m) => {
    const c = columnSpec(extract, m.column)!;
    return { measure: m.name, column: m.column, unit: m.unit, scale: m.scale, required: c.required, nonNegative: c.nonNegative === true };
  });
  const added = extra
    .filter((m) => m.extract === extract)
    .map((m) => ({ measure: m.name, column: m.column, unit: m.unit, scale: m.scale, required: false, nonNegative: m.unit !== 'money' }));
  return [...builtin, ...added];
}

/** The scale of each unit a rule pack may give a measure (money in fen, counts whole). */
export const PACK_UNIT_SCALE: Record<'money' | 'count' | 'number', number> = { money: 2, count: 0, number: 2 };

/** The lines `rules check` prints for the measures a rule can call (the pack's last). */
export function measureHelp(extra: readonly ColumnMeasure[] = []): string[] {
  const line = (m: ColumnMeasure | DerivedMeasure, by: string) =>
    `${m.name}(${MEASURE_OFFSET[m.extract]}k) ${m.unit}: ${m.describe} (${by})`;
  return [
    ...COLUMN_MEASURES.map((m) => line(m, `sum of ${m.extract}.${m.column}`)),
    ...DERIVED_MEASURES.map((m) => line(m, `from ${m.extract}`)),
    ...extra.map((m) => line(m, `sum of ${m.extract}.${m.column}, declared by the pack`)),
    ...EVENT_MEASURES.map((m) => `${m.call} count: ${m.describe} (from ${m.extract})`),
    ...Object.entries(ATTRIBUTES).map(
      ([name, a]) => `${name} ${a.unit}${a.values ? ` (${a.values.join(', ')})` : ''}: ${a.describe} (from subscribers)`,
    ),
  ];
}

/** The markdown table of the extracts, as the README shows it (a test holds the README to it). */
export function extractTable(): string {
  const needed: Record<Needed, string> = { always: 'always', 'when-read': 'when an enabled rule reads it', optional: 'optional' };
  const cell = (c: ColumnSpec) => {
    const name = c.required ? `**${c.name}**` : c.name;
    if (c.note) return `${name} (${c.note})`;
    return (c.type === 'enum' || c.type === 'bool') && c.values ? `${name} (${c.values.map((v) => `\`${v}\``).join(', ')})` : name;
  };
  const rows = EXTRACT_SPECS.map((e) => `| \`${e.name}.csv\` | ${needed[e.needed]} | ${e.oneRowIs} | ${e.columns.map(cell).join(', ')} |`);
  return ['| file | needed | one row is | columns (required in bold) |', '|---|---|---|---|', ...rows].join('\n');
}
