/**
 * A simulated call centre for `churnwatch generate --worked OUTDIR`: which tasks of
 * the nights published in OUTDIR it worked, and what came of each, so that a
 * generated set's contact_history.csv grows night after night as a real CRM's export
 * does and the contact policy and the ledger can be tried by hand.
 *
 * A night's tasks are read from its task files in the layouts that carry the
 * subscriber and the due time as named cells (plain, excel-csv, jsonl). What happened
 * to a task is drawn from a hash of the seed, the night and the task id alone, so the
 * outcome of one task never depends on which other tasks were published or on the
 * order of the files, and a task carried to the next night gets a new draw there.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
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
const TASK_FILE = /^tasks-(?:high|mid|mass)-(call|sms|visit)(?:-\d{3})?\.(csv|jsonl)$/;
/** When a task is in several channels' files, the contact an agent makes wins over the SMS. */
const CHANNEL_RANK: Record<string, number> = { visit: 0, call: 1, sms: 2 };
const CRM_CHANNEL: Record<string, string> = { visit: 'visit', call: 'phone', sms: 'sms' };

/**
 * The nights published in outRoot before D (folders named by date that hold a
 * manifest.json), oldest first, each with its tasks once, in file-name and row order.
 * A folder that does not exist yet holds none, as before the first night's run.
 */
export function readWorkedNights(outRoot: string, D: number): WorkedNight[] {
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
    nights.push({ day, tasks: readNightTasks(join(outRoot, name), name) });
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

function readNightTasks(dir: string, night: string): WorkedTask[] {
  const files = readdirSync(dir)
    .filter((f) => TASK_FILE.test(f))
    .sort();
  if (files.length === 0)
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${night}: no task files in the plain, excel-csv or jsonl layout; --worked reads those (run the nights with output.profile plain, the default, or one of them)`,
      { file: night },
    );
  const byId = new Map<string, WorkedTask>();
  const rank = new Map<string, number>();
  for (const f of files) {
    const [, channel, ext] = TASK_FILE.exec(f)!;
    const file = `${night}/${f}`;
    const bytes = readFileSync(join(dir, f));
    const r = CHANNEL_RANK[channel!]!;
    (ext === 'csv' ? eachCsvRecord : eachJsonlRecord)(bytes, file, (cells) => {
      const task = workedTask(cells, CRM_CHANNEL[channel!]!, file, night);
      const was = rank.get(task.taskId);
      if (was !== undefined && was <= r) return;
      // Set again, a task keeps its first place in the map's order.
      byId.set(task.taskId, task);
      rank.set(task.taskId, r);
    });
  }
  return [...byId.values()];
}

/** The named cells of the task row being read, with the line it starts on (one object, reused row after row). */
interface TaskCells {
  line: number;
  get: (column: string) => string | undefined;
}

const TASK_ID = /^[A-Za-z0-9_-]{1,32}$/;
const DUE = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})/;
const HOURS = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;

function workedTask(r: TaskCells, channel: string, file: string, night: string): WorkedTask {
  const need = (column: string): string => {
    const v = r.get(column);
    if (v === undefined || v === '')
      throw new ChurnwatchError(
        'CW_CSV_MALFORMED',
        `${file}: line ${r.line}: no ${column}; --worked reads the task files as churnwatch wrote them`,
        {
          file,
          line: r.line,
          column,
        },
      );
    return v;
  };
  const taskId = need('task_id');
  if (!TASK_ID.test(taskId))
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${file}: line ${r.line}: task_id is not a churnwatch task id; restore the published file`,
      {
        file,
        line: r.line,
        column: 'task_id',
      },
    );
  const subscriberId = need('subscriber_id');
  let [from, until] = WINDOW;
  const hours = HOURS.exec(r.get('callable_hours') ?? '');
  if (hours !== null) {
    from = Number(hours[1]) * 3600 + Number(hours[2]) * 60;
    until = Number(hours[3]) * 3600 + Number(hours[4]) * 60;
  }
  // due_at is a deadline: a task due during its own night's day (a reminder within hours, a retry at its hour) is worked by then.
  const due = DUE.exec(r.get('due_at') ?? '');
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

/** Hands each row of a JSONL task file (one object a line) to visit. */
function eachJsonlRecord(b: Buffer, file: string, visit: (cells: TaskCells) => void): void {
  let row: Record<string, unknown> = {};
  const cells: TaskCells = { line: 0, get: (column) => (typeof row[column] === 'string' ? (row[column] as string) : undefined) };
  b.toString('utf8')
    .split('\n')
    .forEach((l, k) => {
      if (l.trim() === '') return;
      let o: unknown;
      try {
        o = JSON.parse(l);
      } catch {
        o = null;
      }
      if (o === null || typeof o !== 'object')
        throw new ChurnwatchError('CW_CSV_MALFORMED', `${file}: line ${k + 1}: not a JSON object; restore the published file`, {
          file,
          line: k + 1,
        });
      row = o as Record<string, unknown>;
      cells.line = k + 1;
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
