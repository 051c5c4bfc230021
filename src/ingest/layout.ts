/**
 * The extracts of the default contract: file names, required and optional columns,
 * and the mapping of a real export's header (Chinese headers included) onto them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ChurnwatchError } from '../errors.js';

export const EXTRACTS = {
  subscribers: {
    required: ['subscriber_id', 'msisdn', 'status'],
    optional: ['status_since', 'activation_date', 'plan_id', 'member_level', 'region', 'manager_id', 'prepaid_balance', 'name'],
  },
  billing_monthly: { required: ['subscriber_id', 'bill_month', 'amount'], optional: ['mou', 'hotline_calls'] },
  usage_daily: { required: ['subscriber_id', 'usage_date', 'calls'], optional: ['sms', 'data_mb', 'forwarded_calls'] },
  tickets: { required: ['ticket_id', 'subscriber_id', 'created_at', 'kind'], optional: ['category'] },
  contracts: { required: ['contract_id', 'subscriber_id', 'start_date', 'end_date', 'renewed'], optional: ['kind'] },
  contact_history: { required: ['subscriber_id', 'contacted_at', 'outcome'], optional: ['channel', 'task_id'] },
  do_not_call: { required: ['msisdn'], optional: [] },
} as const;

export type ExtractName = keyof typeof EXTRACTS;
export const EXTRACT_NAMES = Object.keys(EXTRACTS) as ExtractName[];

export interface InputOptions {
  dir: string;
  delimiter: string;
  encoding: 'utf8' | 'gbk' | 'gb18030';
  /** Accept thousands separators in amounts ("1,234.50"); only with a delimiter other than ",". */
  thousands: boolean;
  /** File name per extract when it differs from "<name>.csv" / "<name>.csv.gz". */
  files: Partial<Record<ExtractName, string>>;
  /** Header renames per extract: contract column → header in the real export. */
  columns: Partial<Record<ExtractName, Record<string, string>>>;
}

export function defaultInputOptions(dir: string): InputOptions {
  return { dir, delimiter: ',', encoding: 'utf8', thousands: false, files: {}, columns: {} };
}

/** The path of an extract, or undefined when neither the configured name nor a default exists. */
export function locateExtract(opts: InputOptions, name: ExtractName): string | undefined {
  const candidates = opts.files[name] ? [opts.files[name]!] : [`${name}.csv`, `${name}.csv.gz`];
  for (const c of candidates) {
    const p = join(opts.dir, c);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function displayName(opts: InputOptions, name: ExtractName): string {
  return opts.files[name] ?? `${name}.csv`;
}

/**
 * Column positions of a header row. Required columns must all be there; optional
 * ones are -1 when absent. Header cells are compared after trimming.
 */
export function resolveColumns(name: ExtractName, header: string[], opts: InputOptions, file: string): Record<string, number> {
  const renames = opts.columns[name] ?? {};
  const cells = header.map((h) => h.trim());
  const spec = EXTRACTS[name];
  const out: Record<string, number> = {};
  const missing: string[] = [];
  for (const col of [...spec.required, ...spec.optional]) {
    const wanted = renames[col] ?? col;
    const idx = cells.indexOf(wanted);
    if (idx < 0 && (spec.required as readonly string[]).includes(col)) missing.push(wanted === col ? col : `${col} (mapped to "${wanted}")`);
    out[col] = idx;
  }
  if (missing.length > 0) {
    throw new ChurnwatchError(
      'CW_EXTRACT_MISSING_COLUMN',
      `gate required-columns failed: ${file} line 1 lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ` +
        `rename the header or map it under input.columns.${name} in the configuration`,
      { file, line: 1, gate: 'required-columns', column: missing[0] },
    );
  }
  return out;
}
