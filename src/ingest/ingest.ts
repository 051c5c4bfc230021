/**
 * Reads the extracts a rule pack needs, folding each into per-subscriber arrays.
 * Optional extracts (do_not_call, contact_history) are read when present.
 *
 * The reading threads: `input.workers` (--workers, default the available cores),
 * the main thread counting as one. With more than one, and inputs large enough to
 * pay for a thread, the work is shared out (parallel.ts):
 * - subscribers.csv is cut into byte ranges too, one per thread: each thread scans its
 *   range for ids and attributes, the main thread joins the scans, indexes the ids and
 *   sends the shared id table to the workers, which hash files until it comes
 *   (subscriber-ranges.ts). A file that cannot be cut (gzip, too small) is read as
 *   before: the first worker reads its ids into the table, the main thread meanwhile
 *   its attributes (the strings the task files need);
 * - the main thread then runs its share of the fact jobs, then the do-not-call list,
 *   and merges each cut file as soon as its ranges are done;
 * - the measure extracts (billing_monthly, usage_daily) are cut into byte ranges,
 *   one per reading thread, each a job (the first also hashes the whole file,
 *   ranges.ts, unless a worker ran the file's hash job while it waited for the id
 *   table); the other fact extracts are one job each.
 * Which job goes where follows from the sizes. The results are the same as reading
 * everything in order in one thread: rows, rejects (in file order, files in the
 * usual order), stats and errors (the error of the earliest extract in that order
 * wins: a file whose job failed is read again whole, in this thread, in that order).
 * IngestPlan.parallel (the CLI's CHURNWATCH_INGEST_PARALLEL) turns the worker threads
 * off or on regardless of sizes (for tests and diagnosis; the files are still cut, and
 * the ranges read one after another here).
 */
import { availableParallelism } from 'node:os';
import { statSync } from 'node:fs';
import { ChurnwatchError } from '../errors.js';
import type { FeatureRequest } from '../rules/catalogue.js';
import { EXTRACT_NAMES, MEASURE_EXTRACTS, extractRank, extractSpec, type ColumnMeasure } from '../contract/contract.js';
import { monthOfDay } from '../util/dates.js';
import { runFactJob, type FactJob, type FactResult } from './fact-jobs.js';
import {
  readDoNotCall,
  type BillingFold,
  type BillingWindows,
  type ContactFold,
  type ContractRequest,
  type CountColumn,
  type TicketRequest,
  type UsageFold,
} from './facts.js';
import { displayName, locateExtract, type ColumnNeeds, type ExtractName, type InputOptions } from './layout.js';
import { FactWorker, type WorkerKeys } from './parallel.js';
import { RangeMerge, planRanges } from './ranges.js';
import { RejectLog } from './rejects.js';
import { scanRanges, withHash } from './subscriber-ranges.js';
import { applyKeys, resolveKeys, scanSubscribers, sharedTable, type SubscriberKeys, type SubscriberTable } from './subscribers.js';
import type { ByteRange } from './read-extract.js';
import { PARALLEL_MIN_BYTES, factWorkerUrl, type WorkerInput } from './worker-protocol.js';
import type { FileStats } from './table-reader.js';
import type { SpareThread } from '../util/worker.js';

export interface IngestPlan {
  asOf: number;
  input: InputOptions;
  features: Map<string, FeatureRequest>;
  needed: Set<string>;
  /** Optional columns the rule pack reads (packColumnNeeds): absent from a header, they fail the required-columns gate. */
  columnNeeds?: ColumnNeeds;
  onStage?: (stage: string) => void;
  /**
   * Progress of a long read: called about every million rows of an extract (and once
   * when it is done) with the rows and bytes read so far. Cheap enough to print from.
   */
  onRows?: (extract: string, rows: number, bytes: number) => void;
  /** The extracts this run reads, once located and before any is read (for a percentage of onRows' bytes). */
  onFiles?: (files: { extract: ExtractName; path: string }[]) => void;
  /** Use a worker thread: true, false, or by input size when undefined (see the module comment). */
  parallel?: boolean;
  /**
   * Fact workers started at the start of the run (worker-protocol.ts spareFactWorkers), whose
   * scripts loaded while the main thread did: worker k is the k-th of them, if there is
   * one. Those not taken are released once the workers are started.
   */
  spareThreads?: readonly SpareThread[];
  /** With a worker: the fact extracts it folds, instead of a share by file size (tests, diagnosis). */
  workerExtracts?: ExtractName[];
  /** The smallest byte range a measure extract is cut into (tests cut small files). */
  minRangeBytes?: number;
  /** Keep subscribers.idTable in the result (it is dropped to free memory otherwise). */
  keepIdTable?: boolean;
  /**
   * Another engine's reader of fact jobs (the duckdb engine reads the measure
   * extracts out of core): its result stands for runFactJob's; null leaves the job
   * to runFactJob. With it, no worker thread is used.
   */
  readFacts?: (
    job: FactJob,
    input: InputOptions,
    subscribers: Pick<SubscriberTable, 'n' | 'ids'>,
    onRows?: (rows: number, bytes: number) => void,
  ) => Promise<FactResult | null>;
}

