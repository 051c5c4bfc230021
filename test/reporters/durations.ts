/**
 * A reporter for CI (`.ci/run` adds it after the default one): at the end of the run,
 * the test files by how long each took (load plus tests) and the slowest tests, so a
 * file that makes the suite slow is seen in the log of the run that made it slow;
 * then, as the last line, how many errors Vitest caught outside any test. Vitest fails
 * the run on those itself; the line keeps them from hiding above the summary.
 */
import { relative } from 'node:path';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

const FILES = 25;
const TESTS = 10;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1).padStart(6)} s`;

export default class DurationsReporter implements Reporter {
  async onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): Promise<void> {
    // Vitest calls the default reporter's summary (onFinished) right after every onTestRunEnd
    // has started; one turn of the event loop puts these lines after it, at the very end.
    await new Promise((r) => setImmediate(r));
    const files = modules
      .map((m) => {
        const d = m.diagnostic();
        return { name: relative(process.cwd(), m.moduleId), ms: d.collectDuration + d.setupDuration + d.duration, state: m.state() };
      })
      .sort((a, b) => b.ms - a.ms);
    const tests = modules
      .flatMap((m) => [...m.children.allTests()])
      .map((t) => ({ name: `${relative(process.cwd(), t.module.moduleId)} > ${t.fullName}`, ms: t.diagnostic()?.duration ?? 0 }))
      .sort((a, b) => b.ms - a.ms);
    const total = files.reduce((s, f) => s + f.ms, 0);
    const lines = [
      '',
      `Test files by duration (load + tests; ${files.length} files, ${seconds(total).trim()} in all, spread over the workers):`,
      ...files.slice(0, FILES).map((f) => `${seconds(f.ms)}  ${f.name}${f.state === 'passed' ? '' : ` (${f.state})`}`),
      ...(files.length > FILES ? [`          ... ${files.length - FILES} more, each under ${seconds(files[FILES - 1]!.ms).trim()}`] : []),
      'Slowest tests:',
      ...tests.slice(0, TESTS).map((t) => `${seconds(t.ms)}  ${t.name}`),
      unhandled.length === 0
        ? 'Unhandled errors: none'
        : `Unhandled errors: ${unhandled.length} (the run fails; each is printed above, under "Unhandled Errors")`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
