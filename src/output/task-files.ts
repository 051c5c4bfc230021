/**
 * Plain task files rendered, hashed and written on a worker thread beside the main
 * thread: the largest tier's, and any other tier's the worker is free for first,
 * while the main thread writes the ledger, the policy files and the tiers left. After
 * the score stage the second core otherwise only runs the score-files worker.
 *
 * The thread starts at the end of the score stage, with the columns the rows read in
 * shared memory: what TASK_COLUMN_SPEC's cells read (handed over as they are where
 * they were made there, else copied once), the reason texts' features gathered to
 * the subscribers who hit a rule, the last contacts. It boots while the main thread
 * applies the contact policy, and renders meanwhile what the largest tier's rows take
 * from their subscribers alone (tasks.ts SubscriberCells: what the policy decides
 * changes none of it); then it is offered each tier's plan and channel rows
 * and renders those it takes with the same code as the main thread (plain-tasks.ts
 * writePlain: the same bytes), copies a delta that equals its full file, waits for
 * the fsyncs and posts the records. Its error comes back as data and is thrown from
 * records(); the run waits for the thread to be gone before it removes a failed
 * publication's folder (settle()).
 *
 * The rules' reason texts cross as text and are compiled again there (a compiled
 * function cannot be posted); a rule there carries everything but its compiled
 * condition, which rendering never runs.
 */
import { templatePart, type Channel, type RuleDef, type TemplatePart } from '../config/rulepack.js';
import { TIERS, type ColumnMeasure } from '../contract/contract.js';
import { deserializeError, type SerializedError } from '../errors.js';
import type { FeatureTable } from '../features/features.js';
import type { Column, FeatureColumn } from '../rules/compile.js';
import { maskingOf, type Masking, type TaskPlan } from '../tasks/plan.js';
import {
  DEFAULT_TASK_PROFILE,
  reasonFeatures,
  renderInput,
  SubscriberCells,
  type RenderInput,
  type TaskInput,
  type TaskProfile,
} from '../tasks/tasks.js';
import { CodedText, TextColumn } from '../util/text-column.js';
import { compiledWorker, sharedColumns, startForResult, type WorkerThread } from '../util/worker.js';
import type { OutputRecord, PublicationPlace } from './publish.js';
import { wantWorker } from './score-files.js';

/** What the worker starts with: where the files go, and the columns rendering reads. */
export interface TaskFilesStart {
  place: PublicationPlace;
  /** The next job to take after the first, which is the worker's (either thread adds 1 to it, Atomics.add, to take one). */
  next: Int32Array;
  D: number;
  texts: ({ name: string } & PostedText)[];
  /** Dictionary-coded columns: each row's code into its dictionary. */
  coded: { name: string; codes: Uint16Array | Uint32Array; dict: PostedText }[];
  numbers: { name: string; values: Float64Array }[];
  /** Feature columns by key; `unit` for a measure's scaled sums, null for a plain column. */
  features: { key: string; values: Column; unit: number | null }[];
  /** Subscriber → row of the feature columns, -1 for one who hit no rule. */
  featureRows: Int32Array;
  /** The rows of the feature columns: the flagged subscribers. */
  flagged: number;
  n: number;
  contacts: { lastContact: Float32Array; lastOutcome: Uint8Array } | null;
  /** The pack's own measures: the reason texts are compiled with them. */
  measures: ColumnMeasure[];
  /** Each subscriber's tier (Scores.tier), and the masking of the files: the largest tier's subscriber cells are rendered ahead. */
  tier: Uint8Array;
  masking: Masking;
}

/** A text column as it crosses. */
interface PostedText {
  bytes: Uint8Array;
  offsets: Int32Array;
  length: number;
}

/** A rule as it crosses: its data, and its reason text's expressions as text. */
type PostedRule = Omit<RuleDef, 'compiled' | 'features' | 'texts' | 'reason'> & { reason: (string | { expr: string })[] };

export type PostedPlan = Omit<TaskPlan, 'rules'> & { rules: PostedRule[] };

/**
 * First how many tiers the night has (0: none, the worker ends), then each tier's
 * job in the order the threads take them (q = 0, 1, ...).
 */
export type ToTaskFilesWorker = { type: 'tiers'; count: number } | ({ type: 'job'; q: number } & PostedJob);