export interface Extracts {
  subscribers: SubscriberTable;
  billing: BillingFold;
  usage: UsageFold | null;
  ticketCounts: Map<string, CountColumn>;
  contractCounts: Map<string, CountColumn>;
  doNotCall: Uint8Array | null;
  contacts: ContactFold | null;
  files: FileStats[];
  rejects: RejectLog;
}

/**
 * Lets go of the folded measure sums and the ticket and contract counts: the arrays
 * the feature columns are made of (features/features.ts uses them without a copy),
 * some 50 bytes a subscriber for the default pack. A night that has what its task files
 * need of them (their flagged rows, output/task-files.ts flaggedFeatureTable) keeps them
 * no longer. What the gates, the summary and the manifest read stays: the row counts
 * per month and day, the files, the rejects, the subscribers and the contacts.
 */
export function releaseMeasureFolds(x: Extracts): void {
  x.billing.months.clear();
  x.usage?.days.clear();
  x.ticketCounts.clear();
  x.contractCounts.clear();
}

/**
 * How much more of subscribers.csv this thread scans than each worker: a worker
 * started here starts its range later, by its own start (this thread waited ~110 ms
 * for the worker's scan at 1M on an idle machine, ~200 ms on a loaded one), so this
 * thread takes about half of that more, at 4-6 ns a byte. Too much costs little: a
 * worker with its range done hashes files until the id table comes.
 */
const SUBSCRIBERS_LEAD = 16 << 20;
/**
 * The same when every worker is a spare thread started with the run (the CLI's):
 * their modules loaded while this thread parsed the pack, and they start their ranges
 * with this thread; a little more here still, since this thread waiting for a scan
 * only waits (4 MB is ~20 ms).
 */
const SUBSCRIBERS_LEAD_SPARE = 4 << 20;
/** The smallest byte range a measure extract is cut into, unless IngestPlan.minRangeBytes says (tests cut small files). */
const RANGE_MIN_BYTES = 8 << 20;

/** One fact extract: read whole, or as byte ranges (parts), then maybe with a hash job. */
interface Unit {
  whole: FactJob;
  parts: FactJob[] | null;
  /** The cut file's hash job: given to a worker at its start (it waits for the id table), else dropped and the first range hashes. */
  hash: FactJob | null;
}

/**
 * CPU time per byte of each kind of work (ns, measured at 1M subscribers), to share
 * it out: the attributes pass parses every field and copies the text ones, the
 * id-only pass of the worker builds the id table; billing and usage mostly go
 * through the fast path for plain records; a gzip file holds about four times its size.
 */
const COST = {
  plainFacts: 4.5,
  otherFacts: 10,
  gzip: 4,
  hash: 0.7,
};
/** The order of the usual reading: extracts in order, a file's hash job after its ranges. */
const rankOf = (j: FactJob) => extractRank(j.extract) + ('hash' in j ? 0.5 : 0);
/** The extracts with a fast path: those whose numeric columns are summed (the measure extracts). */
const PLAIN_FACTS = new Set<ExtractName>(MEASURE_EXTRACTS);

