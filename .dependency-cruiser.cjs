/**
 * The layer rules of churnwatch, checked in CI (`npm run lint:deps`).
 * docs/architecture.md draws the same picture. From top to bottom:
 *   cli → pipeline (pipeline.ts, analyse.ts) → stages → contract / util / errors
 * Stages are ordered among themselves too, lowest first:
 *   rules < config < ingest < engine < features < evaluate < score < tasks < output < report, and generate on its own.
 * (rules/ is the rule language: parse, check, compile; evaluate/ runs the compiled rules over the features.)
 * A module may import its own layer and anything below it, never above; no cycles anywhere.
 */
const GROUND = '^src/(contract/|util/|errors\\.ts$|version\\.ts$)';
const STAGES = ['rules', 'config', 'ingest', 'engine', 'features', 'evaluate', 'score', 'tasks', 'output', 'report'];

const stageRules = STAGES.map((stage, i) => {
  const higher = STAGES.slice(i + 1);
  return {
    name: `no-upward-from-${stage}`,
    comment: `src/${stage}/ may import lower stages (${STAGES.slice(0, i).join(', ') || 'none'}) and the ground floor only`,
    severity: 'error',
    from: { path: `^src/${stage}/` },
    to: { path: `^src/(${[...higher, 'generate', 'cli'].join('|')})/|^src/(pipeline|analyse)\\.ts$` },
  };
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import cycles hide which module owns what', from: {}, to: { circular: true } },
    {
      name: 'ground-floor-imports-nothing-above',
      severity: 'error',
      comment: 'contract, util and errors are the ground floor: they import only each other',
      from: { path: GROUND },
      to: { path: '^src/', pathNot: GROUND },
    },
    ...stageRules,
    {
      name: 'generate-stands-alone',
      severity: 'error',
      comment: 'the generator writes extracts from the contract; it must not depend on the engine that reads them',
      from: { path: '^src/generate/' },
      to: { path: `^src/(${[...STAGES, 'cli'].join('|')})/|^src/(pipeline|analyse)\\.ts$` },
    },
    {
      name: 'pipeline-not-cli',
      severity: 'error',
      from: { path: '^src/(pipeline|analyse)\\.ts$' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'a module nothing imports is dead code (entry points and workers excepted)',
      from: { orphan: true, pathNot: ['^src/cli/main\\.ts$', '-worker\\.ts$', '\\.d\\.ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
