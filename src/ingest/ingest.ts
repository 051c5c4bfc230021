/**
 * Reads the extracts a rule pack needs, folding each into per-subscriber arrays.
 * Optional extracts (do_not_call, contact_history) are read when present.
 *
 * On a machine with more than one core and inputs large enough to pay for it, the
 * work is split between the main thread and one worker thread (parallel.ts):
 * - the worker reads the subscriber ids of subscribers.csv into a shared id table,
 *   then folds the fact extracts given to it (the largest, usually usage_daily);
 * - the main thread meanwhile reads the subscriber attributes (the strings the task
 *   files need), then folds the other fact extracts against the worker's id table,
 *   then the do-not-call list.
 * Which extract goes where follows from the file sizes. The results are the same as
 * reading everything in order in one thread: rows, rejects (in file order, files in
 * the usual order), stats and errors (the error of the earliest extract in that
 * order wins). The environment variable CHURNWATCH_INGEST_PARALLEL=0 or 1 turns the
 * worker off or on regardless of sizes (for tests and diagnosis); IngestPlan.parallel
 * does the same from code.
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
import { FactWorker, factWorkerUrl, type WorkerKeys } from './parallel.js';
import { RejectLog } from './rejects.js';
import { applyKeys, resolveKeys, scanSubscribers, type SubscriberKeys, type SubscriberTable } from './subscribers.js';
import type { FileStats } from './table-reader.js';

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
  /** With a worker: the fact extracts it folds, instead of a share by file size (tests, diagnosis). */
  workerExtracts?: ExtractName[];
  /** Keep subscribers.idTable in the result (it is dropped to free memory otherwise). */
  keepIdTable?: boolean;
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

/** Below this many bytes of extracts, starting a worker costs more than it saves. */
const PARALLEL_MIN_BYTES = 48 << 20;

/**
 * CPU time per byte of each kind of work (ns, measured at 1M subscribers), to share
 * it out: the attributes pass parses every field and copies the text ones, the
 * id-only pass of the worker builds the id table; billing and usage mostly go
 * through the fast path for plain records; a gzip file holds about four times its size.
 */
const COST = { subscriberValues: 7, subscriberKeys: 5, plainFacts: 4.5, otherFacts: 10, gzip: 4 };
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
  const split = shareOut(plan, paths.subscribers, jobs);
  const url = split.worker.length > 0 ? factWorkerUrl() : null;
  const onRows = plan.onRows;
  const progress = (extract: string) => (onRows ? (rows: number, bytes: number) => onRows(extract, rows, bytes) : undefined);

  let worker: FactWorker | null = null;
  try {
    if (url !== null) {
      worker = new FactWorker(
        url,
        {
          input,
          subscribers: { path: paths.subscribers, file: file('subscribers') },
          jobs: split.worker,
          progress: onRows !== undefined,
        },
        { onRows, onStart: (j) => stage(split.worker[j]!.extract) },
      );
    }
    const mainJobs = worker !== null ? split.main : jobs;

    stage('subscribers');
    const subsFile = file('subscribers');
    const scan = await scanSubscribers(paths.subscribers, subsFile, input, {
      keys: worker === null,
      values: true,
      onRows: progress('subscribers'),
    });
    let keys: SubscriberKeys;
    if (worker === null) {
      keys = resolveKeys(scan, subsFile);
    } else {
      const wk: WorkerKeys = await worker.keys();
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
    }
    const subscribers = applyKeys(scan.values!, keys);
    const subscriberKeys = { n: subscribers.n, idTable: keys.table };

    // Fold this thread's share in the usual order (the do-not-call list needs the
    // subscribers' phone numbers, so it is always read here); stop early when the
    // worker has failed on an earlier extract.
    const results = new Map<ExtractName, FactResult>();
    let doNotCall: Uint8Array | null = null;
    let dncStats: FileStats | undefined;
    const dncRejects = new RejectLog();
    const dncPath = paths.do_not_call;
    const tasks: { extract: ExtractName; run: () => Promise<void> }[] = mainJobs.map((job) => ({
      extract: job.extract,
      run: async () => {
        results.set(job.extract, await runFactJob(job, input, subscriberKeys, progress(job.extract)));
      },
    }));
    if (dncPath) {
      tasks.push({
        extract: 'do_not_call',
        run: async () => {
          const r = await readDoNotCall(dncPath, file('do_not_call'), input, subscribers, dncRejects, { onRows: progress('do_not_call') });
          doNotCall = r.flags;
          dncStats = r.stats;
        },
      });
    }
    tasks.sort((a, b) => extractRank(a.extract) - extractRank(b.extract));
    let failure: { rank: number; error: unknown } | null = null;
    for (const task of tasks) {
      const rank = extractRank(task.extract);
      if (worker?.failure && workerRank(split.worker, worker.failure.job) < rank) break;
      stage(task.extract);
      try {
        await task.run();
      } catch (e) {
        failure = { rank, error: e };
        break;
      }
    }
    if (worker !== null) {
      // Only the worker's jobs before the failing one can still matter.
      const upto = failure === null ? split.worker.length : split.worker.filter((j) => extractRank(j.extract) < failure!.rank).length;
      await worker.settled(upto);
      const wf = worker.failure;
      if (wf !== null && (failure === null || workerRank(split.worker, wf.job) < failure.rank))
        failure = { rank: workerRank(split.worker, wf.job), error: wf.error };
      if (failure === null) {
        split.worker.forEach((job, j) => {
          const r = worker!.result(j);
          if (r === undefined) throw new Error(`the ingest worker gave no result for ${job.file}`);
          results.set(job.extract, r);
        });
      }
    }
    if (failure !== null) throw failure.error;

    // Assemble in the usual order.
    const files: FileStats[] = [keys.stats];
    rejects.addRows(keys.rejects);
    for (const name of EXTRACT_NAMES) {
      const r = results.get(name);
      if (r) {
        files.push(r.stats);
        rejects.addRows(r.rejects);
      }
      if (name === 'do_not_call' && dncStats) {
        files.push(dncStats);
        rejects.addRows(dncRejects.rows);
      }
    }
    const contact = results.get('contact_history');

    if (!plan.keepIdTable) delete subscribers.idTable;
    return {
      subscribers,
      billing: results.get('billing_monthly')!.billing!,
      usage: results.get('usage_daily')?.usage ?? null,
      ticketCounts: results.get('tickets')?.counts ?? new Map(),
      contractCounts: results.get('contracts')?.counts ?? new Map(),
      doNotCall,
      contacts: contact?.contacts ?? null,
      files,
      rejects,
    };
  } finally {
    if (worker !== null) await worker.terminate();
  }
}

