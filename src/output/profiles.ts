/**
 * Output profiles: the layouts of the task files, chosen by output.profile in the
 * run configuration. `plain` is the task files as they always were (one CSV per
 * tier, tasks.ts). Every other profile writes one file per tier and channel (a
 * dialer dials every row it imports, so SMS rows never share a file with calls),
 * from the task records (tasks/records.ts), in its tool's columns, phone form and
 * time format, split into numbered parts at its row limit. docs/dialers.md gives
 * each profile's mapping and the source of each limit.
 */
import type { RecordFieldName } from '../tasks/records.js';
import { ChurnwatchError } from '../errors.js';
import { toNational } from '../util/phone.js';

export type { ExcelEncoding, OutputProfileName } from '../config/run-config.js';
import type { OutputProfileName } from '../config/run-config.js';

/**
 * How a record field goes into a tool's column:
 * - national: the phone without the country code (domestic tools);
 * - called: a phone as Huawei CEC's called numbers, a JSON array of one {"calledNo": national};
 * - local-time: "yyyy-mm-dd hh:mm:ss" in the pack's time zone, without the offset;
 * - json-object: the record fields `fields` as one JSON object (a tool's one column of
 *   call data or custom variables), numbers as JSON numbers;
 * - json-text: the same object written as a JSON string (a tool whose API takes the object as text).
 */
export type ColumnForm = 'as-is' | 'national' | 'called' | 'local-time' | 'json-object' | 'json-text';

export interface ProfileColumn {
  header: string;
  field: RecordFieldName;
  form: ColumnForm;
  /** json-object, json-text: the record fields in the object. */
  fields?: RecordFieldName[];
}

export interface ProfileLayout {
  format: 'csv' | 'jsonl' | 'xlsx' | 'json';
  extension: string;
  /** The tool's published rows per file (null: none); output.max_rows_per_file may lower it. */
  maxRows: number | null;
  /** null: every record field under its own name. */
  columns: ProfileColumn[] | null;
  /** The longest task id the tool takes. */
  maxIdLength: number;
  /** The most characters a cell takes (longer free text is cut, ending in '…'); null: no limit. */
  maxCellChars: number | null;
  /** The most properties of a json-object or json-text column. */
  maxProperties?: number;
  /** The phone column the tool dials, and the form it must have (checked per row). */
  phone: { header: string; pattern: RegExp } | null;
}

const col = (header: string, field: RecordFieldName, form: ColumnForm = 'as-is'): ProfileColumn => ({ header, field, form });

/** The fields an agent reads on screen, under their record names: the tail of every tool's layout. */
const AGENT_FIELDS: RecordFieldName[] = [
  'priority',
  'campaign',
  'task_type',
  'channel',
  'tier',
  'rank',
  'subscriber_id',
  'name',
  'region',
  'manager_id',
  'queue',
  'reason_codes',
  'title',
  'reason_text',
  'actions',
  'step',
  'state',
];

/** A sheet holds 1,048,576 rows, one of them the header. */
const EXCEL_MAX_ROWS = 1_048_575;
const E164 = /^\+[1-9]\d{7,14}$/;
const NATIONAL = /^\+?\d{5,20}$/;

