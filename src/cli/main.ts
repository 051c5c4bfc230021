/**
 * The command line: one factory per command, every argument checked at the
 * boundary, and every exit through exitCodeOf() so the codes live in one place.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { ChurnwatchError, exitCodeOf } from '../errors.js';
import { VERSION } from '../version.js';
import { loadRulePack, neededFiles, parseRulePack, requiredFeatures } from '../config/rulepack.js';
import { ENGINES, MEMORY_LIMIT, loadRunConfig, SCORES_FORMATS, type EngineName, type ScoresFormat } from '../config/run-config.js';
import { featureFile } from '../rules/catalogue.js';
import { measureHelp } from '../contract/contract.js';
import { parseDay, todayIn, formatDay } from '../util/dates.js';
import { spareFactWorkers } from '../ingest/worker-protocol.js';
import type { SqlDialectName } from '../rules/sql.js';
import type { Logger } from 'pino';
import { makeLogger, openLogFile } from './log.js';
import { DEFAULT_COUNTRY_CODE } from '../util/phone.js';
import { scrubPersonal } from '../util/mask.js';
import { makeProgress } from './progress.js';
import { readTuning } from './knobs.js';

export const DEFAULT_RULES = fileURLToPath(new URL('../../rules/default.yaml', import.meta.url));

function parseAsOf(v: string): number {
  const d = parseDay(v);
  if (Number.isNaN(d) || !/^\d{4}-?\d{2}-?\d{2}$/.test(v)) throw new InvalidArgumentError('expected a date YYYY-MM-DD');
  return d;
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 200_000_000) throw new InvalidArgumentError('expected a whole number from 1 to 200000000');
  return n;
}

function parseWorkers(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('expected a whole number of threads from 1 to 256');
  return n;
}

const WORKERS_HELP =
  'threads that read the extracts, the large ones cut into byte ranges between them (default: the available cores; 1: no worker thread)';

function parseShare(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** A folder argument: an empty one would silently mean the current folder. */
function memoryLimitArg(v: string): string {
  if (!MEMORY_LIMIT.test(v.trim())) throw new InvalidArgumentError('must be a size such as 2GB or 512MB.');
  return v.trim();
}

