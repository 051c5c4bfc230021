/**
 * A simulated call centre for `churnwatch generate --worked OUTDIR`: which tasks of
 * the nights published in OUTDIR it worked, and what came of each, so that a
 * generated set's contact_history.csv grows night after night as a real CRM's export
 * does and the contact policy and the ledger can be tried by hand.
 *
 * A night's tasks are read from its task files in any output profile's layout: CSV
 * (plain, excel-csv, genesys), JSONL, Alibaba CCC's JSON cases and Huawei CEC's Excel
 * sheet. The cells the write-back needs are found under the names of WRITE_BACK_COLUMNS,
 * also inside a cell that holds a JSON object (callData, CustomVariables); a layout that
 * does not carry the subscriber (Alibaba's cases) has it from the night's ledger.csv,
 * as a CRM resolves the reference id it was given. What happened
 * to a task is drawn from a hash of the seed, the night and the task id alone, so the
 * outcome of one task never depends on which other tasks were published or on the
 * order of the files, and a task carried to the next night gets a new draw there.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CONTACT_OUTCOMES } from '../contract/contract.js';
import { ChurnwatchError } from '../errors.js';
import { formatDay, parseDay } from '../util/dates.js';
import { hashString } from './prng.js';

/** One task of a published night as the call centre saw it. */
export interface WorkedTask {
  taskId: string;
  subscriberId: string;
  /** The contact channel as the CRM names it: `phone` for a call, `visit`, or `sms` for a task on SMS alone. */
  channel: string;
  /** Seconds after local midnight of the night's day when the callable window opens. */
  from: number;
  /** Seconds after local midnight by which the task is worked: the window's close, or the task's deadline when it falls that day. */
  until: number;
  /** Where the task was read, for messages: file and line. */
  file: string;
  line: number;
}

export interface WorkedNight {
  /** The night's run date D (day number): its tasks are worked during that day. */
  day: number;
  tasks: WorkedTask[];
}

/**
 * What the call centre reports for a task, in draw order, with shares in percent that
 * add up to 100. An unworked task writes no row. The requested date of a callback is
 * not written: contact_history has no column for it, and the pack's
 * `callback.after_days` stands for it.
 */
export const WORKED_OUTCOMES: readonly (readonly [outcome: (typeof CONTACT_OUTCOMES)[number] | null, percent: number])[] = [
  ['retained', 20],
  ['declined', 15],
  ['unreachable', 25],
  ['callback', 10],
  ['churned', 5],
  [null, 25],
];

/** The default pack's callable window (09:00-21:00), used when a task file does not say its own. */
const WINDOW: readonly [number, number] = [9 * 3600, 21 * 3600];

const DAY_DIR = /^\d{4}-\d{2}-\d{2}$/;
/** A full task file of any tier and channel, split or not; deltas repeat rows of the full files. */
const TASK_FILE = /^tasks-(?:high|mid|mass)-(call|sms|visit)(?:-\d{3})?\.(csv|jsonl|json|xlsx)$/;

/**
 * Where each output profile keeps what the write-back reads, first name found wins: the
 * task id as each tool's upsert key names it (plain and the record layouts, Genesys'
 * contact_id, Huawei CEC's sessionId, Alibaba CCC's ReferenceId), the deadline (Huawei's
 * recycleTime is local time without the offset), and the callable span. `nested` cells
 * hold more of these as a JSON object or its text. A test holds this against the
 * profiles' layouts, so a renamed column cannot go unread.
 */
export const WRITE_BACK_COLUMNS = {
  taskId: ['task_id', 'contact_id', 'sessionId', 'ReferenceId'],
  subscriberId: ['subscriber_id'],
  dueAt: ['due_at', 'recycleTime'],
  callableHours: ['callable_hours'],
  windowStart: ['window_start'],
  windowEnd: ['window_end'],
  nested: ['callData', 'CustomVariables'],
} as const;
/** When a task is in several channels' files, the contact an agent makes wins over the SMS. */
const CHANNEL_RANK: Record<string, number> = { visit: 0, call: 1, sms: 2 };
const CRM_CHANNEL: Record<string, string> = { visit: 'visit', call: 'phone', sms: 'sms' };