export const PROFILE_LAYOUTS: Record<Exclude<OutputProfileName, 'plain'>, ProfileLayout> = {
  'excel-csv': {
    format: 'csv',
    extension: 'csv',
    maxRows: EXCEL_MAX_ROWS,
    columns: null,
    maxIdLength: 32,
    maxCellChars: null,
    phone: null,
  },
  jsonl: { format: 'jsonl', extension: 'jsonl', maxRows: null, columns: null, maxIdLength: 32, maxCellChars: null, phone: null },
  // help.mypurecloud.com/articles/create-new-contact-list/: a million contacts per list, 50 columns, 512 characters a cell.
  genesys: {
    format: 'csv',
    extension: 'csv',
    maxRows: 1_000_000,
    maxIdLength: 32,
    maxCellChars: 512,
    phone: { header: 'phone', pattern: E164 },
    columns: [
      col('contact_id', 'task_id'),
      col('phone', 'msisdn_e164'),
      col('time_zone', 'time_zone'),
      ...AGENT_FIELDS.map((f) => col(f, f)),
      col('due_at', 'due_at'),
      col('window_start', 'window_start'),
      col('window_end', 'window_end'),
      col('attempt_limit', 'attempt_limit'),
    ],
  },
  // support.huaweicloud.com/intl/en-us/api-cec/cec_07_0766.html, the outbound call data template: sessionId (at most
  // 32 characters), called (a JSON array of {calledNo}), callData (at most 1,024 characters, JSON recommended),
  // customField (at most 200), recycleTime (yyyy-mm-dd hh:mm:ss). Call windows and attempts are the campaign's settings,
  // so they travel in callData for the agent's screen.
  'huawei-cec': {
    format: 'xlsx',
    extension: 'xlsx',
    maxRows: EXCEL_MAX_ROWS,
    maxIdLength: 32,
    maxCellChars: 1024,
    phone: { header: 'called', pattern: /^\[\{"calledNo":"\+?\d{5,20}"\}\]$/ },
    columns: [
      col('sessionId', 'task_id'),
      col('called', 'msisdn', 'called'),
      {
        header: 'callData',
        field: 'task_id',
        form: 'json-object',
        fields: [...AGENT_FIELDS, 'due_at', 'window_start', 'window_end', 'attempt_limit'],
      },
      col('customField', 'campaign'),
      col('recycleTime', 'due_at', 'local-time'),
    ],
  },
  // help.aliyun.com/zh/ccs/developer-reference/api-ccc-2020-07-01-addcases: a case is ReferenceId, PhoneNumber and
  // CustomVariables, a JSON object of at most 10 properties passed as text.
  'alibaba-ccc': {
    format: 'json',
    extension: 'json',
    maxRows: 100_000,
    maxIdLength: 32,
    maxCellChars: null,
    maxProperties: 10,
    phone: { header: 'PhoneNumber', pattern: NATIONAL },
    columns: [
      col('ReferenceId', 'task_id'),
      col('PhoneNumber', 'msisdn', 'national'),
      {
        header: 'CustomVariables',
        field: 'task_id',
        form: 'json-text',
        fields: ['task_type', 'state', 'tier', 'priority', 'name', 'title', 'reason_text', 'actions', 'window_start', 'window_end'],
      },
    ],
  },
};

/** "2026-11-25T08:00:00+08:00" → "2026-11-25 08:00:00". */
export function localTimeOf(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** A record value in a column's form. */
export function columnValue(form: ColumnForm, value: string | null, e164: string | null, countryCode: string): string | null {
  if (value === null) return null;
  switch (form) {
    case 'as-is':
      return value;
    case 'local-time':
      return localTimeOf(value);
    case 'national':
      return nationalOf(value, e164, countryCode);
    case 'called':
      return JSON.stringify([{ calledNo: nationalOf(value, e164, countryCode) }]);
    case 'json-object':
    case 'json-text':
      throw new ChurnwatchError('CW_INTERNAL', 'a JSON column is made from several fields, not one');
  }
}

/** The number without the country code when it is this country's, else as the extract gives it. */
function nationalOf(value: string, e164: string | null, countryCode: string): string {
  return e164 === null ? value : toNational(e164, countryCode);
}

/** The rows per file of a layout: its tool's limit, lowered by output.max_rows_per_file. */
export function rowLimit(layout: ProfileLayout, configured: number | undefined): number | null {
  if (configured === undefined) return layout.maxRows;
  return layout.maxRows === null ? configured : Math.min(layout.maxRows, configured);
}

/**
 * The name of part k (0-based) of a file of tasks (`stem`: tier and channel, and
 * `-delta` for the night's new and escalated tasks): numbered from 001 whenever the
 * profile has a row limit (so an importer finds the same names every night, however
 * many rows there are), plain otherwise.
 */
export function partName(stem: string, extension: string, limited: boolean, k: number): string {
  return limited ? `tasks-${stem}-${String(k + 1).padStart(3, '0')}.${extension}` : `tasks-${stem}.${extension}`;
}