function folderArg(flag: string): (v: string) => string {
  return (v) => {
    if (v.trim() === '')
      throw new ChurnwatchError('CW_USAGE', `${flag} is empty; pass a folder (an empty value would mean the current folder)`);
    return v;
  };
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Receives the NDJSON log lines; default: stderr, written synchronously. */
  log?: (line: string) => void;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What run and explain both start from: the rule pack, the configuration, the input folder, D and the environment's switches. */
function loadRunInputs(opts: { input: string; asOf?: number; rules: string; config?: string; workers?: number }) {
  const pack = loadRulePack(opts.rules);
  const config = loadRunConfig(opts.config);
  if (opts.workers !== undefined) config.input.workers = opts.workers;
  const inputDir = resolve(opts.input);
  if (!existsSync(inputDir) || !statSync(inputDir).isDirectory()) {
    throw new ChurnwatchError('CW_INPUT_MISSING', `input folder ${opts.input} does not exist; pass --input with the folder of extracts`, {
      file: opts.input,
    });
  }
  return { pack, config, inputDir, asOf: opts.asOf ?? todayIn(config.timeZone ?? pack.timeZone), tuning: readTuning() };
}

export function makeRunCommand(io: Io): Command {
  return publishOptions(
    new Command('run')
      .description(
        'Run the nightly job: read the extracts in --input, evaluate the rule pack, publish task files under --out/<as-of date>/',
      )
      .requiredOption('--input <dir>', 'folder of CSV extracts', folderArg('--input'))
      .requiredOption('--out <dir>', 'output folder; each run publishes into <dir>/<as-of date>/', folderArg('--out'))
      .option('--as-of <date>', 'run date D (YYYY-MM-DD); default today in the configured time zone', parseAsOf)
      .option('--with-measures', 'add every measure the rule pack reads to scores.csv and scores.arrow (also output.with_measures)', false)
      .addOption(
        new Option(
          '--engine <engine>',
          'engine that reads the billing and usage extracts (default: in-process, or engine.name of --config)',
        ).choices(ENGINES),
      )
      .option(
        '--memory-limit <size>',
        "DuckDB's memory limit for --engine duckdb, e.g. 2GB (default: engine.memory_limit of --config, or 2GB)",
        memoryLimitArg,
      ),
  ).action((opts: RunArgs) => runAndPrint(io, opts));
}

interface RunArgs {
  input: string;
  out: string;
  asOf?: number;
  rules: string;
  config?: string;
  force: boolean;
  logLevel?: string;
  logFile?: string;
  /** tasks --scores: the scores table computed elsewhere. */
  scores?: string;
  format?: ScoresFormat;
  workers?: number;
  withMeasures?: boolean;
  engine?: EngineName;
  memoryLimit?: string;
}

async function runAndPrint(io: Io, opts: RunArgs): Promise<void> {
  const logFile = opts.logFile !== undefined ? openLogFile(opts.logFile) : undefined;
  try {
    const logger = makeLogger(opts.logLevel ?? (logFile === undefined && process.stderr.isTTY ? 'warn' : 'info'), logFile?.write ?? io.log);
    const result = await runLogged(opts, logger);
    const t = result.tasks;
    io.out(`published ${result.published} (tasks: high ${t.high}, mid ${t.mid}, mass ${t.mass})\n`);
  } finally {
    logFile?.close();
  }
}

export function makeTasksCommand(io: Io): Command {
  return publishOptions(
    new Command('tasks')
      .description(
        'Publish the task files of run date D from a scores file computed elsewhere (churnwatch sql on Spark or DuckDB): reads --scores and, from --input, only subscribers, do_not_call and contact_history',
      )
      .requiredOption(
        '--scores <file>',
        'scores table with the measure columns: CSV, Parquet, or a folder of part files',
        folderArg('--scores'),
      )
      .requiredOption('--input <dir>', 'folder of the extracts the scores were computed from', folderArg('--input'))
      .requiredOption('--out <dir>', 'output folder; publishes into <dir>/<as-of date>/', folderArg('--out'))
      .requiredOption('--as-of <date>', 'run date D the scores were computed for (YYYY-MM-DD)', parseAsOf),
  ).action((opts: RunArgs) => runAndPrint(io, opts));
}

/** The options every publishing command shares after its own: rule pack, configuration, --force, the score formats and the log. */
function publishOptions(cmd: Command): Command {
  return cmd
    .option('--rules <file>', 'rule pack', DEFAULT_RULES)
    .option('--config <file>', 'run configuration (delimiter, encoding, header mapping, output modes)')
    .option('--force', 'replace an already published date', false)
    .addOption(
      new Option(
        '--format <format>',
        'scores table besides scores.csv: arrow (scores.arrow), or parquet (scores.parquet as well); default: output.format of --config, else arrow',
      ).choices(SCORES_FORMATS),
    )
    .option('--workers <n>', WORKERS_HELP, parseWorkers)
    .addOption(new Option('--log-level <level>', 'log level (default: info, or warn on a terminal without --log-file)').choices(LEVELS))
    .option(
      '--log-file <file>',
      'append the NDJSON log to this file instead of stderr; stdout and stderr then carry only the result line and errors',
    );
}

/**
 * The run behind `run`: from the configuration on, every failure is also an `error`
 * record in the log (with the stack when it is a bug), and success ends the log
 * with a `run done` record, so the log alone tells how each night ended.
 */
async function runLogged(opts: RunArgs, logger: Logger) {
  const progress = makeProgress();
  // The ingest's worker threads load their modules from now on, on the other cores,
  // instead of after the rule pack and the lock: the first of them then starts its
  // range of subscribers.csv with this thread.
  const spareThreads =
    opts.scores === undefined && opts.engine !== 'duckdb'
      ? spareFactWorkers((opts.workers ?? availableParallelism()) - 1, resolve(opts.input))
      : [];
  try {
    const { pack, config, inputDir, asOf, tuning } = loadRunInputs(opts);
    logger.info({ as_of: formatDay(asOf), rule_pack: pack.name, version: VERSION }, 'run start');
    const { runNightly } = await import('../pipeline.js');
    const result = await runNightly({
      input: { ...config.input, dir: inputDir },
      outRoot: resolve(opts.out),
      asOf,
      pack,
      packPath: opts.rules,
      config: config.source,
      force: opts.force,
      withMeasures: opts.withMeasures === true || config.output.withMeasures,
      tuning,
      engine: {
        ...config.engine,
        ...(opts.engine !== undefined ? { name: opts.engine } : {}),
        ...(opts.memoryLimit !== undefined ? { memoryLimit: opts.memoryLimit } : {}),
      },
      fileMode: config.output.fileMode,
      dirMode: config.output.dirMode,
      taskProfile: { mask: config.output.mask, dialerFullNumber: config.output.dialerFullNumber },
      taskOutput: {
        profile: config.output.profile,
        locale: config.output.locale,
        countryCode: config.input.defaultCountryCode ?? DEFAULT_COUNTRY_CODE,
        campaign: config.output.campaign,
        excelEncoding: config.output.excelEncoding,
        maxRowsPerFile: config.output.maxRowsPerFile,
      },
      logger,
      spareThreads,
      ...(opts.scores !== undefined ? { scores: resolve(opts.scores) } : {}),
      scoresFormat: opts.format ?? config.output.format,
      onProgress: (s) => progress.stage(s),
      onRows: progress.showsRows ? (e, r, b) => progress.rows(e, r, b) : undefined,
      onInputs: progress.showsRows ? (bytes) => progress.inputs(bytes) : undefined,
    });
    progress.done('done');
    logger.info({ published: result.published, tasks: result.tasks, exit: 0 }, 'run done');
    return result;
  } catch (e) {
    progress.stop();
    if (e instanceof ChurnwatchError) logger.error({ code: e.code, exit: exitCodeOf(e) }, e.message);
    else logger.error({ code: 'CW_INTERNAL', exit: exitCodeOf(e), err: e }, 'internal error');
    throw e;
  } finally {
    for (const spare of spareThreads) await spare.release();
  }
}

export function makeGenerateCommand(io: Io): Command {
  return new Command('generate')
    .description('Write a realistic, deterministic set of extracts in the default contract')
    .requiredOption('--subscribers <n>', 'number of subscribers', parseCount)
    .option('--seed <seed>', 'seed; the same seed gives byte-identical files', '1')
    .requiredOption('--out <dir>', 'folder to write the extracts into', folderArg('--out'))
    .option('--as-of <date>', 'run date D the extracts lead up to', parseAsOf)
    .option('--months <n>', 'bill months to write', parseCount)
    .option('--days <n>', 'usage days to write', parseCount)
    .option('--gzip', 'write .csv.gz files', false)
    .option('--delimiter <char>', 'field delimiter', ',')
    .option('--dirty <share>', 'share of fact rows made invalid on purpose (for testing the reject path)', parseShare)
    .option('--labels', 'also write labels.csv: who churned after the run date, drawn by a planted process (see the README)', false)
    .option(
      '--worked <outdir>',
      "the --out folder of earlier nights' runs: contact_history.csv adds what a simulated call centre made of their tasks (see the README)",
      folderArg('--worked'),
    )
    .action(
      async (opts: {
        subscribers: number;
        seed: string;
        out: string;
        asOf?: number;
        months?: number;
        days?: number;
        gzip: boolean;
        delimiter: string;
        dirty?: number;
        labels: boolean;
        worked?: string;
      }) => {
        if (![',', '|', ';', '\t'].includes(opts.delimiter))
          throw new ChurnwatchError('CW_USAGE', '--delimiter must be one of , | ; or a tab');
        const asOf = opts.asOf ?? todayIn('Asia/Shanghai');
        const seed = /^\d+$/.test(opts.seed) ? Number(opts.seed) : opts.seed;
        const { generateExtracts } = await import('../generate/generate.js');
        const { readWorkedNights } = await import('../generate/worked.js');
        const worked = opts.worked === undefined ? undefined : await readWorkedNights(resolve(opts.worked), asOf);
        const r = await generateExtracts({
          subscribers: opts.subscribers,
          seed,
          asOf,
          outDir: resolve(opts.out),
          months: opts.months,
          days: opts.days,
          gzip: opts.gzip,
          delimiter: opts.delimiter,
          dirtyShare: opts.dirty,
          labels: opts.labels,
          worked,
        });
        for (const f of r.files) io.out(`${f.name}\t${f.rows} rows\t${f.bytes} bytes\n`);
        if (worked !== undefined)
          io.out(`worked nights\t${worked.length}${worked.length > 0 ? `\t${worked.map((n) => formatDay(n.day)).join(' ')}` : ''}\n`);
      },
    );
}

/** Repeatable option: each occurrence adds to the list. */
function collect(v: string, list: string[] = []): string[] {
  return [...list, v];
}

/** The ids of --subscriber and --subscribers-file (one id a line; blank lines and a subscriber_id header skipped), with where each came from. */
function subscriberList(opts: { subscriber?: string[]; subscribersFile?: string }): { id: string; from: string }[] {
  const list = (opts.subscriber ?? []).map((id, k) => ({ id: id.trim(), from: `--subscriber number ${k + 1}` }));
  if (opts.subscribersFile !== undefined) {
    const file = opts.subscribersFile;
    let text: string;
    try {
      text = readFileSync(resolve(file), 'utf8');
    } catch {
      throw new ChurnwatchError(
        'CW_INPUT_MISSING',
        `subscriber list ${file} cannot be read; pass --subscribers-file with a file of one subscriber_id a line`,
        { file },
      );
    }
    text.split(/\r?\n/).forEach((line, k) => {
      const id = line.trim();
      if (id !== '' && !(k === 0 && id === 'subscriber_id')) list.push({ id, from: `line ${k + 1} of ${file}` });
    });
  }
  if (list.length === 0)
    throw new ChurnwatchError('CW_USAGE', 'name the subscribers to explain with --subscriber ID (repeatable) or --subscribers-file FILE');
  return list;
}

/** An analyst's command with the options they all share: the extracts, D, the rule pack, the configuration and --json. */
function analystCommand(name: string, description: string, json = 'print JSON instead of text', rules = 'rule pack'): Command {
  return new Command(name)
    .description(description)
    .requiredOption('--input <dir>', 'folder of CSV extracts', folderArg('--input'))
    .option('--as-of <date>', 'run date D (YYYY-MM-DD); default today in the configured time zone', parseAsOf)
    .option('--rules <file>', rules, DEFAULT_RULES)
    .option('--config <file>', 'run configuration (delimiter, encoding, header mapping)')
    .option('--workers <n>', WORKERS_HELP, parseWorkers)
    .option('--engine <engine>', 'in-process only: --engine duckdb is for run', inProcessOnly(name))
    .option('--json', json, false);
}

/**
 * The analysts' commands read every subscriber's measures (explain's values, backtest's
 * measures file, diff's two packs), which the duckdb engine keeps out of the process:
 * they take --engine in-process, and refuse duckdb rather than ignore it.
 */
function inProcessOnly(command: string): (v: string) => string {
  return (v) => {
    if (v === 'in-process') return v;
    if (v === 'duckdb')
      throw new ChurnwatchError(
        'CW_USAGE',
        `--engine duckdb is for run: ${command} reads the extracts in process; drop --engine (the results are the same as the duckdb engine's)`,
      );
    throw new InvalidArgumentError(`Allowed choices are ${ENGINES.join(', ')}.`);
  };
}

export function makeSqlCommand(io: Io): Command {
  return new Command('sql')
    .description('Print one SQL script that computes scores.csv (every measure, rule flag, value, tier and risk) in DuckDB or Spark SQL')
    .requiredOption('--as-of <date>', 'run date D (YYYY-MM-DD); the script computes the scores of that date', parseAsOf)
    .addOption(new Option('--dialect <dialect>', 'SQL dialect').choices(['duckdb', 'spark']).makeOptionMandatory())
    .option('--rules <file>', 'rule pack', DEFAULT_RULES)
    .option('--input <dir>', 'DuckDB: folder of the CSV extracts the script reads (default: the current folder when it runs)')
    .action(async (opts: { asOf: number; dialect: SqlDialectName; rules: string; input?: string }) => {
      const pack = loadRulePack(opts.rules);
      const { rulePackSql } = await import('../rules/sql.js');
      const files: Record<string, string> = {};
      if (opts.input !== undefined) {
        const dir = resolve(opts.input);
        for (const name of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts']) {
          const gz = join(dir, `${name}.csv.gz`);
          files[name] = (existsSync(gz) ? gz : join(dir, `${name}.csv`)).replaceAll('\\', '/');
        }
      }
      io.out(rulePackSql(pack, { dialect: opts.dialect, asOf: opts.asOf, files }));
    });
}

export function makeExplainCommand(io: Io): Command {
  return analystCommand(
    'explain',
    'Show why subscribers are or are not flagged: every rule, the values it read, the verdict, value, tier and risk; many subscribers cost one read of the extracts',
    'print JSON instead of text (an array when more than one subscriber is asked for)',
  )
    .option('--subscriber <id>', 'subscriber_id to explain; repeat for several', collect)
    .option('--subscribers-file <file>', 'file of subscriber_ids to explain, one a line')
    .option('--out <dir>', "the run's output folder: task ids and states continue its latest ledger before D, as the run would")
    .action(
      async (opts: {
        input: string;
        subscriber?: string[];
        subscribersFile?: string;
        asOf?: number;
        rules: string;
        config?: string;
        out?: string;
        json: boolean;
      }) => {
        const wanted = subscriberList(opts);
        const { pack, config, inputDir, asOf, tuning } = loadRunInputs(opts);
        const { analyse, decideContacts } = await import('../analyse.js');
        const { explain, explainMany, explanationText, explanationsText, policyOutcome } = await import('../report/explain.js');
        const a = await analyse({ ...config.input, dir: inputDir }, asOf, pack, { tuning });
        const ids = a.extracts.subscribers.ids;
        const d = decideContacts(pack, asOf, config.input, a, opts.out === undefined ? null : resolve(opts.out));
        const args = {
          pack,
          D: asOf,
          m0: a.m0,
          subscribers: a.extracts.subscribers,
          table: a.table,
          evaluation: a.evaluation,
          scores: a.scores,
          policyOf: (i: number) => policyOutcome(d.policy, d.ledger, i),
          locale: config.output.locale,
        };
        if (wanted.length === 1 && opts.subscribersFile === undefined) {
          const index = ids.indexOf(wanted[0]!.id);
          if (index < 0)
            throw new ChurnwatchError(
              'CW_USAGE',
              'the subscriber asked for is not in subscribers.csv (or its row was rejected: see rejects.csv of a run); check the id given to --subscriber',
            );
          const e = explain({ ...args, index });
          io.out(opts.json ? JSON.stringify(e, null, 2) + '\n' : explanationText(e, pack, config.output.locale));
          return;
        }
        const position = new Map<string, number>();
        for (let i = 0; i < ids.length; i++) position.set(ids.get(i), i);
        const unknown = wanted.filter((w) => !position.has(w.id));
        if (unknown.length > 0) {
          throw new ChurnwatchError(
            'CW_USAGE',
            `${unknown.length} of ${wanted.length} subscribers asked for are not in subscribers.csv (or their rows were rejected: see rejects.csv of a run); the first is ${unknown[0]!.from}; check those ids`,
          );
        }
        const es = explainMany(
          args,
          wanted.map((w) => position.get(w.id)!),
        );
        io.out(opts.json ? JSON.stringify(es, null, 2) + '\n' : explanationsText(es, pack, config.output.locale));
      },
    );
}

/** The labels file of backtest and diff, its bad rows limited by the pack's reject share. */
async function loadLabels(file: string, maxBadShare: number) {
  const { readLabels } = await import('../ingest/labels.js');
  return readLabels(resolve(file), file, maxBadShare);
}

export function makeBacktestCommand(io: Io): Command {
  return analystCommand(
    'backtest',
    'Measure how well each rule and the combined score find the churners of a labels file: precision, recall, lift with 95% intervals, deciles, AUC. Publishes nothing.',
  )
    .requiredOption('--labels <file>', 'CSV with subscriber_id,churned (0/1) and optionally churn_date')
    .option(
      '--measures-out <file>',
      "also write a CSV of every subscriber: scores.csv's columns, every measure the pack reads, and churned (empty: no label)",
    )
    .action(
      async (opts: {
        input: string;
        labels: string;
        asOf?: number;
        rules: string;
        config?: string;
        json: boolean;
        measuresOut?: string;
      }) => {
        const { pack, config, inputDir, asOf, tuning } = loadRunInputs(opts);
        const { analyse } = await import('../analyse.js');
        const { LABEL_COLUMN, backtest, backtestText, joinLabels, labelMeasure, toJson } = await import('../report/backtest.js');
        const { measureNames, scoreColumns, scoreMeasures } = await import('../output/measures.js');
        const { writeFileAtomically } = await import('../output/publish.js');
        // The label column goes last; a measure of its name, like one of a rule id's, is refused before the read.
        const taken = [...scoreColumns(pack), LABEL_COLUMN];
        if (opts.measuresOut !== undefined) measureNames(requiredFeatures(pack), taken);
        const labels = await loadLabels(opts.labels, pack.gates.maxRejectShare);
        const a = await analyse({ ...config.input, dir: inputDir }, asOf, pack, { tuning });
        const ids = a.extracts.subscribers.ids;
        const b = backtest({ pack, asOf, ids, evaluation: a.evaluation, scores: a.scores, labels });
        if (opts.measuresOut !== undefined) {
          const label = joinLabels(ids, labels, asOf).label;
          const measures = [...scoreMeasures(a.features, a.table, taken), labelMeasure(label)];
          // Loaded here: scores.js brings apache-arrow, which no other path of the command needs.
          const { writeScoresCsv } = await import('../output/scores.js');
          writeFileAtomically(resolve(opts.measuresOut), config.output.fileMode, (f) => {
            writeScoresCsv(f, ids, a.evaluation, a.scores, measures);
          });
        }
        io.out(opts.json ? toJson(b) : backtestText(b));
      },
    );
}

/** sha256 over the extracts read (by name) and the labels file: what calibrate's record names as its data. */
function dataSha256(files: readonly { file: string; sha256: string }[], labelsFile: string): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) h.update(`${f.file} ${f.sha256}\n`);
  h.update(`labels ${createHash('sha256').update(readFileSync(labelsFile)).digest('hex')}\n`);
  return h.digest('hex');
}

