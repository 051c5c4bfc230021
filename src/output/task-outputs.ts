/**
 * The task files of a run in the configured output profile (profiles.ts), each
 * through the Publication: created in its hidden folder, fsynced, listed in the
 * manifest. `plain` writes the per-tier CSV files as they always were, and with the
 * ledger each tier's delta file (its new and escalated tasks) in the same pass; the other
 * profiles one file per tier and channel, split at their row limit, every file
 * present every night (header only, or an empty list, when a channel has no rows).
 */
import { Writable } from 'node:stream';
import { CHANNELS, localisedPolicy, type Channel, type Locale } from '../config/rulepack.js';
import { ChurnwatchError } from '../errors.js';
import { TIERS } from '../contract/contract.js';
import { deltaRows, planTasks, subPlan, type TaskPlan, type TaskProfile } from '../tasks/plan.js';
import { channelRows, RECORD_FIELDS, taskRecords, type TaskRecords } from '../tasks/records.js';
import { renderInput, type TaskInput } from '../tasks/tasks.js';
import { CsvBytesWriter } from '../util/bytes.js';
import {
  columnValue,
  partName,
  PROFILE_LAYOUTS,
  rowLimit,
  type ExcelEncoding,
  type OutputProfileName,
  type ProfileLayout,
} from './profiles.js';
import type { ChunkedFile } from './publish.js';
import { writePlain, type PlainRecords, type TaskFileSink } from './plain-tasks.js';
import type { TaskFilesThread, TierJob } from './task-files.js';

export type { TaskFileSink } from './plain-tasks.js';

export interface TaskOutputOptions {
  profile: OutputProfileName;
  locale: Locale;
  /** The country of national numbers (input.default_country_code, as the do-not-call comparison reads them). */
  countryCode: string;
  campaign: string;
  excelEncoding: ExcelEncoding;
  /** Lowers each profile's rows per file (never raises it). */
  maxRowsPerFile?: number;
}

export const DEFAULT_TASK_OUTPUT: TaskOutputOptions = {
  profile: 'plain',
  locale: 'en',
  countryCode: '86',
  campaign: 'churnwatch',
  excelEncoding: 'utf8-bom',
};

/** The task files once written by this thread: the counts, and the records still to list. */
export interface TaskOutputs {
  /** Tasks per tier (a task on two channels counts once). */
  counts: Record<string, number>;
  /** The thread that wrote each tier's plain files (known once finish() is done). */
  writers: Record<string, 'main' | 'worker'>;
  /**
   * Lists the plain files' records in the sink (full files in tier order, then the
   * deltas) once every one is written: the worker's tier too.
   * Throws the first failure among them.
   */
  finish(): Promise<void>;
  /** For a run that failed: waits until no worker is still writing. Never rejects. */
  settle(): Promise<void>;
}

/**
 * Writes every tier's task files. `perTier[k]` lists tier k's subscribers in rank
 * order. With `thread` (plain profile), that worker writes the tiers it takes (the
 * largest first) while this thread writes its other files; finish() writes the
 * tiers left and waits for the worker. `decideTier(k)` is called once per tier just
 * before its plan is made (the ledger's ids and states of tier k are read then, not before).
 */
export async function writeTaskOutputs(
  sink: TaskFileSink,
  input: TaskInput,
  perTier: readonly (readonly number[])[],
  personal: TaskProfile,
  options: TaskOutputOptions,
  thread: TaskFilesThread | null = null,
  decideTier: (tier: number) => void = () => {},
): Promise<TaskOutputs> {
  const counts: Record<string, number> = Object.fromEntries(TIERS.map((tier, k) => [tier, perTier[k]!.length]));
  const localised = localiseInput(input, options.locale);
  // The plain files' records per tier, listed in tier order, the deltas after every full file, as they always were.
  const records: PlainRecords[] = TIERS.map(() => ({ full: [], deltas: [] }));
  const writers: Record<string, 'main' | 'worker'> = {};
  let rest = async () => {};
  const settle = async () => {
    // No worker may still be writing when the failure path removes the folder.
    await thread?.settle();
  };
  try {
    const plan = (k: number) => {
      decideTier(k);
      return planTier(localised, perTier, k, personal);
    };
    if (options.profile === 'plain') rest = writePlainTiers(sink, localised, plan, perTier, records, thread, writers);
    else {
      await thread?.settle();
      await writeProfileTiers(sink, input, plan, options, PROFILE_LAYOUTS[options.profile]);
    }
  } catch (e) {
    await settle();
    throw e;
  }
  return {
    counts,
    writers,
    settle,
    async finish() {
      try {
        await rest();
        for (const r of records) for (const f of r.full) sink.add(f);
        for (const r of records) for (const d of r.deltas) sink.add(d);
      } catch (e) {
        await settle();
        throw e;
      }
    },
  };
}