/** A tier to write: its plan and its rows per channel (the ledger's deltas with `withDelta`). */
export interface TierJob {
  tier: number;
  plan: TaskPlan;
  rows: Record<Channel, Int32Array>;
  withDelta: boolean;
}

type PostedJob = Omit<TierJob, 'plan'> & { plan: PostedPlan };

/** The records of a tier's full files and of its deltas, in the order writePlain made them. */
export interface TierRecords {
  tier: number;
  full: OutputRecord[];
  deltas: OutputRecord[];
}

export type FromTaskFilesWorker = { type: 'done'; tiers: TierRecords[] } | { type: 'error'; error: SerializedError };

/** The worker script, or null when this module runs from sources that were not compiled. */
function taskFilesWorkerUrl(): URL | null {
  return compiledWorker(import.meta.url, 'task-files-worker.js');
}

/**
 * The feature columns the reason texts read, for the subscribers who hit a rule (only
 * they get tasks) and no others: the whole columns would be some 80 bytes a
 * subscriber (0.8 GB at 10M). In shared memory, with the map from a subscriber to its
 * row (-1: none), as FeatureTable.rows has it.
 */
function flaggedFeatures(
  input: FlaggedOf,
  gathered?: (key: string) => void,
): { rows: Int32Array; flagged: number; features: TaskFilesStart['features'] } {
  const hits = input.scores.hits,
    n = hits.length,
    from = input.features.rows;
  const rows = new Int32Array(new SharedArrayBuffer(n * 4));
  let m = 0;
  for (let i = 0; i < n; i++) rows[i] = hits[i] === 0 ? -1 : m++;
  // Row k's place in the feature columns as they are.
  const at = new Int32Array(m);
  for (let i = 0; i < n; i++) if (rows[i]! >= 0) at[rows[i]!] = from === undefined ? i : from[i]!;
  const features = reasonFeatures(input.evaluation.rules).map((key) => {
    const c = input.features.columns.get(key);
    if (c === undefined) throw new Error(`internal: feature ${key} was not computed`);
    const whole = 'unit' in c ? c.values : c;
    const Kind = whole.constructor as new (buffer: SharedArrayBuffer) => Column;
    const values = new Kind(new SharedArrayBuffer(Math.max(1, m) * whole.BYTES_PER_ELEMENT));
    gather(values, whole, at);
    gathered?.(key);
    return { key, values, unit: 'unit' in c ? c.unit : null };
  });
  return { rows, flagged: m, features };
}

/**
 * The feature columns the reason texts read, for the flagged subscribers only, as a
 * feature table over them (its `rows` map a subscriber to its row): what rendering needs
 * of the features, at some 20 bytes a flagged subscriber instead of the whole columns.
 * `gathered` is told each column's key once its rows are copied (the caller may let the
 * whole column go then).
 */
export function flaggedFeatureTable(input: FlaggedOf, gathered?: (key: string) => void): FeatureTable {
  const flagged = flaggedFeatures(input, gathered);
  const table = featureTableOf(input.features.n, flagged.features, flagged.rows);
  GATHERED.set(table, flagged);
  return table;
}

/** What the flagged rows are gathered from: the whole feature table, who hit a rule, and which features the reasons read. */
type FlaggedOf = Pick<TaskInput, 'features' | 'scores' | 'evaluation'>;

/** The tables flaggedFeatureTable made: a worker started with one gets its columns as they are, not gathered again. */
const GATHERED = new WeakMap<FeatureTable, FlaggedFeatures>();

type FlaggedFeatures = ReturnType<typeof flaggedFeatures>;

function featureTableOf(n: number, features: TaskFilesStart['features'], rows: Int32Array): FeatureTable {
  const columns = new Map<string, FeatureColumn>(
    features.map((f) => [f.key, f.unit === null ? f.values : { values: f.values as Int32Array | Float64Array, unit: f.unit }]),
  );
  return { n, columns, rows };
}

/** out[k] = whole[at[k]]: one loop per column, over the flagged only. */
function gather(out: Column, whole: Column, at: Int32Array): void {
  for (let k = 0; k < at.length; k++) out[k] = whole[at[k]!]!;
}

type PostedArray = Column | Uint16Array | Uint32Array;