export function makeCalibrateCommand(io: Io): Command {
  return new Command('calibrate')
    .description(
      'Fit a scorecard (quantile steps of measures and the pack rules, an L2-regularised logistic fit) on a labels file and write it as a logistic rule pack; prints held-out lift and AUC of the old and the new pack. Publishes nothing.',
    )
    .requiredOption('--input <dir>', 'folder of CSV extracts', folderArg('--input'))
    .requiredOption('--labels <file>', 'CSV with subscriber_id,churned (0/1) and optionally churn_date')
    .requiredOption('--out <file>', 'the calibrated rule pack to write (YAML)')
    .option('--as-of <date>', 'run date D (YYYY-MM-DD); default today in the configured time zone', parseAsOf)
    .option('--rules <file>', 'rule pack to start from: its rules become terms, its other sections are kept', DEFAULT_RULES)
    .option('--config <file>', 'run configuration (delimiter, encoding, header mapping)')
    .option('--measures <list>', "more measures to give steps, comma-separated: 'D - activation_date,calls(d1)'")
    .option('--seed <seed>', 'key of the training / held-out split', '1')
    .option('--monotone', "merge neighbouring steps until each measure's points run one way", false)
    .option('--force', 'write the pack even when it is worse than the old one on the held-out part', false)
    .action(
      async (opts: {
        input: string;
        labels: string;
        out: string;
        asOf?: number;
        rules: string;
        config?: string;
        measures?: string;
        seed: string;
        monotone: boolean;
        force: boolean;
      }) => {
        if (resolve(opts.out) === resolve(opts.rules))
          throw new ChurnwatchError('CW_USAGE', '--out names the pack calibrate starts from; write the calibrated pack to another file');
        const { pack, config, inputDir, asOf, tuning } = loadRunInputs(opts);
        const { analyseEach } = await import('../analyse.js');
        const { joinLabels } = await import('../report/backtest.js');
        const { calibrate, calibrationText, candidateMeasures, scorecardPackText, splitMeasureList } = await import(
          '../report/calibrate.js'
        );
        const oldText = readFileSync(opts.rules, 'utf8');
        const labels = await loadLabels(opts.labels, pack.gates.maxRejectShare);
        const candidates = candidateMeasures(pack, splitMeasureList(opts.measures ?? ''));
        // One read of the extracts for the old pack and every candidate: a pack with each candidate's steps.
        const probe = parseRulePack(
          scorecardPackText(oldText, {
            intercept: 0,
            flagRisk: 0,
            rulePoints: new Map(),
            measures: candidates.map((c) => ({ ...c, edges: [0], points: [1, 1] })),
            fitted: null,
            header: null,
          }),
          opts.out,
        );
        const [a, b] = await analyseEach({ ...config.input, dir: inputDir }, asOf, [pack, probe], { tuning });
        const ids = a!.extracts.subscribers.ids;
        const c = calibrate({
          oldPack: pack,
          oldText,
          file: opts.out,
          candidates,
          table: b!.table,
          D: asOf,
          ids,
          label: joinLabels(ids, labels, asOf).label,
          oldScores: a!.scores,
          seed: opts.seed,
          monotone: opts.monotone,
          dataSha256: dataSha256(a!.extracts.files, opts.labels),
          version: VERSION,
        });
        io.out(calibrationText(c));
        if (c.worse && !opts.force)
          throw new ChurnwatchError(
            'CW_CALIBRATE_WORSE',
            `the calibrated pack is worse than ${opts.rules} on the held-out part (top-decile lift ${c.new.topDecileLift.toFixed(2)}x against ${c.old.topDecileLift.toFixed(2)}x); nothing written: add labelled history or measures (--measures), or pass --force to write it anyway`,
          );
        const tmp = `${opts.out}.tmp-${process.pid}`;
        try {
          writeFileSync(tmp, c.text, { mode: 0o644 });
          renameSync(tmp, opts.out);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw new ChurnwatchError(
            'CW_OUTPUT_UNWRITABLE',
            `cannot write ${opts.out} (${(e as NodeJS.ErrnoException).code ?? 'error'}); pass --out with a writable file`,
            {
              file: opts.out,
            },
          );
        }
        io.out(`wrote ${opts.out}\n`);
      },
    );
}

