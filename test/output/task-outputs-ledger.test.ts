/**
 * The run decides the ledger tier by tier as the task files plan them (startContacts,
 * writeTaskOutputs' decideTier): the largest tier first, so its plan is offered to the
 * task-files worker before the ledger's other tiers, its waiting and closed rows and
 * the policy's counts are made. The task files are those of the ledger decided whole.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyse, decideContacts, startContacts, type Analysis } from '../../src/analyse.js';
import { loadRulePack } from '../../src/config/rulepack.js';
import { defaultInputOptions, TIERS } from '../../src/contract/contract.js';
import { generateExtracts } from '../../src/generate/generate.js';
import { Publication, type OutputRecord } from '../../src/output/publish.js';
import { DEFAULT_TASK_OUTPUT, writeTaskOutputs } from '../../src/output/task-outputs.js';
import { DEFAULT_TASK_PROFILE, type TaskInput } from '../../src/tasks/tasks.js';
import type { LedgerPlan, LedgerUpdate } from '../../src/tasks/ledger.js';
import type { PolicyPlan } from '../../src/tasks/policy.js';
import { parseDay } from '../../src/util/dates.js';

const AS_OF = '2026-11-23';
const D = parseDay(AS_OF);
const pack = loadRulePack('rules/default.yaml');
let work: string;
let a: Analysis;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cw-outputs-ledger-'));
  await generateExtracts({ subscribers: 3000, seed: 7, asOf: D, outDir: join(work, 'in') });
  a = await analyse(defaultInputOptions(join(work, 'in')), D, pack);
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The plain task files' records (names and hashes), written into a publication that is then let go. */
async function taskFiles(out: string, policy: PolicyPlan, ledger: LedgerPlan | LedgerUpdate, decideTier?: (t: number) => void) {
  mkdirSync(join(work, out));
  const publication = new Publication(join(work, out), AS_OF, { force: true, fileMode: 0o600, dirMode: 0o700 });
  const records: OutputRecord[] = [];
  const sink = {
    open: (name: string, copyName?: string) => publication.open(name, copyName),
    add: (r: OutputRecord) => records.push(r),
  };
  const { subscribers, contacts } = a.extracts;
  const input: TaskInput = {
    pack,
    D,
    subscribers,
    features: a.table,
    evaluation: a.evaluation,
    scores: a.scores,
    contacts,
    taskType: policy.taskType,
    ledger,
  };
  const tasks = await writeTaskOutputs(sink, input, policy.perTier, DEFAULT_TASK_PROFILE, DEFAULT_TASK_OUTPUT, null, decideTier);
  await tasks.finish();
  publication.abandon();
  return records;
}

describe('the task files and the ledger decided tier by tier', () => {
  it('decides each tier once, the largest first, each before its plan, and writes the files of the whole ledger', async () => {
    const whole = decideContacts(pack, D, {}, a, null);
    const want = await taskFiles('whole', whole.policy, whole.ledger);

    const steps = startContacts(pack, D, {}, a, null);
    const asked: number[] = [];
    const got = await taskFiles('steps', steps.policy, steps.ledger, (t) => {
      asked.push(t);
      steps.ledger.tier(t);
    });
    const bySize = [...TIERS.keys()].sort((x, y) => steps.policy.perTier[y]!.length - steps.policy.perTier[x]!.length);
    expect(steps.policy.perTier[bySize[0]!]!.length).toBeGreaterThan(steps.policy.perTier[bySize[2]!]!.length);
    expect(asked).toEqual(bySize);
    expect(got).toEqual(want);
    // The ledger finished after the task files is the whole one.
    const finished = steps.ledger.finish();
    expect(finished.counts).toEqual(whole.ledger.counts);
    expect(finished.rows.length).toBe(whole.ledger.rows.length);
  });
});