/** A tier's plan, in the rules' texts of the locale. */
function planTier(localised: TaskInput, perTier: readonly (readonly number[])[], k: number, personal: TaskProfile): TaskPlan {
  return planTasks(
    {
      pack: localised.pack,
      D: localised.D,
      evaluation: localised.evaluation,
      msisdn: localised.subscribers.msisdn,
      taskType: localised.taskType,
      ledger: localised.ledger && {
        taskIds: localised.ledger.taskIds[k]!,
        states: localised.ledger.states[k]!,
        reasons: localised.ledger.reasons?.[k],
      },
    },
    TIERS,
    k,
    perTier[k]!,
    personal,
  );
}

/**
 * The plain files of every tier, the largest first. Without a worker they are all
 * written now. With one, each tier is planned and offered to it (it takes the
 * largest at once); the returned function (finish() runs it, after this thread's
 * other files) writes the tiers the worker has not taken and waits for its records.
 */
function writePlainTiers(
  sink: TaskFileSink,
  localised: TaskInput,
  planOf: (tier: number) => TaskPlan,
  perTier: readonly (readonly number[])[],
  records: PlainRecords[],
  thread: TaskFilesThread | null,
  writers: Record<string, 'main' | 'worker'>,
): () => Promise<void> {
  const tiers = [...TIERS.keys()].sort((a, b) => perTier[b]!.length - perTier[a]!.length);
  // The full files serve dialers that replace their list each night, the delta (new and escalated tasks) those that append.
  const withDelta = localised.ledger !== undefined;
  const render = renderInput(localised);
  const write = (job: TierJob) => {
    writers[TIERS[job.tier]!] = 'main';
    writePlain(sink, render, job.plan, job.rows, withDelta, records[job.tier]!);
  };
  thread?.begin(tiers.length);
  const jobs = tiers.map((tier, q) => {
    const plan = planOf(tier);
    const job: TierJob = { tier, plan, rows: channelRows(localised, plan), withDelta };
    if (thread === null) write(job);
    else thread.offer(q, job);
    return job;
  });
  if (thread === null) return async () => {};
  return async () => {
    for (let q = thread.take(); q >= 0; q = thread.take()) write(jobs[q]!);
    for (const r of await thread.records()) {
      records[r.tier] = r;
      writers[TIERS[r.tier]!] = 'worker';
    }
  };
}

/** The other profiles' files, tier by tier, one file (or part) per channel, full then delta. */
async function writeProfileTiers(
  sink: TaskFileSink,
  input: TaskInput,
  planOf: (tier: number) => TaskPlan,
  options: TaskOutputOptions,
  layout: ProfileLayout,
): Promise<void> {
  for (const k of TIERS.keys()) {
    const plan = planOf(k);
    const delta = subPlan(plan, deltaRows(plan));
    for (const [part, suffix] of [
      [plan, ''],
      [delta, '-delta'],
    ] as const) {
      const records = taskRecords(input, part, { locale: options.locale, countryCode: options.countryCode, campaign: options.campaign });
      for (const channel of CHANNELS) await writeChannel(sink, records, channel, layout, options, suffix);
    }
  }
}

/** The input with the rules' texts in the locale: the plain renderer then writes them as it writes English. */
function localiseInput(input: TaskInput, locale: Locale): TaskInput {
  if (locale === 'en') return input;
  const rules = input.evaluation.rules.map((r) => {
    const t = r.texts[locale];
    return t === undefined ? r : { ...r, title: t.title, reason: t.reason, action: t.action };
  });
  return {
    ...input,
    pack: { ...input.pack, policy: localisedPolicy(input.pack.policy, locale) },
    evaluation: { ...input.evaluation, rules },
  };
}

