/**
 * The terminal progress: stage lines with times, a live line with the share of the
 * bytes read, the time left, the rate and the rows per file, every line cut to the
 * terminal's width; plain lines on a terminal without escape codes, and nothing at
 * all without a terminal (cron).
 */
import { describe, expect, it } from 'vitest';
import { cutToWidth, makeProgress } from '../../src/cli/progress.js';

const ANSI = { TERM: 'xterm-256color' };

function fakeStream(isTTY: boolean, columns?: number) {
  const out: string[] = [];
  return {
    stream: {
      isTTY,
      columns,
      write: (s: string) => {
        out.push(s);
        return true;
      },
    },
    out,
  };
}

/** A terminal of that width with a progress on it, and the clock the progress reads. */
function terminal(columns: number, env: Record<string, string | undefined> = ANSI) {
  const { stream, out } = fakeStream(true, columns);
  const clock = { t: 0 };
  return { stream, out, clock, p: makeProgress(stream, () => clock.t, env) };
}

/** What the terminal shows: each \r starts its row again, ESC[K clears the rest of it. */
function screen(out: string[]): string[] {
  const rows = [''];
  const text = out.join('');
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith('\x1b[K', i)) i += 2;
    else if (text[i] === '\r') rows[rows.length - 1] = '';
    else if (text[i] === '\n') rows.push('');
    else rows[rows.length - 1] += text[i];
  }
  return rows;
}

describe('progress', () => {
  it('when there is no terminal then nothing is printed and no rows are asked for', () => {
    const { stream, out } = fakeStream(false);
    const p = makeProgress(stream, () => 0, ANSI);
    expect(p.showsRows).toBe(false);
    p.inputs({ usage_daily: 1 });
    p.stage('read usage');
    p.rows('usage_daily', 1_000_000, 35_000_000);
    p.stop();
    p.done('done');
    expect(out).toEqual([]);
  });

  it('when on a terminal then reads show the share of the bytes, the time left, the rate and the rows below the stage lines', () => {
    const { out, clock, p } = terminal(200);
    p.stage('read usage');
    p.inputs({ usage_daily: 200_000_000, billing_monthly: 100_000_000 });
    clock.t = 1000;
    p.rows('usage_daily', 2_500_000, 100_000_000);
    clock.t = 1100;
    p.rows('usage_daily', 2_600_000, 104_000_000); // throttled: not drawn
    clock.t = 1500;
    p.stage('read billing');
    // The finished stage takes the live line's row, and the live line is drawn again below it.
    expect(screen(out)).toEqual(['  read usage           1.5s', '  reading 34% · 3s left · 69 MB/s · usage_daily 2.6M rows']);
    clock.t = 2000;
    p.rows('billing_monthly', 1_000_000, 50_000_000);
    clock.t = 2500;
    p.stage('gates');
    clock.t = 2600;
    p.done('done');
    const text = out.join('');
    expect(text).toContain('\r  reading 33% · 2s left · 100 MB/s · usage_daily 2.5M rows\x1b[K');
    // t=2000: 154 MB of 300 read in 2 s (77 MB/s): 146 MB left take 2 s.
    expect(text).toContain('\r  reading 51% · 2s left · 77 MB/s · usage_daily 2.6M rows · billing_monthly 1.0M rows\x1b[K');
    expect(out.filter((s) => s.startsWith('\r  reading')).length).toBe(4); // t=1000, t=1500 (redraw), t=2000, t=2500 (last state); t=1100 was throttled
    expect(screen(out)).toEqual([
      '  read usage           1.5s',
      '  read billing         1.0s',
      '  reading 51% · 3s left · 62 MB/s · usage_daily 2.6M rows · billing_monthly 1.0M rows',
      '  gates                0.1s',
      'done (2.6s)',
      '',
    ]);
  });

  it('when the time left is over a minute then it shows minutes and seconds, and at 100% none', () => {
    const { out, clock, p } = terminal(120);
    p.inputs({ usage_daily: 1_000_000_000 });
    clock.t = 1000;
    p.rows('usage_daily', 1_000_000, 10_000_000);
    clock.t = 2000;
    p.rows('usage_daily', 1_000_000, 1_000_000_000);
    expect(out[0]).toContain('reading 1% · 1m39s left · 10 MB/s');
    expect(out[1]).toContain('reading 100% · 500 MB/s');
  });

  it('when the terminal is narrow then every line is cut to its width less one column, never wrapped, and a resize is followed', () => {
    const { stream, out, clock, p } = terminal(40);
    p.stage('read subscribers and everything else too');
    p.inputs({ subscribers: 1000, usage_daily: 9000 });
    clock.t = 1000;
    p.rows('subscribers', 20_000, 1000);
    stream.columns = 30;
    clock.t = 2000;
    p.rows('usage_daily', 1_000_000, 4000);
    clock.t = 3000;
    p.done('done, and a long message after it');
    const rows = screen(out);
    expect(rows.slice(0, -1).every((r) => r.length <= 39)).toBe(true);
    // 39 columns, a middle dot counting two (a terminal in a CJK locale draws it wide).
    expect(out[0]).toBe('\r  reading 10% · 9s left · 0 MB/s · s\x1b[K');
    expect(rows).toEqual(['  read subscribers and everyt', '  reading 50% · 3s left · 0', 'done, and a long message afte', '']);
  });

  it.each([['dumb'], [undefined], ['']])(
    'when TERM is %j then only plain lines come: no escape code, no \\r, a reading line per quarter',
    (term) => {
      const { out, clock, p } = terminal(80, { TERM: term });
      expect(p.showsRows).toBe(true);
      p.stage('read usage');
      p.inputs({ usage_daily: 1000 });
      clock.t = 1000;
      p.rows('usage_daily', 100, 100);
      clock.t = 2000;
      p.rows('usage_daily', 300, 300);
      clock.t = 3000;
      p.rows('usage_daily', 600, 600);
      clock.t = 4000;
      p.rows('usage_daily', 650, 650);
      clock.t = 5000;
      p.rows('usage_daily', 1000, 1000);
      p.done('done');
      const text = out.join('');
      expect(text.includes('\r') || text.includes('\x1b')).toBe(false);
      expect(text).toBe(
        [
          '  reading 30% · 5s left · 0 MB/s · usage_daily 300 rows',
          '  reading 60% · 2s left · 0 MB/s · usage_daily 600 rows',
          '  reading 100% · 0 MB/s · usage_daily 1k rows',
          '  read usage           5.0s',
          'done (5.0s)',
          '',
        ].join('\n'),
      );
    },
  );

  it('when a run fails during the read then stop() ends the live line so the error starts on its own line', () => {
    const { out, clock, p } = terminal(80);
    p.stage('read usage');
    clock.t = 1000;
    p.rows('usage_daily', 10, 100);
    p.stop();
    expect(out.join('').endsWith('\x1b[K\n')).toBe(true);
  });

  it('when a line holds wide characters then they count as two columns', () => {
    expect(cutToWidth('读取 usage', 5)).toBe('读取 ');
    expect(cutToWidth('读取 usage', 4)).toBe('读取');
    expect(cutToWidth('读取 usage', 3)).toBe('读');
    expect(cutToWidth('abc', 3)).toBe('abc');
  });
});