/** The usual-order rank of the worker's job `job` (-1: subscribers.csv, rank 0). */
function workerRank(jobs: FactJob[], job: number): number {
  return job < 0 || job >= jobs.length ? 0 : extractRank(jobs[job]!.extract);
}

/**
 * Which fact jobs the worker takes: none when the inputs are small, there is one
 * core, or the plan says so; otherwise the jobs are dealt out largest first to
 * whichever side has less to do (the main thread starts with the subscriber
 * attributes, the worker with the subscriber ids). Each side keeps the usual order.
 */
function shareOut(plan: IngestPlan, subscribersPath: string, jobs: FactJob[]): { main: FactJob[]; worker: FactJob[] } {
  const env = process.env.CHURNWATCH_INGEST_PARALLEL;
  const forced = plan.parallel ?? (env === '1' ? true : env === '0' ? false : undefined);
  if (forced === false || jobs.length === 0) return { main: jobs, worker: [] };
  if (plan.workerExtracts) {
    const chosen = new Set(plan.workerExtracts);
    return { main: jobs.filter((j) => !chosen.has(j.extract)), worker: jobs.filter((j) => chosen.has(j.extract)) };
  }
  const size = (p: string) => {
    try {
      const bytes = statSync(p).size;
      return /\.gz$/i.test(p) ? bytes * COST.gzip : bytes;
    } catch {
      return 0;
    }
  };
  const subsBytes = size(subscribersPath);
  const sized = jobs.map((job) => ({ job, cost: size(job.path) * (PLAIN_FACTS.has(job.extract) ? COST.plainFacts : COST.otherFacts) }));
  const total = subsBytes + jobs.reduce((a, j) => a + size(j.path), 0);
  if (forced === undefined && (total < PARALLEL_MIN_BYTES || availableParallelism() < 2)) return { main: jobs, worker: [] };
  let mainLoad = subsBytes * COST.subscriberValues;
  let workerLoad = subsBytes * COST.subscriberKeys;
  const toWorker = new Set<FactJob>();
  for (const { job, cost } of [...sized].sort((a, b) => b.cost - a.cost)) {
    if (workerLoad <= mainLoad || (forced === true && toWorker.size === 0)) {
      toWorker.add(job);
      workerLoad += cost;
    } else {
      mainLoad += cost;
    }
  }
  return { main: jobs.filter((j) => !toWorker.has(j)), worker: jobs.filter((j) => toWorker.has(j)) };
}