export function makeDiffCommand(io: Io): Command {
  return analystCommand(
    'diff',
    'Show what changing the rule pack from --rules to --rules-b does: who enters and leaves, hits per rule, task tier moves, and with --labels the precision and lift of each. Publishes nothing.',
    undefined,
    'rule pack A',
  )
    .requiredOption('--rules-b <file>', 'rule pack B, compared with --rules (A)')
    .option('--labels <file>', 'CSV with subscriber_id,churned (0/1): adds precision, recall, lift and AUC of each pack')
    .option('--list <n>', 'also print the first n subscriber_ids (by id) that enter and that leave', parseCount)
    .option('--steps', 'also list each scorecard step under its measure (--json always has them)', false)
    .action(
      async (opts: {
        input: string;
        rulesB: string;
        rules: string;
        asOf?: number;
        labels?: string;
        list?: number;
        steps: boolean;
        config?: string;
        json: boolean;
      }) => {
        const { pack, config, inputDir, asOf, tuning } = loadRunInputs(opts);
        const packB = loadRulePack(opts.rulesB);
        const { analyseEach } = await import('../analyse.js');
        const { joinLabels, toJson } = await import('../report/backtest.js');
        const { diffPacks, diffText } = await import('../report/diff.js');
        const labels =
          opts.labels === undefined
            ? undefined
            : await loadLabels(opts.labels, Math.min(pack.gates.maxRejectShare, packB.gates.maxRejectShare));
        const [a, b] = await analyseEach({ ...config.input, dir: inputDir }, asOf, [pack, packB], { tuning });
        const ids = a!.extracts.subscribers.ids;
        const d = diffPacks({
          asOf,
          ids,
          list: opts.list,
          a: { pack, evaluation: a!.evaluation, scores: a!.scores },
          b: { pack: packB, evaluation: b!.evaluation, scores: b!.scores },
          labels: labels && joinLabels(ids, labels, asOf),
        });
        io.out(opts.json ? toJson(d) : diffText(d, { steps: opts.steps }));
      },
    );
}

