/**
 * The readers of the run report: the chart library's files from node_modules, the
 * summaries of the runs published in an output folder, a published run's risk column
 * and a backtest result. Everything else about the report is pure (report-model.ts,
 * html.ts).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { ChurnwatchError } from '../errors.js';
import type { ChartLibrary } from './html.js';
import { parseBacktest, runCounts, type Decile, type EarlierRun, type RunCounts } from './report-model.js';

/** A publication's folder name: its as-of date. */
const DATE_FOLDER = /^\d{4}-\d{2}-\d{2}$/;
/** About a year of nightly runs in the trend; older ones are left out so the report stays small. */
export const TREND_RUNS = 366;

let library: ChartLibrary | undefined;

/** uPlot's minified build and stylesheet, read once from the installed package (the page embeds them). */
export function chartLibrary(): ChartLibrary {
  if (library) return library;
  const require = createRequire(import.meta.url);
  try {
    const version = (JSON.parse(readFileSync(require.resolve('uplot/package.json'), 'utf8')) as { version: string }).version;
    library = {
      name: 'uPlot',
      version,
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8').trim(),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8').trim(),
    };
  } catch (e) {
    throw new ChurnwatchError(
      'CW_INTERNAL',
      `the chart library uplot is not installed (${(e as NodeJS.ErrnoException).code ?? 'error'}); reinstall churnwatch with its dependencies (npm ci)`,
    );
  }
  return library;
}

/** JSON.parse with a message that says where (line, column) and never quotes the text. */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec((e as Error).message);
    const context: { file: string; line?: number; column?: number } = { file };
    if (at) {
      const before = text.slice(0, Number(at[1]));
      context.line = before.split('\n').length;
      context.column = before.length - before.lastIndexOf('\n');
    }
    const where = at ? ` at line ${context.line}, column ${context.column}` : '';
    throw new ChurnwatchError('CW_REPORT_INPUT', `${file}: not valid JSON${where}; check that the file is complete`, context);
  }
}

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ChurnwatchError('CW_INPUT_MISSING', `${path} does not exist; ${what}`, { file: path });
    throw new ChurnwatchError('CW_INPUT_MISSING', `cannot read ${path} (${code ?? 'error'}); check its permissions`, { file: path });
  }
}

/**
 * The summaries of the runs published in `outRoot` before `asOf` (a folder named by
 * its date, holding manifest.json), newest TREND_RUNS of them. One that cannot be read
 * is named in `skipped` instead of failing: a damaged old folder must not stop tonight's
 * report.
 */
export function readEarlierRuns(outRoot: string, asOf: string): { earlier: EarlierRun[]; skipped: string[] } {
  let names: string[];
  try {
    names = readdirSync(outRoot);
  } catch {
    return { earlier: [], skipped: [] };
  }
  const dates = names
    .filter((n) => DATE_FOLDER.test(n) && n < asOf && existsSync(join(outRoot, n, 'manifest.json')))
    .sort()
    .slice(-TREND_RUNS);
  const earlier: EarlierRun[] = [];
  const skipped: string[] = [];
  for (const date of dates) {
    try {
      const file = join(outRoot, date, 'summary.json');
      const counts = runCounts(parseJsonFile(readFileSync(file, 'utf8'), `${date}/summary.json`), `${date}/summary.json`);
      if (counts.asOf !== date) throw new Error('as_of differs from the folder name');
      earlier.push({ date, counts });
    } catch {
      skipped.push(date);
    }
  }
  return { earlier, skipped };
}

export interface PublishedRun {
  counts: RunCounts;
  risk: Float64Array;
}

/** A published run's counts (summary.json) and risk column (scores.arrow, full precision like the run's own). */
export async function readPublishedRun(dir: string): Promise<PublishedRun> {
  const name = basename(dir);
  const hint = 'pass the folder of a published run, OUTDIR/<date>';
  if (!existsSync(dir)) throw new ChurnwatchError('CW_INPUT_MISSING', `${dir} does not exist; ${hint}`, { file: dir });
  const counts = runCounts(
    parseJsonFile(readInput(join(dir, 'summary.json'), hint).toString('utf8'), `${name}/summary.json`),
    `${name}/summary.json`,
  );
  const arrowPath = join(dir, 'scores.arrow');
  const bytes = readInput(arrowPath, hint);
  const { tableFromIPC } = await import('apache-arrow');
  let risk: Float64Array;
  try {
    const column = tableFromIPC(bytes).getChild('risk_score');
    if (!column) throw new Error('no risk_score column');
    risk = Float64Array.from(column.toArray() as ArrayLike<number>);
  } catch {
    throw new ChurnwatchError(
      'CW_REPORT_INPUT',
      `${name}/scores.arrow is not an Arrow file with a risk_score column; rerun the date to publish it again`,
      { file: arrowPath },
    );
  }
  return { counts, risk };
}

export function readBacktest(path: string): { file: string; deciles: Decile[] } {
  const file = basename(path);
  const deciles = parseBacktest(
    parseJsonFile(readInput(path, 'pass the JSON file that churnwatch backtest --json wrote').toString('utf8'), file),
    file,
  );
  return { file, deciles };
}