export async function ingest(plan: IngestPlan): Promise<Extracts> {
  const { asOf, features } = plan;
  // The measures a pack declares over extra columns, as far as a feature reads them: their columns are resolved and folded.
  const declared = new Map<string, ColumnMeasure>();
  for (const f of features.values())
    if ((f.source === 'billing' || f.source === 'usage') && f.declared) declared.set(f.measure, f.declared);
  const input: InputOptions = {
    ...plan.input,
    ...(plan.columnNeeds ? { needs: plan.columnNeeds } : {}),
    ...(declared.size > 0 ? { measures: [...declared.values()] } : {}),
  };
  const rejects = new RejectLog();

  const locate = (name: ExtractName, needed: boolean): string | undefined => {
    const path = locateExtract(input, name);
    if (path === undefined && needed) {
      const file = displayName(input, name);
      throw new ChurnwatchError(
        'CW_EXTRACT_MISSING_FILE',
        `gate needed-files failed: ${file} is not in ${input.dir}; the enabled rules read it (disable them in the rule pack, or export the file)`,
        { file, gate: 'needed-files' },
      );
    }
    return path;
  };
  // Locate everything first, so a missing file fails before any long read.
  const located = Object.fromEntries(
    EXTRACT_NAMES.map((name) => {
      const needed = extractSpec(name).needed;
      return [name, locate(name, needed === 'always' || (needed === 'when-read' && plan.needed.has(name)))];
    }),
  ) as Record<ExtractName, string | undefined>;
  const paths = { ...located, subscribers: located.subscribers!, billing_monthly: located.billing_monthly! };
  const file = (name: ExtractName) => displayName(input, name);
  // A progress stage per extract read, but not for the optional lists (short, and not every run has them).
  const stage = (name: ExtractName) => {
    if (extractSpec(name).needed !== 'optional') plan.onStage?.(`read ${extractSpec(name).stage}`);
  };

  // The fact jobs, in the usual order.
  const reqs = [...features.values()];
  const billingReqs = reqs.filter((f): f is Extract<FeatureRequest, { source: 'billing' }> => f.source === 'billing');
  const windows: BillingWindows = {};
  for (const f of billingReqs) windows[f.measure] = Math.max(windows[f.measure] ?? 0, f.month + 1);
  const jobs: FactJob[] = [
    { extract: 'billing_monthly', path: paths.billing_monthly, file: file('billing_monthly'), asOfMonth: monthOfDay(asOf), windows },
  ];
  if (paths.usage_daily && plan.needed.has('usage_daily')) {
    const wanted = new Map<number, Set<string>>();
    for (const f of reqs) {
      if (f.source !== 'usage') continue;
      if (!wanted.has(f.day)) wanted.set(f.day, new Set());
      wanted.get(f.day)!.add(f.measure);
    }
    jobs.push({
      extract: 'usage_daily',
      path: paths.usage_daily,
      file: file('usage_daily'),
      asOf,
      wanted: [...wanted].map(([k, m]) => [k, [...m]]),
    });
  }
  if (paths.tickets && plan.needed.has('tickets')) {
    jobs.push({
      extract: 'tickets',
      path: paths.tickets,
      file: file('tickets'),
      asOf,
      requests: reqs.filter((f): f is TicketRequest => f.source === 'tickets'),
    });
  }
  if (paths.contracts && plan.needed.has('contracts')) {
    jobs.push({
      extract: 'contracts',
      path: paths.contracts,
      file: file('contracts'),
      asOf,
      requests: reqs.filter((f): f is ContractRequest => f.source === 'contracts'),
    });
  }
  if (paths.contact_history) jobs.push({ extract: 'contact_history', path: paths.contact_history, file: file('contact_history'), asOf });

  if (plan.onFiles) {
    const reading: { extract: ExtractName; path: string }[] = [
      { extract: 'subscribers', path: paths.subscribers },
      ...jobs.map((j) => ({ extract: j.extract, path: j.path })),
    ];
    if (paths.do_not_call) reading.push({ extract: 'do_not_call', path: paths.do_not_call });
    plan.onFiles(reading);
  }
  // The measure extracts are cut into byte ranges, one per reading thread (ranges.ts).
  const workers = Math.max(1, Math.floor(input.workers ?? availableParallelism()));
  const minRange = plan.minRangeBytes ?? RANGE_MIN_BYTES;
  const units: Unit[] = [];
  for (const job of jobs) {
    // A file another engine reads is not cut (it takes whole files).
    const cut =
      (job.extract === 'billing_monthly' || job.extract === 'usage_daily') && !plan.readFacts
        ? await planRanges(job.path, job.extract, input, workers, minRange)
        : null;
    if (cut === null || (job.extract !== 'billing_monthly' && job.extract !== 'usage_daily')) {
      units.push({ whole: job, parts: null, hash: null });
      continue;
    }
    const ranges: FactJob[] = cut.ranges.map((r, index) => ({ ...job, range: { ...r, index, header: index === 0 ? null : cut.header } }));
    units.push({ whole: job, parts: ranges, hash: { extract: job.extract, path: job.path, file: job.file, hash: true } });
  }
  // subscribers.csv too, one range per thread (subscriber-ranges.ts), when the fact files are read here.
  const subsFile = file('subscribers');
  const lead = (plan.spareThreads?.length ?? 0) >= workers - 1 ? SUBSCRIBERS_LEAD_SPARE : SUBSCRIBERS_LEAD;
  const subsCut = plan.readFacts ? null : await planRanges(paths.subscribers, 'subscribers', input, workers, minRange, lead);
  const subsHash: FactJob | null = subsCut && { extract: 'subscribers', path: paths.subscribers, file: subsFile, hash: true };
  const fileHashes = units.flatMap((u) => (u.hash ? [u.hash] : []));
  const reading = [...(subsHash ? [subsHash] : []), ...units.flatMap((u) => u.parts ?? [u.whole])];
  const dispatch = dispatchPlan(plan, paths.subscribers, subsCut?.ranges ?? null, [...reading, ...fileHashes], workers);
  // Without workers no thread waits for the id table: the first ranges hash their files.
  if (dispatch === null) for (const u of units) u.hash = null;
  const runnable = dispatch === null ? reading : [...reading, ...fileHashes];
  const url = dispatch !== null ? factWorkerUrl() : null;
  const onRows = plan.onRows;
  // Progress per extract: the sums over its jobs (its ranges), wherever they run.
  const done = new Map<FactJob, [number, number]>();
  const progressOf = (job: FactJob) => {
    if (!onRows || 'hash' in job) return undefined;
    return (rows: number, bytes: number) => {
      done.set(job, [rows, bytes]);
      let r = 0,
        b = 0;
      for (const [j, [jr, jb]] of done)
        if (j.extract === job.extract) {
          r += jr;
          b += jb;
        }
      onRows(job.extract, r, b);
    };
  };
  const progress = (extract: string) => (onRows ? (rows: number, bytes: number) => onRows(extract, rows, bytes) : undefined);
  const begun = new Set<ExtractName>();
  const begin = (job: FactJob) => {
    if ('hash' in job || begun.has(job.extract)) return;
    begun.add(job.extract);
    stage(job.extract);
  };

  // The jobs not started yet, in the order they are taken: each thread takes the next
  // it may run whenever it is free (see dispatchPlan).
  const queue: FactJob[] = dispatch !== null && url !== null ? [...dispatch.order] : [...runnable].sort((a, b) => rankOf(a) - rankOf(b));
  const results = new Map<FactJob, FactResult>();
  const failures = new Map<FactJob | 'do_not_call', unknown>();
  // A cut file's ranges are merged as each arrives (null: a range failed, the file is read again whole).
  const unitOf = new Map<FactJob, Unit>();
  const merges = new Map<Unit, RangeMerge | null>();
  for (const u of units) {
    if (u.parts === null) continue;
    for (const j of u.parts) unitOf.set(j, u);
    if (u.hash !== null) unitOf.set(u.hash, u);
    const whole = u.whole;
    const ranges = u.parts.length;
    merges.set(u, new RangeMerge(whole.extract, ranges, { input, windows: 'windows' in whole ? whole.windows : undefined }));
  }
  let tableSent = false;
  // A cut file is finished (its sums narrowed, the doubles let go) as soon as its last
  // range is in, not after the other files: at 10M each file's doubles
  // are hundreds of MB. Its result, or its error, is taken in the usual order below.
  const finished = new Map<Unit, () => FactResult | null>();
  const finish = (u: Unit) => {
    const merge = merges.get(u);
    if (!merge?.complete) return;
    merges.delete(u);
    try {
      const r = merge.finish();
      finished.set(u, () => r);
    } catch (e) {
      finished.set(u, () => {
        throw e;
      });
    }
  };
  const deliver = (job: FactJob, r: FactResult) => {
    const u = unitOf.get(job);
    if (u !== undefined && 'hash' in job) merges.get(u)?.hashed(r.stats);
    else if (r.range === undefined) results.set(job, r);
    else merges.get(u!)?.add(r);
    if (u !== undefined) finish(u);
  };
  const fail = (job: FactJob, e: unknown) => {
    const u = unitOf.get(job);
    if (u === undefined) {
      // The first file to fail ends the sharing out: what is left is read below, in order.
      failures.set(job, e);
      queue.length = 0;
      return;
    }
    // A range or hash job: its file is read again whole below (the cut may have been wrong).
    merges.set(u, null);
    for (let k = queue.length - 1; k >= 0; k--) if (unitOf.get(queue[k]!) === u) queue.splice(k, 1);
  };
  /**
   * The next job a thread may run (worker k, or -1 for this thread); before the id
   * table, one that needs none if there is one (and only such a one with `tableless`).
   */
  const take = (k: number, tableless = false): FactJob | undefined => {
    const may = (j: FactJob) => dispatch === null || dispatch.onlyOn.get(j) === undefined || dispatch.onlyOn.get(j) === k;
    let at = -1;
    if (k >= 0 && !tableSent) at = queue.findIndex((j) => 'hash' in j && may(j));
    // A cut file's hash job runs only on a worker waiting for the table (given at its start); else its first range hashes.
    if (at < 0 && !tableless) at = queue.findIndex((j) => may(j) && !(tableSent && 'hash' in j && unitOf.has(j)));
    if (at < 0) return undefined;
    const job = queue.splice(at, 1)[0]!;
    const u = unitOf.get(job);
    if (u?.hash && 'range' in job && job.range?.index === 0) {
      const h = queue.indexOf(u.hash);
      if (h >= 0) queue.splice(h, 1);
      else job.range.hashWhole = false;
    }
    return job;
  };

  // Worker k reads range k + 1 of a cut subscribers.csv, or (the first, the file not cut) its ids.
  const subscribersOf = (k: number): WorkerInput['subscribers'] => {
    if (subsCut === null) return k === 0 ? { path: paths.subscribers, file: subsFile } : null;
    const r = subsCut.ranges[k + 1];
    return r ? { path: paths.subscribers, file: subsFile, range: { ...r, header: subsCut.header } } : null;
  };
  const jobId = new Map(runnable.map((j, i) => [j, i]));
  const threads: FactWorker[] = [];
  try {
    if (url !== null && dispatch !== null) {
      for (let k = 0; k + 1 < dispatch.threads; k++) {
        const feed = () => {
          const job = take(k);
          if (job === undefined) worker.end();
          else worker.assign(jobId.get(job)!, job);
        };
        const worker: FactWorker = new FactWorker(
          url,
          { input, subscribers: subscribersOf(k), progress: onRows !== undefined },
          {
            onReady: feed,
            onStart: (j) => begin(runnable[j]!),
            onRows: (j, rows, bytes) => progressOf(runnable[j]!)?.(rows, bytes),
            onResult: (j, r) => deliver(runnable[j]!, r),
            onError: (j, e) => fail(runnable[j]!, e),
          },
          plan.spareThreads?.[k],
        );
        threads.push(worker);
      }
      // The jobs that need no id table are given at once, in turn, not when a worker is
      // ready: this thread is then joining subscribers.csv's ranges and indexing the
      // ids without turning its event loop, and could not answer until the table is sent.
      for (let given = true; given; ) {
        given = false;
        for (const [k, worker] of threads.entries()) {
          const early = take(k, true);
          if (early === undefined) continue;
          worker.assign(jobId.get(early)!, early);
          given = true;
        }
      }
    }
    for (const spare of plan.spareThreads ?? []) void spare.release();
    const keyWorker = subsCut === null ? (threads[0] ?? null) : null;

    stage('subscribers');
    // A cut file: this thread scans the ranges no worker reads, the workers the others;
    // the scans are joined (or, a cut having fallen inside a record or a range having
    // failed, the file is read again whole here).
    const joined =
      subsCut === null
        ? null
        : await scanRanges(paths.subscribers, subsFile, input, subsCut, (r) => threads[r - 1]?.scan(), progress('subscribers'));
    const scan =
      joined ??
      (await scanSubscribers(paths.subscribers, subsFile, input, {
        keys: keyWorker === null,
        values: true,
        onRows: progress('subscribers'),
      }));
    let keys: SubscriberKeys;
    if (keyWorker === null) {
      keys = resolveKeys(scan, subsFile);
      // The rows' lines only served to place the duplicates (80 MB at 10M): not kept through the read.
      scan.lines = null;
      if (threads.length > 0) {
        const shared = keys.table.share();
        for (const t of threads) t.sendTable(shared);
      }
    } else {
      const wk: WorkerKeys = await keyWorker.keys();
      if (wk.sha256 !== scan.stats.sha256 || wk.valid !== scan.valid) {
        throw new ChurnwatchError('CW_INPUT_CHANGED', `${subsFile} changed while the run read it; rerun when the export has finished`, {
          file: subsFile,
        });
      }
      keys = {
        table: wk.table,
        dups: wk.dups,
        rejects: wk.rejects,
        stats: { ...scan.stats, accepted: scan.stats.accepted - wk.dups.length, rejected: scan.stats.rejected + wk.dups.length },
      };
      if (threads.length > 1) {
        const shared = wk.table.share();
        for (const t of threads.slice(1)) t.sendTable(shared);
      }
    }
    tableSent = true;
    const subscribers = applyKeys(scan.values!, keys);
    const subscriberKeys = { n: subscribers.n, idTable: keys.table };

    // Every thread takes jobs until none is left for it; this thread reads the
    // do-not-call list too (it needs the subscribers' phone numbers): first when there
    // are workers, else at its place in the usual order. A failure ends the sharing
    // out; what is left undone, and a file whose ranges failed or were cut inside a
    // record, is read below, whole, in the usual order, so that the error raised is the
    // one a single reader would raise first.
    let doNotCall: Uint8Array | null = null;
    let dncStats: FileStats | undefined;
    const dncRejects = new RejectLog();
    const dncPath = paths.do_not_call;
    const readDnc = async () => {
      if (!dncPath) return;
      const r = await readDoNotCall(dncPath, file('do_not_call'), input, subscribers, dncRejects, { onRows: progress('do_not_call') });
      doNotCall = r.flags;
      dncStats = r.stats;
    };
    const runHere = async (job: FactJob) => {
      begin(job);
      const other = await plan.readFacts?.(job, input, subscribers, progressOf(job));
      return other ?? (await runFactJob(job, input, subscriberKeys, progressOf(job)));
    };
    let dncDone = false;
    const dncHere = async () => {
      dncDone = true;
      try {
        stage('do_not_call');
        await readDnc();
      } catch (e) {
        failures.set('do_not_call', e);
        queue.length = 0;
      }
    };
    if (dncPath && threads.length > 0) await dncHere();
    for (let job = take(-1); job !== undefined; job = take(-1)) {
      if (dncPath && !dncDone && rankOf(job) > extractRank('do_not_call')) {
        await dncHere();
        if (failures.size > 0) break;
      }
      try {
        deliver(job, await runHere(job));
      } catch (e) {
        fail(job, e);
      }
    }
    if (dncPath && !dncDone && failures.size === 0) await dncHere();
    for (const t of threads) {
      await t.ended();
      if (t.failure !== null) throw t.failure;
    }

    // Assemble in the usual order; a file not read (or whose ranges could not be merged) is read here whole.
    if (joined !== null && subsHash !== null && failures.has(subsHash)) throw failures.get(subsHash);
    const final = new Map<ExtractName, FactResult>();
    for (const name of EXTRACT_NAMES) {
      if (name === 'do_not_call' && dncPath) {
        if (failures.has('do_not_call')) throw failures.get('do_not_call');
        if (dncStats === undefined) await readDnc();
      }
      const unit = units.find((u) => u.whole.extract === name);
      if (unit === undefined) continue;
      if (failures.has(unit.whole)) throw failures.get(unit.whole);
      let got = results.get(unit.whole) ?? null;
      if (got === null && unit.parts !== null) got = finished.get(unit)?.() ?? null;
      final.set(name, got ?? (await runHere(unit.whole)));
    }
    const files: FileStats[] = [
      joined !== null && subsHash !== null ? withHash(keys.stats, (results.get(subsHash) ?? (await runHere(subsHash))).stats) : keys.stats,
    ];
    rejects.addRows(keys.rejects);
    for (const name of EXTRACT_NAMES) {
      const r = final.get(name);
      if (r) {
        files.push(r.stats);
        rejects.addRows(r.rejects);
      }
      if (name === 'do_not_call' && dncStats) {
        files.push(dncStats);
        rejects.addRows(dncRejects.rows);
      }
    }
    const contact = final.get('contact_history');

    if (!plan.keepIdTable) delete subscribers.idTable;
    return {
      // Region and manager stay coded to the task files; the worker that renders them reads them in shared memory.
      subscribers: sharedTable(subscribers),
      billing: final.get('billing_monthly')!.billing!,
      usage: final.get('usage_daily')?.usage ?? null,
      ticketCounts: final.get('tickets')?.counts ?? new Map(),
      contractCounts: final.get('contracts')?.counts ?? new Map(),
      doNotCall,
      contacts: contact?.contacts ?? null,
      files,
      rejects,
    };
  } finally {
    for (const t of threads) await t.terminate();
  }
}