/** The columns `input`'s task files read, in shared memory (each array once, however many columns read it). */
export function toWorkerStart(place: PublicationPlace, input: TaskInput, profile: TaskProfile = DEFAULT_TASK_PROFILE): TaskFilesStart {
  const render = renderInput(input);
  const arrays: PostedArray[] = [];
  const index = new Map<PostedArray, number>();
  const put = (a: PostedArray) => {
    if (!index.has(a)) index.set(a, arrays.push(a) - 1);
  };
  // Of a text column only what is in use: its buffers may have room to spare.
  const spans = new Map<TextColumn, { bytes: Uint8Array; offsets: Int32Array }>();
  const putText = (col: TextColumn) => {
    if (spans.has(col)) return;
    const span = { bytes: col.bytes.subarray(0, col.offsets[col.length]!), offsets: col.offsets.subarray(0, col.length + 1) };
    spans.set(col, span);
    put(span.bytes);
    put(span.offsets);
  };
  for (const col of render.columns.values()) {
    if (col instanceof TextColumn) putText(col);
    else if (col instanceof CodedText) {
      put(col.codes);
      putText(col.dict);
    } else put(col);
  }
  const { rows, flagged, features } = GATHERED.get(input.features) ?? flaggedFeatures(input);
  const contacts = input.contacts;
  if (contacts !== null) {
    put(contacts.lastContact);
    put(contacts.lastOutcome);
  }
  put(input.scores.tier);
  const shared = sharedColumns(arrays);
  const at = <T extends PostedArray>(a: T): T => shared[index.get(a)!] as T;
  const posted = (col: TextColumn): PostedText => {
    const span = spans.get(col)!;
    return { bytes: at(span.bytes), offsets: at(span.offsets), length: col.length };
  };
  const texts: TaskFilesStart['texts'] = [];
  const coded: TaskFilesStart['coded'] = [];
  const numbers: TaskFilesStart['numbers'] = [];
  for (const [name, col] of render.columns) {
    if (col instanceof TextColumn) texts.push({ name, ...posted(col) });
    else if (col instanceof CodedText) coded.push({ name, codes: at(col.codes), dict: posted(col.dict) });
    else numbers.push({ name, values: at(col) });
  }
  return {
    place,
    next: new Int32Array(new SharedArrayBuffer(4)).fill(1),
    D: input.D,
    texts,
    coded,
    numbers,
    features,
    featureRows: rows,
    flagged,
    n: input.features.n,
    contacts: contacts === null ? null : { lastContact: at(contacts.lastContact), lastOutcome: at(contacts.lastOutcome) },
    measures: input.pack.measures,
    tier: at(input.scores.tier),
    masking: maskingOf(profile),
  };
}

/**
 * The render input on the worker, over the shared columns, with the subscriber cells
 * of the tier with the most flagged subscribers (the largest tier, the worker's first
 * job, unless the policy drops most of it) rendered ahead: the worker makes it while
 * the main thread applies the policy.
 */
export function renderInputOf(start: TaskFilesStart): RenderInput {
  const input = plainRenderInputOf(start);
  if (start.n >= RENDER_AHEAD_BELOW) return input;
  const { tier, subscribers } = largestFlaggedTier(start);
  if (subscribers.length > 0) input.cells = SubscriberCells.render(input, TIERS[tier]!, start.masking, subscribers, start.flagged);
  return input;
}

/**
 * From this many subscribers the largest tier's cells are not rendered ahead: they are
 * ~70 bytes a subscriber of the tier and an index, held by the worker for the whole
 * write stage (~0.25 GB at 10M, at the night's peak then). Each row of the tier is then
 * rendered as it is written, as the rows of every other tier are.
 */
const RENDER_AHEAD_BELOW = 1 << 22;

/** The flagged subscribers (ascending) of the tier that has most of them. */
function largestFlaggedTier(start: TaskFilesStart): { tier: number; subscribers: Int32Array } {
  const rows = start.featureRows,
    tiers = start.tier;
  const counts = TIERS.map(() => 0);
  for (let i = 0; i < rows.length; i++) if (rows[i]! >= 0) counts[tiers[i]!]!++;
  const tier = counts.indexOf(Math.max(...counts));
  const subscribers = new Int32Array(counts[tier]!);
  let q = 0;
  for (let i = 0; i < rows.length; i++) if (rows[i]! >= 0 && tiers[i] === tier) subscribers[q++] = i;
  return { tier, subscribers };
}