/** One output row: the layout's headers and the values in its forms. */
interface Row {
  cells: (string | null)[];
}

function headersOf(layout: ProfileLayout): string[] {
  return layout.columns === null ? RECORD_FIELDS.map((f) => f.name) : layout.columns.map((c) => c.header);
}

const FIELD_INDEX = new Map(RECORD_FIELDS.map((f, k) => [f.name, k]));
const E164_INDEX = FIELD_INDEX.get('msisdn_e164')!;

function rowOf(records: TaskRecords, r: number, channel: Channel, layout: ProfileLayout, countryCode: string): Row {
  const values = records.values(r, channel);
  if (layout.columns === null) return { cells: values };
  const e164 = values[E164_INDEX]!;
  return {
    cells: layout.columns.map((c) =>
      c.fields === undefined
        ? columnValue(c.form, values[FIELD_INDEX.get(c.field)!]!, e164, countryCode)
        : jsonColumn(c.fields, values, layout.maxCellChars),
    ),
  };
}

/**
 * Record fields as one JSON object's text (numbers as JSON numbers), within `max`
 * characters: while it is longer, the longest free text is cut and ends in '…' (the
 * agent's reading, never an id, phone or time).
 */
function jsonColumn(fields: readonly string[], values: (string | null)[], max: number | null): string {
  const o: Record<string, string | number | null> = {};
  for (const f of fields) {
    const v = values[FIELD_INDEX.get(f)!]!;
    o[f] = v !== null && NUMBER_FIELDS.has(f) ? Number(v) : v;
  }
  let text = JSON.stringify(o);
  while (max !== null && text.length > max) {
    let longest: string | undefined;
    for (const f of fields)
      if (
        FREE_TEXT.has(f) &&
        typeof o[f] === 'string' &&
        (longest === undefined || (o[f] as string).length > (o[longest] as string).length)
      )
        longest = f;
    const v = longest === undefined ? '' : (o[longest!] as string);
    if (v.length <= 1)
      throw new ChurnwatchError('CW_INTERNAL', `a JSON column of ${fields.length} fields cannot be made to fit ${max} characters`);
    o[longest!] = cut(v, Math.max(1, v.length - (text.length - max)));
    text = JSON.stringify(o);
  }
  return text;
}

/** s in at most n characters (n ≥ 1), the last of them '…' when it was longer; a surrogate pair is never split. */
export function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  let end = n - 1;
  if (end > 0 && /[\uD800-\uDBFF]/.test(s[end - 1]!)) end--;
  return `${s.slice(0, end)}…`;
}

/**
 * A tier's rows on one channel, part by part, each row checked and handed to the
 * part's writer as it is made: a part of a million rows is never held as strings.
 */
async function writeChannel(
  sink: TaskFileSink,
  records: TaskRecords,
  channel: Channel,
  layout: ProfileLayout,
  options: TaskOutputOptions,
  suffix: string,
): Promise<void> {
  const rows = records.rows[channel];
  const limit = rowLimit(layout, options.maxRowsPerFile);
  const parts = limit === null ? 1 : Math.max(1, Math.ceil(rows.length / limit));
  const headers = headersOf(layout);
  const idColumn = layout.columns === null ? 0 : layout.columns.findIndex((c) => c.field === 'task_id');
  const phoneColumn = layout.phone === null ? -1 : headers.indexOf(layout.phone.header);
  for (let k = 0; k < parts; k++) {
    const name = partName(`${records.tier}-${channel}${suffix}`, layout.extension, limit !== null, k);
    const from = limit === null ? 0 : k * limit;
    const to = limit === null ? rows.length : Math.min(rows.length, from + limit);
    const file = sink.open(name);
    const out = await partWriter(layout, headers, file, name, options, records.tier);
    for (let q = from; q < to; q++) {
      const row = rowOf(records, rows[q]!, channel, layout, options.countryCode);
      checkRow(row, name, q - from + 1, idColumn, phoneColumn, layout);
      out.row(row.cells);
    }
    await out.end();
    sink.add(file.close());
  }
}

