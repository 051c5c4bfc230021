/**
 * The run configuration (--config FILE, YAML): how the operator's extracts are
 * written (delimiter, encoding, file names, header renames) and how outputs are
 * created. Normalised in one pass into a value with every default filled in.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ChurnwatchError } from '../errors.js';
import { EXTRACTS, EXTRACT_NAMES, type ExtractName, type InputOptions } from '../ingest/layout.js';

export interface RunConfig {
  input: Omit<InputOptions, 'dir'>;
  /** mask / dialerFullNumber: the personal data in task files (see TaskProfile in tasks/tasks.ts). */
  output: { fileMode: number; dirMode: number; mask: boolean; dialerFullNumber: boolean };
  timeZone: string | undefined;
}

function bad(file: string, path: string, msg: string): never {
  throw new ChurnwatchError('CW_CONFIG_INVALID', `${file}: ${path}: ${msg}`, { file, path });
}

function keys(file: string, path: string, v: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(file, path, 'must be a mapping');
  for (const k of Object.keys(v as object)) if (!allowed.includes(k)) bad(file, `${path}.${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
  return v as Record<string, unknown>;
}

/**
 * An octal mode written as "0600" (or 600). The owner keeps read and write on files
 * and read, write and search on folders, or the run could not finish its own outputs.
 */
function mode(file: string, path: string, v: unknown, def: number, ownerBits: number): number {
  if (v === undefined) return def;
  const text = typeof v === 'number' || typeof v === 'string' ? String(v).trim() : '';
  if (!/^0?[0-7]{3}$/.test(text)) bad(file, path, 'must be an octal mode such as 0600 (written as "0600")');
  const n = Number.parseInt(text, 8);
  if ((n & ownerBits) !== ownerBits) bad(file, path, `must give the owner at least ${ownerBits.toString(8).padStart(4, '0')}`);
  return n;
}

function flag(file: string, path: string, v: unknown, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') bad(file, path, 'must be true or false');
  return v as boolean;
}

export function parseRunConfig(text: string, file: string): RunConfig {
  let doc: unknown;
  try { doc = parseYaml(text); } catch (e) { bad(file, '(document)', `not valid YAML: ${(e as Error).message.split('\n')[0]}`); }
  const root = keys(file, 'config', doc, ['input', 'output', 'time_zone']);
  const input = keys(file, 'input', root.input, ['delimiter', 'encoding', 'thousands', 'files', 'columns']);
  const delimiter = input.delimiter === undefined ? ',' : String(input.delimiter);
  if (![',', '|', ';', '\t'].includes(delimiter)) bad(file, 'input.delimiter', 'must be one of , | ; or a tab');
  const encoding = input.encoding === undefined ? 'utf8' : String(input.encoding).toLowerCase().replace('utf-8', 'utf8');
  if (!['utf8', 'gbk', 'gb18030'].includes(encoding)) bad(file, 'input.encoding', 'must be utf8, gbk or gb18030');
  const thousands = input.thousands === undefined ? false : input.thousands === true;
  if (thousands && delimiter === ',') bad(file, 'input.thousands', 'thousands separators need a delimiter other than ","');
  const files = keys(file, 'input.files', input.files, EXTRACT_NAMES) as Partial<Record<ExtractName, string>>;
  const columnsRaw = keys(file, 'input.columns', input.columns, EXTRACT_NAMES);
  const columns: Partial<Record<ExtractName, Record<string, string>>> = {};
  for (const name of EXTRACT_NAMES) {
    const spec = EXTRACTS[name];
    const m = keys(file, `input.columns.${name}`, columnsRaw[name], [...spec.required, ...spec.optional]);
    columns[name] = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
  }
  const output = keys(file, 'output', root.output, ['file_mode', 'dir_mode', 'mask', 'dialer_full_number']);
  const mask = flag(file, 'output.mask', output.mask, false);
  const dialerFullNumber = flag(file, 'output.dialer_full_number', output.dialer_full_number, true);
  if (!mask && !dialerFullNumber) bad(file, 'output.dialer_full_number', 'false needs output.mask: true (without masking the task files carry the full numbers)');
  const timeZone = root.time_zone === undefined ? undefined : String(root.time_zone);
  if (timeZone) { try { new Intl.DateTimeFormat('en', { timeZone }); } catch { bad(file, 'time_zone', `"${timeZone}" is not an IANA time zone`); } }
  return {
    input: { delimiter, encoding: encoding as InputOptions['encoding'], thousands, files, columns },
    output: { fileMode: mode(file, 'output.file_mode', output.file_mode, 0o600, 0o600), dirMode: mode(file, 'output.dir_mode', output.dir_mode, 0o700, 0o700), mask, dialerFullNumber },
    timeZone,
  };
}

export function loadRunConfig(path: string | undefined): RunConfig {
  if (path === undefined) return parseRunConfig('{}', '(defaults)');
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new ChurnwatchError('CW_INPUT_MISSING', `configuration ${path} cannot be read (${(e as NodeJS.ErrnoException).code}); pass --config with an existing file`, { file: path });
  }
  return parseRunConfig(text, path);
}
