/**
 * The run configuration (--config FILE, YAML): how the operator's extracts are
 * written (delimiter, encodings, file names, header renames) and how outputs are
 * created. Validated by one schema (zod): every key known, every value of its type
 * (a string where a boolean belongs is an error, never false), then the rules that
 * tie keys together. Every error names the key path and what it expects.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { z as Z } from 'zod';
import { createRequire } from 'node:module';
import { ChurnwatchError } from '../errors.js';
import { isTimeZone } from '../util/dates.js';
import { YamlTextError, parseYamlText } from './yaml-text.js';
import { LOCALES, type Locale } from './rulepack.js';
import {
  ENCODINGS,
  EXTRACT_NAMES,
  MEASURE_OFFSET,
  defaultHeader,
  foldHeader,
  widePeriodKey,
  type ExtractName,
  type InputOptions,
} from '../contract/contract.js';

export interface RunConfig {
  input: Omit<InputOptions, 'dir' | 'needs'>;
  /** mask / dialerFullNumber: the personal data in task files (see TaskProfile in tasks/tasks.ts). */
  output: {
    fileMode: number;
    dirMode: number;
    mask: boolean;
    dialerFullNumber: boolean;
    /** The layout of the task files (output/profiles.ts); the language of their texts; the rest as in docs/dialers.md. */
    profile: OutputProfileName;
    locale: Locale;
    campaign: string;
    excelEncoding: ExcelEncoding;
    maxRowsPerFile?: number;
    /** The binary formats of the scores table: arrow (scores.arrow), or parquet (scores.parquet as well). */
    format: ScoresFormat;
    /** scores.csv and scores.arrow also hold every measure the pack reads (as `run --with-measures`). */
    withMeasures: boolean;
  };
  timeZone: string | undefined;
  /** Which engine reads and folds the measure extracts, and DuckDB's limits (engine/duckdb.ts). */
  engine: EngineSettings;
  /** The configuration file for the manifest (its name and sha256), or null for the defaults. */
  source: ConfigSource | null;
}

/** The binary formats of the scores table: scores.arrow always, scores.parquet besides it with parquet. */
export const SCORES_FORMATS = ['arrow', 'parquet'] as const;
export type ScoresFormat = (typeof SCORES_FORMATS)[number];

