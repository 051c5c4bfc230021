/**
 * Progress on a terminal: one line per stage with elapsed time. Under cron (no
 * terminal) this prints nothing and the logs are the record.
 */
export interface Progress {
  stage(name: string): void;
  done(message: string): void;
}

export function makeProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { stage() {}, done() {} };
  const started = performance.now();
  let current = '';
  let since = started;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const finish = () => { if (current) stream.write(`  ${current.padEnd(20)} ${secs(performance.now() - since)}\n`); };
  return {
    stage(name) { finish(); current = name; since = performance.now(); },
    done(message) { finish(); current = ''; stream.write(`${message} (${secs(performance.now() - started)})\n`); },
  };
}
