/**
 * Where the extracts of the contract (src/contract/) are found, and how a real
 * export's header (Chinese headers included) maps onto their columns.
 */
import { statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ChurnwatchError } from '../errors.js';
import type { RulePack } from '../config/rulepack.js';
import { featureColumns, type FeatureRequest } from '../rules/catalogue.js';
import { extractSpec, foldHeader, type ColumnNeeds, type Encoding, type ExtractName, type InputOptions } from '../contract/contract.js';

export {
  ENCODINGS,
  EXTRACT_NAMES,
  defaultInputOptions,
  foldHeader,
  type ColumnNeeds,
  type Encoding,
  type ExtractName,
  type InputOptions,
} from '../contract/contract.js';

export function encodingOf(opts: InputOptions, name: ExtractName): Encoding {
  return opts.encodings?.[name] ?? opts.encoding;
}

/**
 * The path of an extract, or undefined when no file of it is there. Refused: a
 * configured name that does not exist (66), both `<name>.csv` and `<name>.csv.gz`
 * (78: which one the export meant is not ours to guess), and anything that is not a
 * regular file (66: a FIFO would block the run forever while it holds the lock).
 * stat() does not open, so it cannot block on a FIFO.
 */
export function locateExtract(opts: InputOptions, name: ExtractName): string | undefined {
  const configured = opts.files[name];
  if (configured !== undefined) {
    const p = join(opts.dir, configured);
    const st = statOrUndefined(p);
    if (st === undefined) {
      throw new ChurnwatchError(
        'CW_EXTRACT_MISSING_FILE',
        `${configured} (input.files.${name} in the configuration) is not in ${opts.dir}; export the file, or remove input.files.${name}`,
        { file: configured, path: `input.files.${name}` },
      );
    }
    return regularFile(st, p, configured);
  }
  const found = [`${name}.csv`, `${name}.csv.gz`]
    .map((c) => ({ c, p: join(opts.dir, c), st: statOrUndefined(join(opts.dir, c)) }))
    .filter((f) => f.st !== undefined);
  if (found.length > 1) {
    throw new ChurnwatchError(
      'CW_INPUT_AMBIGUOUS',
      `both ${name}.csv and ${name}.csv.gz are in ${opts.dir}; remove the one that is not tonight's export, or name it under input.files.${name} in the configuration`,
      { file: `${name}.csv`, path: `input.files.${name}` },
    );
  }
  return found.length === 0 ? undefined : regularFile(found[0]!.st!, found[0]!.p, found[0]!.c);
}

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function regularFile(st: Stats, path: string, file: string): string {
  if (!st.isFile()) throw notRegularFile(file, st);
  return path;
}

/** What a non-regular file is, for the message. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export function notRegularFile(file: string, st: Stats): ChurnwatchError {
  return new ChurnwatchError(
    'CW_INPUT_NOT_FILE',
    `${file} is ${kindOf(st)}, not a regular file; an extract must be a plain or gzip-compressed regular file (copy the export to a file first)`,
    { file },
  );
}

export function displayName(opts: InputOptions, name: ExtractName): string {
  return opts.files[name] ?? `${name}.csv`;
}

/**
 * The optional columns that readers (a rule, the value, the exclusion, each with
 * the features it reads) need, with the names of their readers. Required columns
 * are left out: the header must have them anyway.
 */
export function columnNeeds(readers: { reader: string; features: Iterable<FeatureRequest> }[]): ColumnNeeds {
  const out: ColumnNeeds = {};
  for (const { reader, features } of readers) {
    for (const f of features) {
      const { extract, columns } = featureColumns(f);
      for (const col of columns) {
        if (extractSpec(extract).columns.some((c) => c.name === col && c.required)) continue;
        const byCol = (out[extract] ??= {});
        const list = (byCol[col] ??= []);
        if (!list.includes(reader)) list.push(reader);
      }
    }
  }
  return out;
}

/** The optional columns a rule pack reads: its enabled rules (conditions and reason texts), the value and the exclusion. */
export function packColumnNeeds(pack: Pick<RulePack, 'rules' | 'value' | 'exclude'>): ColumnNeeds {
  return columnNeeds([
    { reader: 'the value', features: pack.value.features.values() },
    { reader: 'the exclusion', features: pack.exclude.features.values() },
    ...pack.rules
      .filter((r) => r.enabled)
      .map((r) => ({
        reader: `rule ${r.id}`,
        features: [...r.features.values(), ...r.reason.flatMap((p) => (typeof p === 'string' ? [] : [...p.features.values()]))],
      })),
  ]);
}

/**
 * Column positions of a header row. Header cells and the configured names are
 * compared trimmed and case-folded. Required columns must all be there, and so must
 * the optional ones in `opts.needs`; the other optional ones are -1 when absent. A
 * header naming a column twice is refused (which of the two is meant is a guess),
 * and so are two contract columns found at one position.
 */
export function resolveColumns(name: ExtractName, header: string[], opts: InputOptions, file: string): Record<string, number> {
  const renames = opts.columns[name] ?? {};
  const cells = header.map(foldHeader);
  const firstAt = new Map<string, number>();
  cells.forEach((c, i) => {
    if (c === '') return;
    const j = firstAt.get(c);
    if (j !== undefined) {
      throw new ChurnwatchError(
        'CW_EXTRACT_DUPLICATE_COLUMN',
        `gate required-columns failed: ${file} line 1 names the column "${header[i]!.trim()}" twice (fields ${j + 1} and ${i + 1}); fix the export's header so each name appears once`,
        { file, line: 1, gate: 'required-columns', column: header[i]!.trim() },
      );
    }
    firstAt.set(c, i);
  });
  const spec = extractSpec(name);
  const needs = opts.needs?.[name] ?? {};
  const out: Record<string, number> = {};
  const missing: string[] = [];
  const unread: string[] = [];
  const byIndex = new Map<number, string>();
  // The contract's columns, then those the pack's measures sum (named by their header already).
  const columns = [
    ...spec.columns,
    ...(opts.measures ?? []).filter((m) => m.extract === name).map((m) => ({ name: m.column, required: false })),
  ];
  for (const { name: col, required } of columns) {
    const wanted = renames[col] ?? col;
    const idx = firstAt.get(foldHeader(wanted)) ?? -1;
    const shown = wanted === col ? col : `${col} (mapped to "${wanted}")`;
    if (idx < 0 && required) missing.push(shown);
    else if (idx < 0 && needs[col]) unread.push(`${shown}, read by ${needs[col]!.join(', ')}`);
    if (idx >= 0) {
      const other = byIndex.get(idx);
      if (other !== undefined) {
        throw new ChurnwatchError(
          'CW_CONFIG_INVALID',
          `${file} line 1: ${other} and ${col} would both be read from the column "${header[idx]!.trim()}"; map each under input.columns.${name} in the configuration to its own header`,
          { file, line: 1, path: `input.columns.${name}.${renames[col] !== undefined ? col : other}`, column: header[idx]!.trim() },
        );
      }
      byIndex.set(idx, col);
    }
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
  if (unread.length > 0) {
    throw new ChurnwatchError(
      'CW_EXTRACT_MISSING_COLUMN',
      `gate required-columns failed: ${file} line 1 lacks the column${unread.length > 1 ? 's' : ''} ${unread.join('; ')}; ` +
        `rename the header or map it under input.columns.${name} in the configuration, or disable the rules that read it (enabled: false in the rule pack; the value and the exclusion are expressions to change)`,
      { file, line: 1, gate: 'required-columns', column: unread[0]!.split(/[ ,]/)[0] },
    );
  }
  return out;
}
