#!/usr/bin/env node
// What main() cannot catch still ends in the one error form with exit 70 (a bug),
// not in a stack trace with exit 1, which no cron wrapper expects: a compiled CLI
// that fails to load, or an error thrown outside any command.
let cli;
const crash = (e) => {
  process.stderr.write(
    cli ? cli.internalErrorLine(e) : `churnwatch: internal error: ${String(e?.message ?? e).split('\n')[0]} [CW_INTERNAL]\n`,
  );
  process.exit(70);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
// A reader that stops early (`churnwatch rules check | head -1`) is no failure of
// churnwatch: what it still writes to stdout goes nowhere, and the run ends as it would.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') crash(e);
});
try {
  cli = await import('../dist/cli/main.js');
} catch (e) {
  process.stderr.write(
    `churnwatch: internal error: the compiled CLI cannot be loaded (${e?.code ?? 'error'}); run npm run build [CW_INTERNAL]\n`,
  );
  process.exit(70);
}
process.exitCode = await cli.main(process.argv.slice(2));
// Once nothing is left to run (so an error thrown late still ends as above), the
// process exits at once: a natural exit would first tear down the run's heap of
// hundreds of MB piece by piece, tens of ms of the run's wall after its last log line.
process.once('beforeExit', () => process.exit());
