/**
 * The nightly run, stage by stage: rule pack → ingest → gates → features → rules →
 * scores → tasks → publish. Stages in the middle take values and return values; this
 * module wires them together, times them and hands the outputs to the publisher.
 */
import type { Logger } from 'pino';
import { neededFiles, requiredFeatures, type RulePack } from './config/rulepack.js';
import { ChurnwatchError } from './errors.js';
import { buildFeatures } from './features/features.js';
import { ingest } from './ingest/ingest.js';
import { checkBillingMonths, checkRejectShare, checkUsageDays, chooseM0 } from './ingest/gates.js';
import type { InputOptions } from './ingest/layout.js';
import { evaluate } from './rules/evaluate.js';
import { rankTasks, score, TIER_CODES } from './score/score.js';
import { buildTaskRows, TASK_COLUMNS, TASK_FREE_TEXT } from './tasks/tasks.js';
import { formatDay, formatMonth, monthOfDay } from './util/dates.js';
import { csvLine, csvText } from './output/csv.js';
import { Publication, RunLock, ensureDir, sweepLeftovers } from './output/publish.js';
import { scoresArrow, writeScoresCsv } from './output/scores.js';
import { manifestJson } from './report/manifest.js';
import { statSync } from 'node:fs';
import { basename } from 'node:path';

export interface RunOptions {
  input: InputOptions;
  outRoot: string;
  asOf: number;
  pack: RulePack;
  packPath: string;
  force: boolean;
  fileMode: number;
  dirMode: number;
  logger: Logger;
  onProgress?: (stage: string) => void;
}

export interface RunResult {
  published: string;
  tasks: Record<string, number>;
  summary: Record<string, unknown>;
}