function plainRenderInputOf(start: TaskFilesStart): RenderInput {
  const columns = new Map<string, TextColumn | CodedText | Float64Array>();
  const text = (t: PostedText) => new TextColumn(t.bytes, t.offsets, t.length);
  for (const t of start.texts) columns.set(t.name, text(t));
  for (const c of start.coded) columns.set(c.name, new CodedText(c.codes, text(c.dict)));
  for (const x of start.numbers) columns.set(x.name, x.values);
  return { D: start.D, columns, features: featureTableOf(start.n, start.features, start.featureRows), contacts: start.contacts };
}

/** A typed array that is all of its buffer: posting a view would copy the whole buffer behind it. */
function own<T extends Uint8Array | Int32Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}

export function postPlan(plan: TaskPlan): PostedPlan {
  const rules = plan.rules.map(
    ({ compiled: _c, features: _f, texts: _t, reason, ...data }): PostedRule => ({
      ...data,
      reason: reason.map((p) => (typeof p === 'string' ? p : { expr: p.expr })),
    }),
  );
  return {
    ...plan,
    subscriber: own(plan.subscriber),
    hitSet: own(plan.hitSet),
    taskIdBytes: plan.taskIdBytes === null ? null : own(plan.taskIdBytes),
    rank: plan.rank === null ? null : own(plan.rank),
    rules,
  };
}

/** The plan on the worker, its reason texts compiled again with the pack's measures. */
export function planOf(posted: PostedPlan, measures: readonly ColumnMeasure[]): TaskPlan {
  const rules = posted.rules.map((r) => {
    const reason = r.reason.map(
      (p, k): TemplatePart => (typeof p === 'string' ? p : templatePart(p.expr, measures, `rules.${r.id}.reason[${k}]`)),
    );
    return { ...r, reason, texts: {}, features: new Map() } as unknown as RuleDef;
  });
  return { ...posted, rules };
}

/**
 * The worker that writes plain task files beside the main thread. The main thread
 * plans the tiers and offers each (offer(), largest first); the worker writes the
 * first (the largest) as soon as it is offered, and takes the next whenever it is
 * free; the main thread takes those left (take()) once its own files are written.
 * Which thread writes a tier changes no byte of it.
 */
export class TaskFilesThread {
  private readonly thread: WorkerThread;
  private readonly next: Int32Array;
  private readonly outcome: Promise<TierRecords[] | Error>;
  private count = -1;

  /**
   * Starts the worker for `input`'s task files (the policy's parts of it are not
   * needed yet), or returns null where it would not pay: a small run, one core, or
   * sources that were not compiled (then the main thread writes every tier).
   * `parallel` decides instead of the run's size (as for the score files).
   */
  static start(place: PublicationPlace, input: TaskInput, parallel?: boolean, profile?: TaskProfile): TaskFilesThread | null {
    const url = wantWorker(input.subscribers.ids.length, parallel) ? taskFilesWorkerUrl() : null;
    return url === null ? null : new TaskFilesThread(url, toWorkerStart(place, input, profile));
  }

  private constructor(url: URL, start: TaskFilesStart) {
    const { thread, result } = startForResult<FromTaskFilesWorker>(url, start, 'task-files worker');
    this.thread = thread;
    this.next = start.next;
    this.outcome = result.then((m) => (m instanceof Error ? m : m.type === 'done' ? m.tiers : deserializeError(m.error)));
  }

  /** Says how many jobs will be offered (once, before the first). */
  begin(count: number): void {
    if (this.count >= 0) throw new Error('internal: the task-files worker was already told its jobs');
    this.count = count;
    const message: ToTaskFilesWorker = { type: 'tiers', count };
    this.thread.post(message);
  }

  /** Offers job q (0, 1, ... in order). */
  offer(q: number, job: TierJob): void {
    const message: ToTaskFilesWorker = { type: 'job', q, ...job, plan: postPlan(job.plan) };
    this.thread.post(message);
  }

  /** The next job no thread has taken, for this thread to write; -1 when none is left. */
  take(): number {
    const q = Atomics.add(this.next, 0, 1);
    return q < this.count ? q : -1;
  }

  /** The records of the tiers the worker wrote, once written, copied and synced; throws its failure. */
  async records(): Promise<TierRecords[]> {
    const o = await this.outcome;
    if (o instanceof Error) throw o;
    return o;
  }

  /**
   * Ends the worker whatever happened (told there is nothing to write if it was told
   * nothing yet) and waits until it is gone: for a run that failed and is about to
   * remove the folder. Never rejects.
   */
  async settle(): Promise<void> {
    if (this.count < 0) this.begin(0);
    await this.outcome;
  }
}