export function makeRulesCommand(io: Io): Command {
  const rules = new Command('rules').description('Work with rule packs');
  rules
    .command('check')
    .description('Validate a rule pack and print what each rule reads and flags')
    .argument('[file]', 'rule pack', DEFAULT_RULES)
    .action((file: string) => {
      const pack = loadRulePack(file);
      const lines = [
        `rule pack ${pack.name} v${pack.version} (sha256 ${pack.hash.slice(0, 12)}): ${pack.rules.length} rules, ${pack.rules.filter((r) => r.enabled).length} enabled`,
      ];
      lines.push(`value: ${pack.value.expr}`);
      lines.push(
        pack.tiers.method === 'threshold'
          ? `tiers: high >= ${pack.tiers.high}, mid >= ${pack.tiers.mid}, else mass`
          : `tiers: top ${pack.tiers.highShare * 100}% high, next ${pack.tiers.midShare * 100}% mid`,
      );
      lines.push(`never flagged: ${pack.exclude.expr}`);
      if (pack.score === 'logistic')
        lines.push(
          `score: logistic, risk = 1 / (1 + exp(-(${pack.intercept} + points hit))); flagged from risk ${pack.flagRisk}; tasks ranked by ${pack.ranking}`,
        );
      else if (pack.ranking === 'risk') lines.push('tasks ranked by risk');
      lines.push(`extracts needed: ${[...neededFiles(pack)].join(', ')}`);
      for (const r of pack.rules) {
        const reads = [...r.features.values()];
        lines.push('');
        lines.push(`${r.id}${r.enabled ? '' : ' (disabled)'}: ${r.title}`);
        lines.push(`  flags when: ${r.when.replace(/\s+/g, ' ')}`);
        lines.push(`  reads: ${[...r.features.keys()].join(', ')} (from ${[...new Set(reads.map(featureFile))].join(', ')})`);
        lines.push(`  ${pack.score === 'logistic' ? 'points' : 'weight'} ${r.weight}, ${r.channel} within ${r.dueHours}h: ${r.action}`);
      }
      lines.push('', 'measures a rule can call (Mk: month k before the run month, M0 the latest; dk: day D-k):');
      for (const m of measureHelp(pack.measures)) lines.push(`  ${m}`);
      void requiredFeatures(pack);
      io.out(lines.join('\n') + '\n');
    });
  return rules;
}