/** How the jobs are shared out between the reading threads. */
interface Dispatch {
  /** Reading threads, this one included. */
  threads: number;
  /** The jobs in the order the threads take them. */
  order: FactJob[];
  /** Jobs that only one thread may run: worker k, or -1 for this thread (tests and diagnosis). */
  onlyOn: Map<FactJob, number>;
}

/**
 * null when the jobs are all read in this thread: the inputs are small, there is one
 * reading thread, or the plan says so. Otherwise each thread, this one included,
 * takes the next job whenever it is free: the hash jobs first (they need no id table,
 * so the workers run them while this thread joins subscribers.csv's ranges and
 * indexes the ids), then the largest first, so that the last jobs are small and the
 * threads end together; a file's ranges come one after another, in range order, so
 * that each is merged as it arrives.
 */
export function dispatchPlan(
  plan: IngestPlan,
  subscribersPath: string,
  subscriberRanges: ByteRange[] | null,
  jobs: FactJob[],
  workers: number,
): Dispatch | null {
  const forced = plan.parallel;
  // (An explicit `workers: 1` is one thread even when `parallel` forces a worker.)
  if (
    forced === false ||
    jobs.length === 0 ||
    plan.input.workers === 1 ||
    plan.readFacts !== undefined ||
    (forced === undefined && workers < 2)
  )
    return null;
  const onlyOn = new Map<FactJob, number>();
  if (plan.workerExtracts) {
    const chosen = new Set(plan.workerExtracts);
    for (const j of jobs) onlyOn.set(j, chosen.has(j.extract) ? 0 : -1);
    return { threads: 2, order: jobs, onlyOn };
  }
  const size = (p: string) => {
    try {
      const bytes = statSync(p).size;
      return /\.gz$/i.test(p) ? bytes * COST.gzip : bytes;
    } catch {
      return 0;
    }
  };
  const costOf = (job: FactJob) => {
    if ('hash' in job) return size(job.path) * COST.hash;
    const range = 'range' in job ? job.range : undefined;
    const bytes = range ? range.end - range.start : size(job.path);
    // The first range of a cut file hashes the whole file too.
    const hash = range?.index === 0 ? size(job.path) * COST.hash : 0;
    return bytes * (PLAIN_FACTS.has(job.extract) ? COST.plainFacts : COST.otherFacts) + hash;
  };
  const subsBytes = subscriberRanges === null ? size(subscribersPath) : subscriberRanges[subscriberRanges.length - 1]!.end;
  const total = subsBytes + jobs.reduce((a, j) => a + ('hash' in j ? 0 : costOf(j) / COST.plainFacts), 0);
  if (forced === undefined && total < PARALLEL_MIN_BYTES) return null;
  // A file's ranges all take the key of its largest.
  const cost = new Map(jobs.map((j) => [j, costOf(j)]));
  const largest = new Map<ExtractName, number>();
  for (const j of jobs) if ('range' in j && j.range) largest.set(j.extract, Math.max(largest.get(j.extract) ?? 0, cost.get(j)!));
  const key = (j: FactJob) => ('hash' in j ? Infinity : 'range' in j && j.range ? largest.get(j.extract)! : cost.get(j)!);
  const order = jobs.map((j, i) => ({ j, i })).sort((a, b) => key(b.j) - key(a.j) || a.i - b.i);
  // (Forced on: the first worker gets at least the largest job.)
  const first = order.find((o) => !('hash' in o.j));
  if (forced === true && first) onlyOn.set(first.j, 0);
  return { threads: Math.max(2, workers), order: order.map((o) => o.j), onlyOn };
}