/** The tool's limits, per row: the id's length and the dialled phone's form. Messages name the file and row, never the values. */
function checkRow(row: Row, file: string, line: number, idColumn: number, phoneColumn: number, layout: ProfileLayout): void {
  const id = row.cells[idColumn] ?? '';
  if (id.length === 0 || id.length > layout.maxIdLength || !/^[A-Za-z0-9_-]+$/.test(id)) {
    throw new ChurnwatchError(
      'CW_INTERNAL',
      `${file}: row ${line}: the task id is not 1 to ${layout.maxIdLength} characters of [A-Za-z0-9_-]`,
      { file },
    );
  }
  if (layout.maxCellChars !== null) {
    const max = layout.maxCellChars;
    row.cells.forEach((c, k) => {
      if (c !== null && c.length > max) row.cells[k] = cut(c, max);
    });
  }
  if (phoneColumn >= 0) {
    const phone = row.cells[phoneColumn];
    // A number the tool cannot read stays empty: it would be read as another country's (Genesys reads a number without a country code as North American).
    if (phone !== null && phone !== undefined && !layout.phone!.pattern.test(phone)) row.cells[phoneColumn] = null;
  }
}

/** Writes one part file row by row; end() finishes it (the caller closes the file). */
interface PartWriter {
  row(cells: (string | null)[]): void;
  end(): Promise<void>;
}

async function partWriter(
  layout: ProfileLayout,
  headers: string[],
  file: ChunkedFile,
  name: string,
  options: TaskOutputOptions,
  tier: string,
): Promise<PartWriter> {
  switch (layout.format) {
    case 'csv': {
      const excel = layout === PROFILE_LAYOUTS['excel-csv'] ? options.excelEncoding : null;
      // iconv-lite (~12 ms of CPU to load) only for the encodings that need it: every run loads this module.
      const codec = excel === null || excel === 'utf8-bom' ? null : (await import('iconv-lite')).default;
      return csvWriter(headers, file, name, excel, codec);
    }
    case 'jsonl':
      return textWriter(file, '', '', '\n', (cells) => JSON.stringify(recordObject(headers, cells)));
    case 'json':
      return textWriter(file, '[\n', '[]\n', '\n]\n', (cells) => caseJson(headers, cells), ',\n');
    case 'xlsx':
      return xlsxWriter(headers, file, tier);
  }
}

/** Free-text fields by header (a layout's columns keep their field's kind). */
const FREE_TEXT = new Set(RECORD_FIELDS.filter((f) => f.freeText).map((f) => f.name));
const NUMBER_FIELDS = new Set(RECORD_FIELDS.filter((f) => f.kind === 'number').map((f) => f.name));

/**
 * CSV, "\n" line ends, RFC 4180 quoting, free text neutralised. For Excel
 * (excel-csv): a byte order mark before UTF-8, or GBK / GB18030; and the phone
 * columns neutralised too, since Excel reads "+86..." as a formula. The writer hands
 * over whole lines, so each chunk is encoded on its own.
 */
function csvWriter(
  headers: string[],
  file: ChunkedFile,
  name: string,
  excel: ExcelEncoding | null,
  iconv: typeof import('iconv-lite') | null,
): PartWriter {
  let line = 0;
  const w = new CsvBytesWriter((bytes) => {
    if (excel === null || excel === 'utf8-bom' || iconv === null) {
      file.writeBytes(bytes);
      return;
    }
    const text = Buffer.from(bytes).toString('utf8');
    const encoded = iconv.encode(text, excel);
    if (excel === 'gbk' && iconv.decode(encoded, 'gbk') !== text) {
      // GBK has no code for some characters (rare names among them); iconv would write '?' for them.
      const back = iconv.decode(encoded, 'gbk').split('\n');
      const at = line + text.split('\n').findIndex((l, k) => l !== back[k]) + 1;
      throw new ChurnwatchError(
        'CW_OUTPUT_ENCODING',
        `${name}: line ${at} has a character that GBK cannot hold; set output.excel_encoding to gb18030 or utf8-bom`,
        { file: name, line: at },
      );
    }
    line += text.split('\n').length - 1;
    file.writeBytes(encoded);
  });
  if (excel === 'utf8-bom') file.writeBytes(new Uint8Array([0xef, 0xbb, 0xbf]));
  const free = headers.map((h) => FREE_TEXT.has(h) || (excel !== null && (h === 'msisdn' || h === 'msisdn_e164')));
  headers.forEach((h, k) => {
    if (k > 0) w.comma();
    w.cellString(h, false);
  });
  w.endLine();
  // GBK has no minus sign (U+2212, before a falling percentage): the full-width hyphen-minus it has
  // stands in, mapped before the cell is neutralised, so that one at the start still gets its "'".
  const cell = excel === 'gbk' ? (c: string) => c.replaceAll('\u2212', '\uff0d') : (c: string) => c;
  return {
    row(cells) {
      cells.forEach((c, k) => {
        if (k > 0) w.comma();
        if (c !== null) w.cellString(cell(c), free[k]!);
      });
      w.endLine();
    },
    end: async () => {
      w.end();
    },
  };
}

