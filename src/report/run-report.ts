/**
 * The two ways to a run report: the nightly run writes one into its publication from
 * what it has in memory, and `churnwatch report` rebuilds one from a published folder
 * (optionally with a backtest result). Both read the earlier runs from the same output
 * folder, so the same folder gives the same page either way.
 */
import { dirname, resolve } from 'node:path';
import { reportHtml } from './html.js';
import { chartLibrary, readBacktest, readEarlierRuns, readPublishedRun } from './report-files.js';
import { reportModel, runCounts } from './report-model.js';

/** report.html of a nightly run: its summary object, its risk column, and the runs before it in `outRoot`. */
export function nightlyReportHtml(summary: unknown, risk: ArrayLike<number>, outRoot: string): string {
  const current = runCounts(summary, 'summary.json');
  const { earlier, skipped } = readEarlierRuns(outRoot, current.asOf);
  return reportHtml(reportModel({ current, risk, earlier, skipped }), chartLibrary());
}

/** The report of a published run folder (OUTDIR/<date>), with the decile lift chart of a backtest result when given. */
export async function publishedReportHtml(dir: string, backtestPath?: string): Promise<{ asOf: string; html: string }> {
  const folder = resolve(dir);
  const { counts, risk } = await readPublishedRun(folder);
  const backtest = backtestPath === undefined ? undefined : readBacktest(backtestPath);
  const { earlier, skipped } = readEarlierRuns(dirname(folder), counts.asOf);
  return { asOf: counts.asOf, html: reportHtml(reportModel({ current: counts, risk, earlier, skipped, backtest }), chartLibrary()) };
}