export function makeReportCommand(io: Io): Command {
  return new Command('report')
    .description(
      'Write the HTML report of a published run (the page every run also writes as report.html), optionally with the decile lift chart of a backtest',
    )
    .argument('<dir>', 'the folder of a published run, OUTDIR/<date>; earlier runs in OUTDIR make the trend')
    .option('--out <file>', 'HTML file to write, or - for stdout; default report-<date>.html in the current folder')
    .option('--backtest <file>', 'backtest result (JSON) to draw the decile lift chart from')
    .action(async (dir: string, opts: { out?: string; backtest?: string }) => {
      const { publishedReportHtml } = await import('../report/run-report.js');
      const { asOf, html } = await publishedReportHtml(dir, opts.backtest);
      if (opts.out === '-') return io.out(html);
      const out = resolve(opts.out ?? `report-${asOf}.html`);
      // Written beside the target and renamed, so a reader never sees half a page.
      const tmp = `${out}.tmp-${process.pid}`;
      try {
        writeFileSync(tmp, html);
        renameSync(tmp, out);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new ChurnwatchError(
          'CW_OUTPUT_UNWRITABLE',
          `cannot write ${out} (${(e as NodeJS.ErrnoException).code ?? 'error'}); choose another --out`,
          { file: out },
        );
      }
      io.out(`wrote ${out}\n`);
    });
}

