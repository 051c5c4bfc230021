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
  const keys = first.n <= KEYS_AHEAD_MAX_ROWS ? flagKeys(first.flags, first.n, first.bins) : undefined;
  const input: ScoresWorkerInput = 'risk' in first ? first : { ...first, ...(await scores) };
  // From here on three threads share the cores (this one, the main thread, the task-files worker),
  // and the run ends when the task files are written: theirs is the work to finish first.
  yieldCores(10);
  const { ids, ev, s, measures } = fromWorkerInput(input);
  const records = writeScoreFiles((name) => folder.open(name), ids, ev, s, measures, keys);
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
