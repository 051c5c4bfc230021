// The ingest stage alone, timed by the CPU time of the process (every thread), not
// by the clock: on a busy machine the wall time of a run says little, its CPU time
// much more. Reads the extracts of --input as `churnwatch run` does (the rule pack's
// features, the configuration beside them when there is one), --runs times in this
// process (the first pays for compiling the code), and prints each run's CPU and
// wall seconds, then the medians.
//
//   npm run build && node bench/ingest-cpu.mjs --input bench/data/1000000-1 [--runs 1] [--as-of 2026-11-23] [--rules FILE] [--workers N]
//
// Compare two builds by running it once per process from each checkout in turn,
// alternating, several times, and comparing the medians.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    input: { type: 'string' },
    runs: { type: 'string', default: '1' },
    'as-of': { type: 'string', default: '2026-11-23' },
    rules: { type: 'string', default: join(root, 'rules/default.yaml') },
    workers: { type: 'string' },
  },
});
if (!args.input) {
  console.error('usage: node bench/ingest-cpu.mjs --input DIR [--runs N] [--as-of D] [--rules FILE] [--workers N]');
  process.exit(64);
}
const dist = (p) => import(new URL(`../dist/${p}`, import.meta.url).href);
const { loadRulePack, neededFiles, requiredFeatures } = await dist('config/rulepack.js');
const { loadRunConfig } = await dist('config/run-config.js');
const { packColumnNeeds } = await dist('ingest/layout.js');
const { ingest } = await dist('ingest/ingest.js');
const { parseDay } = await dist('util/dates.js');

const dir = resolve(args.input);
const pack = loadRulePack(args.rules);
const beside = join(dir, 'churnwatch.yaml');
const config = loadRunConfig(existsSync(beside) ? beside : undefined);
const input = { ...config.input, dir, ...(args.workers ? { workers: Number(args.workers) } : {}) };
const plan = {
  asOf: parseDay(args['as-of']),
  input,
  features: requiredFeatures(pack),
  needed: neededFiles(pack),
  columnNeeds: packColumnNeeds(pack),
};
const cpu = [];
const wall = [];
for (let r = 0; r < Number(args.runs); r++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await ingest(plan);
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1e6);
  wall.push((performance.now() - t0) / 1e3);
  console.log(`run ${r + 1}: ${cpu.at(-1).toFixed(3)} CPU s, ${wall.at(-1).toFixed(3)} s wall`);
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`median: ${median(cpu).toFixed(3)} CPU s, ${median(wall).toFixed(3)} s wall (${cpu.length} runs)`);