export async function runNightly(o: RunOptions): Promise<RunResult> {
  const { pack, asOf, logger } = o;
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round(now - t);
    t = now;
    logger.info({ stage, ms: timings[stage] }, 'stage done');
  };
  const asOfText = formatDay(asOf);
  ensureDir(o.outRoot, o.dirMode);
  const lock = new RunLock(o.outRoot);
  lock.acquire();
  try {
    sweepLeftovers(o.outRoot);
    // Refuse early (before the long read) when the date is published and --force is absent.
    let publication: Publication | undefined = new Publication(o.outRoot, asOfText, { force: o.force, fileMode: o.fileMode, dirMode: o.dirMode });
    try {
      const features = requiredFeatures(pack);
      const needed = neededFiles(pack);
      const extracts = await ingest({
        asOf, input: o.input, features, needed,
        onStage: (stage) => { o.onProgress?.(stage); logger.info({ stage }, 'stage start'); },
      });
      lap('ingest');

      o.onProgress?.('gates');
      const asOfMonth = monthOfDay(asOf);
      const m0 = chooseM0(extracts.billing.rowsPerMonth, asOfMonth);
      checkBillingMonths(pack, extracts.billing.rowsPerMonth, m0, features);
      if (extracts.usage) checkUsageDays(pack, extracts.usage.rowsPerDay, asOf, features, pack.gates.minDayRowsRatio);
      checkRejectShare(extracts.files, pack.gates.maxRejectShare);
      lap('gates');

      o.onProgress?.('features');
      const table = buildFeatures(extracts, features, m0);
      lap('features');
      o.onProgress?.('rules');
      const ev = evaluate(pack, table, asOf);
      lap('rules');
      o.onProgress?.('score');
      const ids = extracts.subscribers.ids;
      const scores = score(pack, ev, ids);
      const perTier = rankTasks(pack, scores, ids, extracts.doNotCall);
      lap('score');

      o.onProgress?.('write');
      const taskCounts: Record<string, number> = {};
      const taskInput = { pack, D: asOf, subscribers: extracts.subscribers, features: table, evaluation: ev, scores, contacts: extracts.contacts };
      TIER_CODES.forEach((tier, k) => {
        const rows = buildTaskRows(taskInput, tier, perTier[k]!);
        taskCounts[tier] = rows.length;
        publication!.writeText(`tasks-${tier}.csv`, csvText(TASK_COLUMNS, rows, TASK_FREE_TEXT));
      });
      const scoresCsv = publication.open('scores.csv');
      writeScoresCsv(scoresCsv, ids, ev, scores);
      publication.add(scoresCsv.close());
      const arrowFile = publication.open('scores.arrow');
      arrowFile.writeBytes(scoresArrow(ids, ev, scores));
      publication.add(arrowFile.close());
      const rejectsFile = publication.open('rejects.csv');
      rejectsFile.write(csvLine(['file', 'line', 'column', 'code', 'reason', 'raw_value']));
      for (const r of extracts.rejects.rows) rejectsFile.write(csvLine([r.file, String(r.line), r.column, r.code, r.reason, r.raw], new Set([4, 5])));
      publication.add(rejectsFile.close());
      lap('write');

      const subscribersPerTier = { high: 0, mid: 0, mass: 0 } as Record<string, number>;
      for (let i = 0; i < scores.tier.length; i++) subscribersPerTier[TIER_CODES[scores.tier[i]!]!]!++;
      const hitsPerRule: Record<string, number> = {};
      ev.ruleIds.forEach((id, j) => { let c = 0; const f = ev.flags[j]!; for (let i = 0; i < f.length; i++) c += f[i]!; hitsPerRule[id] = c; });
      const suppressed = extracts.doNotCall ? countSuppressed(scores.hits, extracts.doNotCall) : 0;
      const monthsUsed: Record<string, string> = {};
      for (const f of features.values()) if (f.source === 'billing') monthsUsed[`M${f.month}`] = formatMonth(m0 - f.month);
      const daysUsed: Record<string, string> = {};
      for (const f of features.values()) if (f.source === 'usage') daysUsed[`d${f.day}`] = formatDay(asOf - f.day);

      // Hashes were taken while reading; a file whose size or mtime moved since then was rewritten under the run.
      const inputs = extracts.files.map((f) => {
        const now = statSync(f.path);
        if (now.size !== f.before.size || now.mtimeMs !== f.before.mtimeMs || f.bytes !== f.before.size) {
          throw new ChurnwatchError('CW_INPUT_CHANGED', `${f.file} changed while the run read it; rerun when the export has finished`, { file: f.file });
        }
        return { extract: f.extract, file: basename(f.path), bytes: f.before.size, sha256: f.sha256 };
      });
      const summary = {
        as_of: asOfText,
        rule_pack: { name: pack.name, sha256: pack.hash },
        files: Object.fromEntries(extracts.files.map((f) => [f.extract, { file: f.file, bytes: f.bytes, rows_read: f.records, rows_accepted: f.accepted, rows_rejected: f.rejected, ms: Math.round(f.ms) }])),
        subscribers: extracts.subscribers.n,
        subscribers_per_tier: subscribersPerTier,
        hits_per_rule: hitsPerRule,
        flagged: countNonZero(scores.hits),
        tasks_per_tier: taskCounts,
        suppressed_do_not_call: suppressed,
        months: { run_month: formatMonth(asOfMonth), ...monthsUsed },
        days: { D: asOfText, ...daysUsed },
        timings_ms: timings,
      };
      publication.writeText('summary.json', JSON.stringify(summary, null, 2) + '\n');
      const published = publication.commit((outputs) => manifestJson({ asOf: asOfText, pack, packPath: o.packPath, inputs, outputs }));
      publication = undefined;
      logger.info({ tasks: taskCounts, flagged: summary.flagged }, 'published');
      return { published, tasks: taskCounts, summary };
    } finally {
      publication?.abandon();
    }
  } finally {
    lock.release();
  }
}

function countNonZero(a: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < a.length; i++) if (a[i]) c++;
  return c;
}

function countSuppressed(hits: Uint8Array, dnc: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < hits.length; i++) if (hits[i] && dnc[i]) c++;
  return c;
}