/**
 * The nights published in outRoot before D (folders named by date that hold a
 * manifest.json), oldest first, each with its tasks once, in file-name and row order.
 * A folder that does not exist yet holds none, as before the first night's run.
 */
export async function readWorkedNights(outRoot: string, D: number): Promise<WorkedNight[]> {
  let names: string[];
  try {
    names = readdirSync(outRoot).sort();
  } catch (err) {
    // No folder yet is the first night: nothing was worked before it.
    if ((err as { code?: unknown }).code === 'ENOENT') return [];
    throw new ChurnwatchError(
      'CW_INPUT_MISSING',
      `--worked ${outRoot} cannot be read as a folder; pass the --out folder of the runs whose tasks the call centre worked`,
      { file: outRoot },
    );
  }
  const nights: WorkedNight[] = [];
  for (const name of names) {
    if (!DAY_DIR.test(name)) continue;
    const day = parseDay(name);
    if (!(day < D) || !isFile(join(outRoot, name, 'manifest.json'))) continue;
    nights.push({ day, tasks: await readNightTasks(join(outRoot, name), name) });
  }
  return nights;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function readNightTasks(dir: string, night: string): Promise<WorkedTask[]> {
  const files = readdirSync(dir)
    .filter((f) => TASK_FILE.test(f))
    .sort();
  if (files.length === 0)
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${night}: no task files (tasks-<tier>-<channel>.csv, .jsonl, .json or .xlsx); --worked reads the folders that churnwatch run published`,
      { file: night },
    );
  const byId = new Map<string, WorkedTask>();
  const rank = new Map<string, number>();
  const ledger = ledgerSubscribers(dir, night);
  for (const f of files) {
    const [, channel, ext] = TASK_FILE.exec(f)!;
    const file = `${night}/${f}`;
    const bytes = readFileSync(join(dir, f));
    const r = CHANNEL_RANK[channel!]!;
    const visit = (cells: TaskCells) => {
      const task = workedTask(withNested(cells), CRM_CHANNEL[channel!]!, file, night, ledger);
      const was = rank.get(task.taskId);
      if (was !== undefined && was <= r) return;
      // Set again, a task keeps its first place in the map's order.
      byId.set(task.taskId, task);
      rank.set(task.taskId, r);
    };
    if (ext === 'xlsx') await eachXlsxRecord(bytes, file, visit);
    else (ext === 'csv' ? eachCsvRecord : eachJsonRecords)(bytes, file, visit);
  }
  return [...byId.values()];
}

/** The night's ledger.csv as task id → subscriber id, read when first asked (a layout without the subscriber). */
function ledgerSubscribers(dir: string, night: string): (taskId: string) => string | undefined {
  let byTask: Map<string, string> | null = null;
  return (taskId) => {
    if (byTask === null) {
      byTask = new Map();
      const path = join(dir, 'ledger.csv');
      if (existsSync(path)) {
        const map = byTask;
        eachCsvRecord(readFileSync(path), `${night}/ledger.csv`, (cells) => {
          const t = cells.get('task_id'),
            s = cells.get('subscriber_id');
          if (t !== undefined && s !== undefined) map.set(t, s);
        });
      }
    }
    return byTask.get(taskId);
  };
}

/** The row's cells, and the fields of its cells that hold a JSON object (or its text), under their own names. */
function withNested(cells: TaskCells): TaskCells {
  let inner: Record<string, unknown> | null = null;
  for (const holder of WRITE_BACK_COLUMNS.nested) {
    const text = cells.get(holder);
    if (text === undefined || !text.startsWith('{')) continue;
    try {
      inner = { ...(inner ?? {}), ...(JSON.parse(text) as Record<string, unknown>) };
    } catch {
      // A cell that is not the JSON it should be leaves its fields unread; the row's own cells still count.
    }
  }
  if (inner === null) return cells;
  const fields = inner;
  return {
    line: cells.line,
    get: (column) => cells.get(column) ?? (typeof fields[column] === 'string' ? (fields[column] as string) : undefined),
  };
}

/** The first of `names` the row has a non-empty cell for. */
function first(r: TaskCells, names: readonly string[]): string | undefined {
  for (const name of names) {
    const v = r.get(name);
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** The named cells of the task row being read, with the line it starts on (one object, reused row after row). */
interface TaskCells {
  line: number;
  get: (column: string) => string | undefined;
}

const TASK_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** A due time or a window's end: ISO with its offset, or Huawei's local "yyyy-mm-dd hh:mm:ss". */
const TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})/;
const HOURS = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;

function workedTask(
  r: TaskCells,
  channel: string,
  file: string,
  night: string,
  ledger: (taskId: string) => string | undefined,
): WorkedTask {
  const missing = (what: string, column: string): never => {
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${file}: line ${r.line}: ${what}; --worked reads the task files as churnwatch wrote them`,
      {
        file,
        line: r.line,
        column,
      },
    );
  };
  const taskId = first(r, WRITE_BACK_COLUMNS.taskId) ?? missing('no task id', WRITE_BACK_COLUMNS.taskId.join('|'));
  if (!TASK_ID.test(taskId))
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${file}: line ${r.line}: the task id is not a churnwatch task id; restore the published file`,
      {
        file,
        line: r.line,
        column: 'task_id',
      },
    );
  const subscriberId =
    first(r, WRITE_BACK_COLUMNS.subscriberId) ??
    ledger(taskId) ??
    missing("no subscriber_id, and the night's ledger.csv does not list the task", 'subscriber_id');
  let [from, until] = WINDOW;
  const hours = HOURS.exec(first(r, WRITE_BACK_COLUMNS.callableHours) ?? '');
  if (hours !== null) {
    from = Number(hours[1]) * 3600 + Number(hours[2]) * 60;
    until = Number(hours[3]) * 3600 + Number(hours[4]) * 60;
  } else {
    // A layout with the callable span instead: its start and end count where they fall on the night's day.
    const start = TIME.exec(first(r, WRITE_BACK_COLUMNS.windowStart) ?? '');
    if (start !== null && start[1] === night) from = Number(start[2]) * 3600 + Number(start[3]) * 60;
  }
  // due_at is a deadline: a task due during its own night's day (a reminder within hours, a retry at its hour) is worked by
  // then. A layout without it has the span's end, which is that deadline moved into the window.
  const due = TIME.exec(first(r, WRITE_BACK_COLUMNS.dueAt) ?? (hours === null ? first(r, WRITE_BACK_COLUMNS.windowEnd) : undefined) ?? '');
  if (due !== null && due[1] === night) until = Math.max(from + 60, Math.min(until, Number(due[2]) * 3600 + Number(due[3]) * 60));
  return { taskId, subscriberId, channel, from, until, file, line: r.line };
}

/**
 * Hands each data row of a CSV task file (RFC 4180, a UTF-8 BOM allowed) to visit,
 * its cells by header name. A night at 1M subscribers has about 250,000 task rows of
 * 20 cells: the rows are scanned as bytes (a quote, comma or line feed never occurs
 * inside a UTF-8 or GBK character) and only the cells asked for become strings.
 */
function eachCsvRecord(b: Buffer, file: string, visit: (cells: TaskCells) => void): void {
  const n = b.length;
  const fail = (line: number, what: string): never => {
    throw new ChurnwatchError('CW_CSV_MALFORMED', `${file}: line ${line}: ${what}; restore the published file`, { file, line });
  };
  let starts: number[] = [],
    ends: number[] = [],
    quoted: boolean[] = [];
  let at = new Map<string, number>();
  let header = true;
  const cell = (k: number): string => {
    const v = b.toString('utf8', starts[k]!, ends[k]!);
    return quoted[k] ? v.replaceAll('""', '"') : v;
  };
  const cells: TaskCells = {
    line: 0,
    get: (column) => (at.has(column) && at.get(column)! < starts.length ? cell(at.get(column)!) : undefined),
  };
  let line = 1;
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < n) {
    const first = line;
    starts = [];
    ends = [];
    quoted = [];
    for (;;) {
      let s = i,
        e: number;
      const q = b[i] === 0x22;
      if (q) {
        s = i + 1;
        let j = s;
        for (;;) {
          const k = b.indexOf(0x22, j);
          if (k < 0) fail(first, 'a quoted cell is not closed');
          if (b[k + 1] === 0x22) j = k + 2;
          else {
            e = k;
            break;
          }
        }
        for (let p = b.indexOf(0x0a, s); p >= 0 && p < e; p = b.indexOf(0x0a, p + 1)) line++;
        i = e + 1;
      } else {
        while (i < n && b[i] !== 0x2c && b[i] !== 0x0a) i++;
        e = i > s && b[i - 1] === 0x0d ? i - 1 : i;
      }
      starts.push(s);
      ends.push(e);
      quoted.push(q);
      if (b[i] === 0x2c) {
        i++;
        continue;
      }
      if (q && b[i] === 0x0d) i++;
      if (i < n && b[i] !== 0x0a) fail(line, 'text after a quoted cell');
      i++;
      line++;
      break;
    }
    if (starts.length === 1 && ends[0] === starts[0] && !quoted[0]) continue; // a blank line
    if (header) {
      at = new Map(starts.map((_, k) => [cell(k), k]));
      header = false;
      continue;
    }
    cells.line = first;
    visit(cells);
  }
}

/**
 * Hands each object of a JSONL task file (one a line), or of a JSON array written an
 * object a line (Alibaba CCC's cases), to visit, with the line it is on.
 */
function eachJsonRecords(b: Buffer, file: string, visit: (cells: TaskCells) => void): void {
  let row: Record<string, unknown> = {};
  const cells: TaskCells = { line: 0, get: (column) => (typeof row[column] === 'string' ? (row[column] as string) : undefined) };
  b.toString('utf8')
    .split('\n')
    .forEach((raw, k) => {
      const l = raw.trim().replace(/,$/, '');
      // The brackets of an array on their own lines.
      if (l === '' || l === '[' || l === ']' || l === '[]') return;
      let o: unknown;
      try {
        o = JSON.parse(l);
      } catch {
        o = null;
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o))
        throw new ChurnwatchError('CW_CSV_MALFORMED', `${file}: line ${k + 1}: not a JSON object; restore the published file`, {
          file,
          line: k + 1,
        });
      row = o as Record<string, unknown>;
      cells.line = k + 1;
      visit(cells);
    });
}

/** Hands each data row of the first sheet of an Excel task file (Huawei CEC's import) to visit, its cells by header. */
async function eachXlsxRecord(b: Buffer, file: string, visit: (cells: TaskCells) => void): Promise<void> {
  // Loaded here: exceljs takes longer to load than a small night takes to read, and only this layout needs it.
  const { default: ExcelJS } = await import('exceljs');
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(b as unknown as ArrayBuffer);
  } catch {
    throw new ChurnwatchError('CW_CSV_MALFORMED', `${file}: not a readable Excel workbook; restore the published file`, { file });
  }
  const sheet = wb.worksheets[0];
  if (sheet === undefined) return;
  const at = new Map<string, number>();
  let values: unknown[] = [];
  const cells: TaskCells = {
    line: 0,
    get: (column) => {
      const k = at.get(column);
      const v = k === undefined ? undefined : values[k];
      return v === undefined || v === null ? undefined : String(v);
    },
  };
  sheet.eachRow({ includeEmpty: false }, (row, line) => {
    // exceljs numbers a row's cells from 1.
    const v = row.values as unknown[];
    if (at.size === 0) {
      v.forEach((h, k) => {
        if (typeof h === 'string') at.set(h, k);
      });
      return;
    }
    values = v;
    cells.line = line;
    visit(cells);
  });
}

/**
 * What the call centre did with a task on its night: the outcome (null when nobody
 * worked it) and the second of the day it was recorded, inside [task.from, task.until).
 */
export function workedContact(
  seed: string,
  night: number,
  task: WorkedTask,
): { outcome: (typeof CONTACT_OUTCOMES)[number] | null; second: number } {
  const [a, b] = hashString(`churnwatch-generate/${seed}/worked/${formatDay(night)}/${task.taskId}`);
  let p = a % 100;
  let outcome: (typeof CONTACT_OUTCOMES)[number] | null = null;
  for (const [o, percent] of WORKED_OUTCOMES) {
    if (p < percent) {
      outcome = o;
      break;
    }
    p -= percent;
  }
  return { outcome, second: task.from + (b % Math.max(1, task.until - task.from)) };
}