export const ENGINES = ['in-process', 'duckdb'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface EngineSettings {
  name: EngineName;
  /** DuckDB's memory_limit ("2GB"): beyond it, its joins, sorts and aggregates spill to disk. */
  memoryLimit: string;
  /** DuckDB's threads; undefined: one per core. */
  threads?: number;
}

/** A memory limit DuckDB accepts: a number and a unit. */
export const MEMORY_LIMIT = /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;
export const DEFAULT_MEMORY_LIMIT = '2GB';

/** The layouts of the task files (output/profiles.ts has what each writes). */
export const OUTPUT_PROFILES = ['plain', 'excel-csv', 'jsonl', 'genesys', 'huawei-cec', 'alibaba-ccc'] as const;
export type OutputProfileName = (typeof OUTPUT_PROFILES)[number];

/** The profiles a dialer imports to dial: they need the full number. */
const DIALER_PROFILES: readonly OutputProfileName[] = ['genesys', 'huawei-cec', 'alibaba-ccc'];

/** What the excel-csv profile writes: UTF-8 with a byte order mark, GBK or GB18030 (Excel on Chinese Windows reads all three). */
export const EXCEL_ENCODINGS = ['utf8-bom', 'gbk', 'gb18030'] as const;
export type ExcelEncoding = (typeof EXCEL_ENCODINGS)[number];

export interface ConfigSource {
  file: string;
  sha256: string;
}

/** Bits that would let other users read or change task files and the folders that hold them. */
const SHARED_BITS = 0o027;

/** The schema, made at the first configuration file read (with zod; see zodOf). */
function makeSchema(z: typeof Z) {
  /** A mapping whose keys are all known; YAML's empty value (null) is an empty mapping. */
  function mapping<S extends Z.ZodRawShape>(shape: S) {
    const allowed = Object.keys(shape).join(', ');
    return z.preprocess(
      (v) => v ?? {},
      z.strictObject(shape, {
        error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key (allowed: ${allowed})` : 'must be a mapping'),
      }),
    );
  }

  /** A mapping from extract name to T, every key optional. */
  function perExtract<T extends Z.ZodType>(value: (name: ExtractName) => T) {
    return mapping(Object.fromEntries(EXTRACT_NAMES.map((n) => [n, value(n).optional()])) as Record<ExtractName, Z.ZodOptional<T>>);
  }

  const text = (what: string) =>
    z
      .string({ error: `must be ${what} (a text)` })
      .trim()
      .min(1, { error: `must be ${what}, not empty` });
  const flag = z.boolean({ error: 'must be true or false' });

  const encoding = z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .trim()
            .toLowerCase()
            .replace(/^utf-8$/, 'utf8')
        : v,
    z.enum(ENCODINGS, { error: `must be one of ${ENCODINGS.join(', ')}` }),
  );

  /** An octal mode written as "0600" (or 600); the owner keeps what the run needs to finish its own outputs. */
  function mode(def: string, ownerBits: number) {
    const owner = ownerBits.toString(8).padStart(4, '0');
    return z
      .union([z.string(), z.number()], { error: 'must be an octal mode such as "0600"' })
      .default(def)
      .transform((v, ctx) => {
        const t = String(v).trim();
        if (!/^0?[0-7]{3}$/.test(t)) {
          ctx.issues.push({ code: 'custom', input: v, message: 'must be an octal mode such as 0600 (written as "0600")' });
          return z.NEVER;
        }
        const n = Number.parseInt(t, 8);
        if ((n & ownerBits) !== ownerBits) {
          ctx.issues.push({ code: 'custom', input: v, message: `must give the owner at least ${owner}` });
          return z.NEVER;
        }
        return n;
      });
  }

  const columnsOf = (name: ExtractName) =>
    mapping(Object.fromEntries(defaultHeader(name).map((c) => [c, text('a header name').optional()])));

  /**
   * A wide layout of a monthly or daily extract: column → period key → header. The
   * column is checked when the extract is read (the rule pack may declare it); the
   * period keys in the schema's last step.
   */
  const wideLayout = z.record(
    text('a column name'),
    z.record(z.string(), text('a header name'), { error: 'must map periods to headers, such as { M0: bill_m0 }' }),
    { error: 'must map columns to their periods, such as amount: { M0: bill_m0 }' },
  );

  const schema = mapping({
    time_zone: text('an IANA time zone such as Asia/Shanghai').optional(),
    input: mapping({
      delimiter: z.enum([',', '|', ';', '\t'], { error: 'must be one of , | ; or a tab ("\\t")' }).default(','),
      encoding: encoding.default('utf8'),
      encodings: perExtract(() => encoding),
      thousands: flag.default(false),
      default_country_code: z
        .union([z.string(), z.number()])
        .transform(String)
        .pipe(z.string().regex(/^[1-9]\d{0,2}$/, { error: 'must be a country calling code of 1 to 3 digits, such as 86' }))
        .optional(),
      files: perExtract(() => text('a file name')),
      columns: perExtract(columnsOf),
      wide: mapping({ billing_monthly: wideLayout.optional(), usage_daily: wideLayout.optional() }),
      workers: z
        .number({ error: 'must be a whole number of threads' })
        .int({ error: 'must be a whole number of threads' })
        .min(1, { error: 'must be at least 1' })
        .max(256, { error: 'must be at most 256' })
        .optional(),
    }),
    engine: mapping({
      name: z.enum(ENGINES, { error: `must be one of ${ENGINES.join(', ')}` }).default('in-process'),
      memory_limit: z
        .string({ error: 'must be a size such as 2GB' })
        .regex(MEMORY_LIMIT, { error: 'must be a size such as 2GB or 512MB' })
        .default(DEFAULT_MEMORY_LIMIT),
      threads: z.number({ error: 'must be a number of threads' }).int().min(1, { error: 'must be at least 1' }).optional(),
    }),
    output: mapping({
      file_mode: mode('0600', 0o600),
      dir_mode: mode('0700', 0o700),
      allow_shared_modes: flag.default(false),
      mask: flag.default(false),
      dialer_full_number: flag.default(true),
      profile: z.enum(OUTPUT_PROFILES, { error: `must be one of ${OUTPUT_PROFILES.join(', ')}` }).default('plain'),
      locale: z.enum(LOCALES, { error: `must be one of ${LOCALES.join(', ')}` }).default('en'),
      campaign: text('a campaign name')
        .refine((v) => /^[A-Za-z0-9_-]{1,40}$/.test(v), { error: 'must be 1 to 40 letters, digits, _ or -' })
        .default('churnwatch'),
      excel_encoding: z.enum(EXCEL_ENCODINGS, { error: `must be one of ${EXCEL_ENCODINGS.join(', ')}` }).default('utf8-bom'),
      max_rows_per_file: z
        .number({ error: 'must be a whole number of rows' })
        .int({ error: 'must be a whole number of rows' })
        .min(1, { error: 'must be at least 1' })
        .optional(),
      format: z.enum(SCORES_FORMATS, { error: `must be one of ${SCORES_FORMATS.join(', ')}` }).default('arrow'),
      with_measures: flag.default(false),
    }),
  }).superRefine((c, ctx) => {
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (c.time_zone !== undefined && !isTimeZone(c.time_zone)) fail(['time_zone'], `"${c.time_zone}" is not an IANA time zone`);
    const { input, output } = c;
    if (input.thousands && input.delimiter === ',') fail(['input', 'thousands'], 'thousands separators need a delimiter other than ","');
    const fileOwner = new Map<string, string>();
    for (const name of EXTRACT_NAMES) {
      const f = input.files[name];
      if (f === undefined) continue;
      const other = fileOwner.get(f);
      if (other !== undefined) fail(['input', 'files', name], `"${f}" is also the file of ${other}; each extract needs its own file`);
      fileOwner.set(f, name);
    }
    for (const name of EXTRACT_NAMES) {
      // Two contract columns read from one header would read one value twice (the amount from the minutes).
      const renames = (input.columns[name] ?? {}) as Record<string, string | undefined>;
      const readers = new Map<string, string>();
      for (const col of defaultHeader(name)) {
        const header = foldHeader(renames[col] ?? col);
        const other = readers.get(header);
        if (other !== undefined) {
          const renamed = renames[col] !== undefined ? col : other;
          fail(
            ['input', 'columns', name, renamed],
            `${other} and ${col} would both be read from the header "${renames[renamed] ?? header}"; map each contract column to its own header`,
          );
        }
        readers.set(header, col);
      }
    }
    for (const extract of ['billing_monthly', 'usage_daily'] as const) {
      const example = extract === 'billing_monthly' ? '2026-08' : '2026-11-22';
      for (const [column, periods] of Object.entries(input.wide[extract] ?? {})) {
        for (const key of Object.keys(periods)) {
          if (widePeriodKey(extract, key) === null)
            fail(
              ['input', 'wide', extract, column, key],
              `"${key}" is not a period: write ${MEASURE_OFFSET[extract]}k (k before the run date) or ${example}`,
            );
        }
      }
    }
    if (!output.mask && !output.dialer_full_number) {
      fail(['output', 'dialer_full_number'], 'false needs output.mask: true (without masking the task files carry the full numbers)');
    }
    if (!output.dialer_full_number && DIALER_PROFILES.includes(output.profile)) {
      // A dialer's file without the numbers to dial would import as a list of nobody to call.
      fail(
        ['output', 'dialer_full_number'],
        `false leaves the phone empty, and the ${output.profile} profile is a dialer's import: choose plain, excel-csv or jsonl, or keep the full number`,
      );
    }
    if (!output.allow_shared_modes) {
      for (const key of ['file_mode', 'dir_mode'] as const) {
        if ((output[key] & SHARED_BITS) !== 0) {
          fail(
            ['output', key],
            `${output[key].toString(8).padStart(4, '0')} lets other users read or change task files (personal data); ` +
              'use at most group read (0640 / 0750), or set output.allow_shared_modes: true to allow it',
          );
        }
      }
    }
  });
  return schema;
}

// zod's start-up costs about 80 ms of CPU: a night without --config never loads it.
let schemaMade: ReturnType<typeof makeSchema> | undefined;
const schemaOf = () => (schemaMade ??= makeSchema((createRequire(import.meta.url)('zod') as typeof import('zod')).z));

function invalid(file: string, path: string, msg: string): ChurnwatchError {
  return new ChurnwatchError('CW_CONFIG_INVALID', `${file}: ${path}: ${msg}`, { file, path });
}

export function parseRunConfig(text: string, file: string, source: ConfigSource | null = null): RunConfig {
  let doc: unknown;
  try {
    doc = parseYamlText(text);
  } catch (e) {
    if (!(e instanceof YamlTextError)) throw e;
    throw invalid(file, e.line === undefined ? '(document)' : `line ${e.line}, column ${e.column}`, `not valid YAML: ${e.reason}`);
  }
  const r = schemaOf().safeParse(doc);
  if (!r.success) {
    const issues = r.error.issues.map((iss) => {
      const path = iss.path.length === 0 ? 'config' : iss.path.join('.');
      const keys = iss.code === 'unrecognized_keys' ? iss.keys : [];
      return { path: keys.length > 0 ? `${path === 'config' ? '' : `${path}.`}${keys[0]}` : path, message: iss.message };
    });
    const first = issues[0]!;
    const rest = issues
      .slice(1)
      .map((i) => `; ${i.path}: ${i.message}`)
      .join('');
    throw new ChurnwatchError('CW_CONFIG_INVALID', `${file}: ${first.path}: ${first.message}${rest}`, { file, path: first.path });
  }
  const { input, output, time_zone, engine } = r.data;
  return {
    input: {
      delimiter: input.delimiter,
      encoding: input.encoding,
      encodings: input.encodings,
      thousands: input.thousands,
      files: input.files,
      columns: input.columns as InputOptions['columns'],
      ...(input.wide.billing_monthly || input.wide.usage_daily ? { wide: input.wide } : {}),
      ...(input.default_country_code === undefined ? {} : { defaultCountryCode: input.default_country_code }),
      ...(input.workers === undefined ? {} : { workers: input.workers }),
    },
    output: {
      fileMode: output.file_mode,
      dirMode: output.dir_mode,
      mask: output.mask,
      dialerFullNumber: output.dialer_full_number,
      profile: output.profile,
      locale: output.locale,
      campaign: output.campaign,
      excelEncoding: output.excel_encoding,
      ...(output.max_rows_per_file !== undefined ? { maxRowsPerFile: output.max_rows_per_file } : {}),
      format: output.format,
      withMeasures: output.with_measures,
    },
    timeZone: time_zone,
    engine: { name: engine.name, memoryLimit: engine.memory_limit, ...(engine.threads !== undefined ? { threads: engine.threads } : {}) },
    source,
  };
}

/** What parseRunConfig makes of an empty file (a test holds the two together), without loading the schema. */
export function defaultRunConfig(): RunConfig {
  return {
    input: { delimiter: ',', encoding: 'utf8', encodings: {}, thousands: false, files: {}, columns: {} },
    output: {
      fileMode: 0o600,
      dirMode: 0o700,
      mask: false,
      dialerFullNumber: true,
      profile: 'plain',
      locale: 'en',
      campaign: 'churnwatch',
      excelEncoding: 'utf8-bom',
      format: 'arrow',
      withMeasures: false,
    },
    timeZone: undefined,
    engine: { name: 'in-process', memoryLimit: DEFAULT_MEMORY_LIMIT },
    source: null,
  };
}

export function loadRunConfig(path: string | undefined): RunConfig {
  if (path === undefined) return defaultRunConfig();
  let bytes: Buffer;
  try {
    // stat first: reading a FIFO given by mistake would block the run.
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
    bytes = readFileSync(path);
  } catch (e) {
    throw new ChurnwatchError(
      'CW_INPUT_MISSING',
      `configuration ${path} cannot be read (${(e as NodeJS.ErrnoException).code}); pass --config with an existing file`,
      { file: path },
    );
  }
  const source = { file: basename(path), sha256: createHash('sha256').update(bytes).digest('hex') };
  return parseRunConfig(bytes.toString('utf8'), path, source);
}
