/**
 * Worker thread entry (see score-files.ts): writes scores.csv and scores.arrow into
 * the publication's hidden folder from the columns it was given, then posts their
 * records, or the error as plain data. The files are opened as Publication.open
 * opens them (same modes, hashed while written, synced on the thread pool as they
 * grow and once closed: scores.arrow is written while scores.csv's last sync runs);
 * it posts once both are synced. The main thread adds the records to the publication.
 */
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../errors.js';
import { threadInput, yieldCores } from '../util/worker.js';
import { FolderWriter } from './publish.js';
import {
  fromWorkerInput,
  type ScoresFromWorker,
  type ScoresRulesPart,
  type ScoresScoresPart,
  type ScoresWorkerInput,
} from './scores-protocol.js';
import { flagKeys, KEYS_AHEAD_MAX_ROWS, writeScoreFiles } from './scores.js';
import { stepSources, withStepColumns } from '../evaluate/step-columns.js';

// Started ahead (score-files.ts startScoresThread), its input comes once the score stage is done, or in two
// parts: the rules' columns when the rules stage is done, their flags' combinations made while the scores are.
let scored: (part: ScoresScoresPart) => void = () => {};
const scores = new Promise<ScoresScoresPart>((resolve) => {
  scored = resolve;
});
const first = await threadInput<ScoresRulesPart | ScoresWorkerInput, ScoresScoresPart>((part) => scored(part));
let msg: ScoresFromWorker;
const folder = new FolderWriter(first.place);
try {
  const ahead = first.n <= KEYS_AHEAD_MAX_ROWS;
  const keys = ahead ? flagKeys(first.flags, first.n, first.bins) : undefined;
  // Up to that size a scorecard's step columns are made now too, from their bins, while the score stage leaves
  // this thread a core: scores.arrow then takes them as they are, where made at its turn they put this thread's
  // end after the task files' (~0.4 s at 1M with 94 steps).
  const flags = ahead ? withStepColumns(first.flags, stepSources(first.bins)).map((f) => f) : null;
  const input: ScoresWorkerInput = 'risk' in first ? first : { ...first, ...(await scores) };
  // From here on three threads share the cores (this one, the main thread, the task-files worker),
  // and the run ends when the task files are written: theirs is the work to finish first.
  yieldCores(10);
  const { ids, ev, s, measures } = fromWorkerInput(input);
  const rules = flags === null ? ev : { ruleIds: ev.ruleIds, flags, value: ev.value };
  const records = writeScoreFiles((name) => folder.open(name), ids, rules, s, measures, keys);
  await folder.synced();
  msg = { type: 'done', records };
} catch (e) {
  // The syncs under way must end before the main thread may remove the folder.
  await folder.synced().catch(() => {});
  msg = { type: 'error', error: serializeError(e) };
}
parentPort!.postMessage(msg);
// threadInput listens on the port, which would keep the thread alive.
parentPort!.unref();
