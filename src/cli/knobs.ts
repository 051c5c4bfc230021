/**
 * The environment switches, and the only place churnwatch reads its own variables
 * from the environment. Each changes how a night reads or writes (threads, lookups,
 * cut sizes), never what it publishes: tests force both sides of a path with them,
 * and an operator diagnosing a slow night or timing an A/B run sets them. A command
 * reads them once, before it starts, and hands them down as a Tuning value; the
 * stages take values only (Biome's noProcessEnv holds src/ but cli/ to that).
 * docs/operating.md lists them; a test checks that it lists every one declared here.
 */
import type { Tuning } from '../analyse.js';
import { ChurnwatchError } from '../errors.js';
import { DIRECT_WHEN_FRESH_PAGE_MS } from '../output/direct-writes.js';

export interface Knob<K extends keyof Tuning = keyof Tuning> {
  /** The environment variable. */
  name: string;
  /** The Tuning setting it gives. */
  key: K;
  /** The values it takes, as an error names them. */
  values: string;
  /** What it switches, and what decides when it is unset. */
  meaning: string;
  /** Its value, or undefined when the text is none of `values`. */
  parse: (text: string) => Tuning[K] | undefined;
}

const onOff = (text: string): boolean | undefined => (text === '1' ? true : text === '0' ? false : undefined);

const positiveCount = (text: string): number | undefined => {
  const n = Number(text);
  return /^\d+$/.test(text) && Number.isSafeInteger(n) && n > 0 ? n : undefined;
};

export const KNOBS: readonly Knob[] = [
  {
    name: 'CHURNWATCH_INGEST_PARALLEL',
    key: 'ingestParallel',
    values: '1 or 0',
    meaning: "read the extracts with worker threads (1) or all in the main thread (0); unset: by the extracts' size and --workers",
    parse: onOff,
  },
  {
    name: 'CHURNWATCH_RANGE_MIN_BYTES',
    key: 'minRangeBytes',
    values: 'a whole number of bytes above 0',
    meaning: 'the smallest byte range a large extract is cut into for the reading threads (tests cut small files); unset: 8 MiB',
    parse: positiveCount,
  },
  {
    name: 'CHURNWATCH_ID_BATCH',
    key: 'idBatch',
    values: '1 or 0',
    meaning: "look the subscriber ids of fact rows up a batch at a time (1) or one at a time (0); unset: as the rows' order says",
    parse: onOff,
  },
  {
    name: 'CHURNWATCH_WRITE_PARALLEL',
    key: 'writeParallel',
    values: '1 or 0',
    meaning:
      "write the score files and the largest tier's task files on worker threads (1) or in the main thread (0); unset: worker threads from 250,000 subscribers on two cores or more",
    parse: onOff,
  },
  {
    name: 'CHURNWATCH_RULES_PARALLEL',
    key: 'rulesParallel',
    values: '1 or 0',
    meaning:
      "share a scorecard's steps and logit between the main thread and a worker thread (1) or run the rules in the main thread alone (0); unset: the worker thread from 250,000 subscribers on two cores or more",
    parse: onOff,
  },
  {
    name: 'CHURNWATCH_DIRECT_WRITES',
    key: 'directWrites',
    values: '1 or 0',
    meaning: `write the publication's large files past the page cache (O_DIRECT) where the file system takes it, plainly where it does not (1), or always through the page cache (0); unset: 1 where the platform has O_DIRECT and a fresh page of memory costs over ${DIRECT_WHEN_FRESH_PAGE_MS} ms a MiB to touch (a virtual machine whose host must supply it again), else 0`,
    parse: onOff,
  },
];

/**
 * The Tuning the environment sets; an empty variable counts as unset. A value that
 * is none of a knob's values fails the command (exit 64) rather than being ignored:
 * an A/B timing that silently measured the default would mislead.
 */
export function readTuning(env: NodeJS.ProcessEnv = process.env): Tuning {
  const tuning: Record<string, Tuning[keyof Tuning]> = {};
  for (const knob of KNOBS) {
    const text = env[knob.name]?.trim();
    if (text === undefined || text === '') continue;
    const value = knob.parse(text);
    if (value === undefined)
      throw new ChurnwatchError(
        'CW_USAGE',
        `${knob.name}='${text.slice(0, 40)}' in the environment is not ${knob.values} (it sets: ${knob.meaning}); set it to ${knob.values}, or unset it`,
      );
    tuning[knob.key] = value;
  }
  return tuning as Tuning;
}