export function makeProgram(io: Io): Command {
  const program = new Command('churnwatch')
    .description(
      'Flags subscribers drifting away from billing, usage, ticket and contract extracts, and writes ranked callback task files per value tier.',
    )
    .version(VERSION);
  for (const cmd of [
    makeRunCommand(io),
    makeExplainCommand(io),
    makeGenerateCommand(io),
    makeRulesCommand(io),
    makeReportCommand(io),
    makeBacktestCommand(io),
    makeCalibrateCommand(io),
    makeDiffCommand(io),
    makeSqlCommand(io),
    makeTasksCommand(io),
  ])
    program.addCommand(cmd);
  // Commander's error text (two lines with a suggestion, then the help) is dropped:
  // main() prints every error in the one form `churnwatch: ... [CW_...]`.
  const quiet = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} });
    cmd.commands.forEach(quiet);
  };
  quiet(program);
  return program;
}

const HELP_FLAGS = new Set(['-h', '--help']);

/**
 * Walks the command words of argv before commander parses it, for what commander
 * gets wrong: it shows the root help and exits 0 for `backtset --help`, so a
 * mistyped command in a cron line would succeed, and it answers a missing command
 * with the help on stderr. An unknown word loses its help flags, so commander
 * reports it (with its "did you mean" suggestion); `help X` with an unknown X is
 * the same mistake. Options of a command that has subcommands take no value.
 */
