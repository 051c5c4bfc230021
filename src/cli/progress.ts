/**
 * Progress on a terminal: one line per stage with its elapsed time, and while the
 * extracts are read, a live line with rows read per file and the overall rate.
 * Under cron (no terminal) this prints nothing and the logs are the record.
 */
export interface Progress {
  stage(name: string): void;
  rows(extract: string, rows: number, bytes: number): void;
  done(message: string): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

function count(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n);
}

export function makeProgress(stream: ProgressStream = process.stderr, now: () => number = () => performance.now()): Progress {
  if (!stream.isTTY) return { stage() {}, rows() {}, done() {} };
  const started = now();
  let current = '';
  let since = started;
  let live = false;
  let lastDraw = -Infinity;
  const read = new Map<string, { rows: number; bytes: number }>();
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const liveLine = () => {
    let rows = '';
    let bytes = 0;
    for (const [extract, r] of read) { rows += ` ${extract} ${count(r.rows)} rows ·`; bytes += r.bytes; }
    const elapsed = Math.max(1e-3, (now() - started) / 1000);
    return `\r\x1b[K  reading${rows} ${(bytes / 1e6 / elapsed).toFixed(0)} MB/s`;
  };
  const finish = () => {
    if (live) { stream.write(`${liveLine()}\n`); live = false; }
    if (current) stream.write(`  ${current.padEnd(20)} ${secs(now() - since)}\n`);
  };
  return {
    stage(name) { finish(); current = name; since = now(); },
    rows(extract, rows, bytes) {
      read.set(extract, { rows, bytes });
      const t = now();
      if (t - lastDraw < 200) return;
      lastDraw = t;
      live = true;
      stream.write(liveLine());
    },
    done(message) { finish(); current = ''; stream.write(`${message} (${secs(now() - started)})\n`); },
  };
}
