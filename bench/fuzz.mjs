#!/usr/bin/env node
// The CI fuzz test (test/fuzz/fuzz.test.ts) run for longer: --minutes N (default 5),
// --seed S (default: a new one, printed, so that a failure can be replayed), and
// --max-depth / --max-terms for the generated rule expressions.
//   node bench/fuzz.mjs --minutes 5
//   npm run fuzz -- --minutes 5 --seed 12345
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    'max-depth': { type: 'string' },
    'max-terms': { type: 'string' },
  },
});
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));
const env = { ...process.env, FUZZ_MINUTES: values.minutes, FUZZ_SEED: seed };
if (values['max-depth']) env.FUZZ_MAX_DEPTH = values['max-depth'];
if (values['max-terms']) env.FUZZ_MAX_TERMS = values['max-terms'];
console.log(`fuzzing for ${values.minutes} min with seed ${seed}`);
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const r = spawnSync('npx', ['vitest', 'run', 'test/fuzz/fuzz.test.ts'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