function checkCommandWords(program: Command, argv: string[]): { argv: string[]; command: Command } {
  const find = (cmd: Command, word: string | undefined) => cmd.commands.find((c) => c.name() === word || c.aliases().includes(word ?? ''));
  let cmd = program;
  let i = 0;
  while (cmd.commands.length > 0) {
    if (i === argv.length)
      throw new ChurnwatchError(
        'CW_USAGE',
        `missing command: ${cmd.commands.map((c) => c.name()).join(', ')}; see '${commandLine(cmd)} --help'`,
      );
    while (i < argv.length && argv[i]!.startsWith('-')) i++;
    if (i === argv.length) break;
    if (argv[i] === 'help') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-') || find(cmd, next) !== undefined) break;
      argv = [...argv.slice(0, i), ...argv.slice(i + 1)];
    }
    const sub = find(cmd, argv[i]);
    if (sub === undefined) return { argv: argv.filter((a) => !HELP_FLAGS.has(a)), command: cmd };
    cmd = sub;
    i++;
  }
  return { argv, command: cmd };
}

/** "churnwatch rules check" for a command. */
function commandLine(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** A commander error in the one form: its text on one line, with where to find the usage. */
function usageError(e: CommanderError, cmd: Command): ChurnwatchError {
  const text = e.message
    .replace(/^error: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ')
    .replace('(Did you mean', '(did you mean')
    .replace(/\.$/, '');
  return new ChurnwatchError('CW_USAGE', `${text}; see '${commandLine(cmd)} --help'`);
}

/**
 * Runs the CLI and returns the exit status; never calls process.exit. Everything
 * written to stderr passes through scrubPersonal: messages never quote field values,
 * and a library message that does (an internal error) has its phone and ID numbers masked.
 * Every error is one line `churnwatch: <message> [<code>]`, its exit status from the code.
 */
export async function main(
  argv: string[],
  io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
): Promise<number> {
  const safe: Io = { out: io.out, err: (s) => io.err(scrubPersonal(s)), log: io.log };
  const program = makeProgram(safe);
  let command = program;
  try {
    const checked = checkCommandWords(program, argv);
    command = checked.command;
    await program.parseAsync(checked.argv, { from: 'user' });
    return 0;
  } catch (caught) {
    let e = caught;
    if (e instanceof CommanderError) {
      // Help and the version are answers, not errors.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || (e.code === 'commander.help' && e.exitCode === 0))
        return 0;
      e = usageError(e, command);
    }
    const code = exitCodeOf(e);
    if (e instanceof ChurnwatchError) safe.err(`churnwatch: ${e.message} [${e.code}]\n`);
    else io.err(internalErrorLine(e));
    return code;
  }
}

/** The one line for a bug: its first line only (the stack goes to the log), phone and ID numbers masked. */
export function internalErrorLine(e: unknown): string {
  const first = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split('\n')[0]!;
  return scrubPersonal(`churnwatch: internal error, a bug: please report it with the log: ${first} [CW_INTERNAL]\n`);
}