/** Text rows joined by `separator` between `open` and `close` (`empty` when there are none), written about every megabyte. */
function textWriter(
  file: ChunkedFile,
  open: string,
  empty: string,
  close: string,
  text: (cells: (string | null)[]) => string,
  separator = '',
): PartWriter {
  let rows = 0;
  return {
    row(cells) {
      file.write((rows++ === 0 ? open : separator) + text(cells) + (separator === '' ? close : ''));
    },
    end: async () => {
      if (rows === 0) file.write(empty);
      else if (separator !== '') file.write(close);
    },
  };
}

function recordObject(headers: string[], cells: (string | null)[]): Record<string, string | number | null> {
  const o: Record<string, string | number | null> = {};
  headers.forEach((h, k) => {
    const c = cells[k]!;
    o[h] = c !== null && NUMBER_FIELDS.has(h) ? Number(c) : c;
  });
  return o;
}

/**
 * One case of Alibaba Cloud CCC's case list (a JSON array, one case a line), as
 * AddCases takes it: PhoneNumber, ReferenceId, and CustomVariables (a JSON object as text).
 */
function caseJson(headers: string[], cells: (string | null)[]): string {
  const { PhoneNumber, ReferenceId, CustomVariables } = recordObject(headers, cells);
  return JSON.stringify({ PhoneNumber, ReferenceId, CustomVariables });
}

/** Every zip entry's time: a fixed one, so that a rerun writes the same bytes (the library stamps the time of writing). */
const ZIP_EPOCH = new Date(Date.UTC(2000, 0, 1));

/**
 * Huawei CEC's Excel import: one sheet, the header row, every cell text (a phone
 * or an id as a number would lose digits), written with exceljs's streaming writer.
 * The zip is held until the end to fix its entry times (compressed, a tenth of the CSV).
 */
async function xlsxWriter(headers: string[], file: ChunkedFile, sheet: string): Promise<PartWriter> {
  // Loaded here, not with the module: loading exceljs takes longer than a small run, and only this profile needs it.
  const { default: ExcelJS } = await import('exceljs');
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream, useStyles: false, useSharedStrings: false });
  wb.creator = 'churnwatch';
  wb.created = ZIP_EPOCH;
  wb.modified = ZIP_EPOCH;
  const ws = wb.addWorksheet(sheet);
  ws.addRow(headers).commit();
  return {
    row(cells) {
      ws.addRow(cells.map((c) => c ?? '')).commit();
    },
    async end() {
      ws.commit();
      await wb.commit();
      file.writeBytes(fixZipTimes(Buffer.concat(chunks), ZIP_EPOCH));
    },
  };
}

/**
 * Sets the modification time of every entry of a zip file (local headers and the
 * central directory) to `when`: the library writes the time of writing, and two
 * runs of one night must give the same bytes.
 */
export function fixZipTimes(zip: Buffer, when: Date): Buffer {
  const time = (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | (when.getUTCSeconds() >> 1);
  const date = ((when.getUTCFullYear() - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate();
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new ChurnwatchError('CW_INTERNAL', 'the xlsx writer gave no zip directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let e = 0; e < entries; e++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new ChurnwatchError('CW_INTERNAL', 'the xlsx writer gave a broken zip directory');
    zip.writeUInt16LE(time, p + 12);
    zip.writeUInt16LE(date, p + 14);
    const local = zip.readUInt32LE(p + 42);
    zip.writeUInt16LE(time, local + 10);
    zip.writeUInt16LE(date, local + 12);
    p += 46 + zip.readUInt16LE(p + 28) + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return zip;
}
