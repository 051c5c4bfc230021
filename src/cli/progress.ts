/**
 * Progress on a terminal: one line per stage with its elapsed time, and while the
 * extracts are read, a live line with the share of their bytes read, the time left,
 * the rate and the rows per file. Under cron (no terminal) this prints nothing and
 * the logs are the record.
 *
 * Every line is cut to the terminal's width, read at each line so a resize is
 * followed: a line that wraps would leave the live line's `\r` redrawing only its
 * last row. A terminal that cannot take escape codes (TERM=dumb or no TERM, as in
 * an editor's shell buffer) gets plain lines only: the stage lines, and instead of
 * a live line one reading line at each quarter of the bytes.
 */
export interface Progress {
  /** Whether rows() shows anything: without it, the reader need not report rows. */
  readonly showsRows: boolean;
  /** The size in bytes of each extract about to be read: what the percentage is of. */
  inputs(bytes: Record<string, number>): void;
  stage(name: string): void;
  rows(extract: string, rows: number, bytes: number): void;
  done(message: string): void;
  /** Ends a live line, so that an error message after it starts on a line of its own. */
  stop(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  /** The terminal's width (process.stderr.columns); 80 when unknown. */
  columns?: number;
  write(s: string): unknown;
}

function count(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n);
}

function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * s cut to at most `width` columns. Anything outside ASCII counts as two columns: a
 * CJK character takes two, and so do the middle dot and the like on a terminal in a
 * CJK locale. A cut line never wraps; at worst it is cut a little short.
 */
export function cutToWidth(s: string, width: number): string {
  let used = 0;
  let end = 0;
  for (const ch of s) {
    used += ch.charCodeAt(0) < 0x80 ? 1 : 2;
    if (used > width) return s.slice(0, end);
    end += ch.length;
  }
  return s;
}

/** Terminals known to take no escape codes. */
function isDumb(term: string | undefined): boolean {
  return term === undefined || term === '' || term === 'dumb';
}

const SILENT: Progress = { showsRows: false, inputs() {}, stage() {}, rows() {}, done() {}, stop() {} };

export function makeProgress(
  stream: ProgressStream = process.stderr,
  now: () => number = () => performance.now(),
  env: Record<string, string | undefined> = process.env,
): Progress {
  if (!stream.isTTY) return SILENT;
  const plain = isDumb(env.TERM);
  const started = now();
  let current = '';
  let since = started;
  let live = false;
  let lastDraw = -Infinity;
  let readingSince = started;
  let total = 0;
  let quartersShown = 0;
  const read = new Map<string, { rows: number; bytes: number }>();
  // The last column is left free: some terminals wrap as soon as it is written.
  const width = () => Math.max(20, (stream.columns && stream.columns > 0 ? stream.columns : 80) - 1);
  const line = (s: string) => {
    stream.write(`${cutToWidth(s, width())}\n`);
  };
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  // Most telling first, so that a narrow terminal cuts off the per-file detail.
  const readingLine = () => {
    let bytes = 0;
    let files = '';
    for (const [extract, r] of read) {
      bytes += r.bytes;
      files += ` · ${extract} ${count(r.rows)} rows`;
    }
    const elapsed = Math.max(1e-3, (now() - readingSince) / 1000);
    const rate = bytes / elapsed;
    let head = '  reading';
    if (total > 0) {
      const share = Math.min(1, bytes / total);
      head += ` ${Math.floor(share * 100)}%`;
      if (share < 1 && rate > 0) head += ` · ${duration((total - Math.min(bytes, total)) / rate)} left`;
    }
    return { text: `${head} · ${(rate / 1e6).toFixed(0)} MB/s${files}`, share: total > 0 ? Math.min(1, bytes / total) : 0 };
  };
  const draw = () => {
    stream.write(`\r${cutToWidth(readingLine().text, width())}\x1b[K`);
  };
  // The live line stays below the stage lines while the reads go on; the first stage
  // after them leaves its last state above, as the record of the read.
  const finish = (next: string) => {
    if (live) stream.write('\r\x1b[K');
    if (current) line(`  ${current.padEnd(20)} ${secs(now() - since)}`);
    if (live) {
      draw();
      if (!next.startsWith('read ')) {
        stream.write('\n');
        live = false;
      }
    }
  };
  return {
    showsRows: true,
    inputs(bytes) {
      total = Object.values(bytes).reduce((a, b) => a + b, 0);
      readingSince = now();
    },
    stage(name) {
      finish(name);
      current = name;
      since = now();
    },
    rows(extract, rows, bytes) {
      const before = read.get(extract);
      read.set(extract, { rows: Math.max(rows, before?.rows ?? 0), bytes: Math.max(bytes, before?.bytes ?? 0) });
      if (plain) {
        const { text, share } = readingLine();
        const quarters = Math.floor(share * 4);
        if (quarters > quartersShown) {
          quartersShown = quarters;
          line(text);
        }
        return;
      }
      const t = now();
      if (t - lastDraw < 200) return;
      lastDraw = t;
      live = true;
      draw();
    },
    done(message) {
      finish('');
      current = '';
      line(`${message} (${secs(now() - started)})`);
    },
    stop() {
      if (live) {
        stream.write('\n');
        live = false;
      }
    },
  };
}
