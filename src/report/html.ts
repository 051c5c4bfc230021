/**
 * The run report: one self-contained HTML page. The chart library (uPlot) and the
 * drawing script are inlined and the data travels as a JSON block, so the page works
 * from a file, a mail attachment or an intranet share, and makes no request at all:
 * its Content-Security-Policy allows nothing from anywhere (default-src 'none'), and
 * admits only its own inline script and style by hash.
 *
 * Pure: the same model and library text give the same bytes (no clock, no path).
 * Every chart also has a table of the same numbers, for reading exact values.
 */
import { createHash } from 'node:crypto';
import { ChurnwatchError } from '../errors.js';
import { VERSION } from '../version.js';
import { drawReport } from './html-client.js';
import { RISK_BINS, type ReportModel } from './report-model.js';

export interface ChartLibrary {
  name: string;
  version: string;
  js: string;
  css: string;
}

/** Runs listed in the trend table; the chart shows them all. */
const TREND_TABLE_RUNS = 14;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function num(n: number): string {
  // Grouped by hand rather than by toLocaleString, whose output depends on the ICU data Node was built with.
  return Number.isInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : n.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Text that goes inside <script> or <style> must not close the element or open a comment there. */
function inlinable(text: string, what: string): string {
  if (/<\/(script|style)|<!--/i.test(text))
    throw new ChurnwatchError('CW_INTERNAL', `${what} contains a closing tag or comment opener and cannot be inlined`);
  return text;
}

function table(head: string[], rows: (string | number)[][], cls = ''): string {
  const cell = (v: string | number, tag: string) =>
    `<${tag}${typeof v === 'number' ? ' class="n"' : ''}>${typeof v === 'number' ? num(v) : esc(v)}</${tag}>`;
  return (
    `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => cell(h, 'th')).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((v) => cell(v, 'td')).join('')}</tr>`).join('')}</tbody></table>`
  );
}

/** A chart's place: the script draws into it when it has something to draw; else a line says why there is nothing. */
function chart(id: string, hasMarks: boolean, empty: string): string {
  return hasMarks ? `<div class="chart" id="chart-${id}" data-chart="${id}"></div>` : `<p class="none">${esc(empty)}</p>`;
}

/** A section: its chart, with the table of the same numbers beside it (below it on a narrow screen). */
function section(id: string, title: string, intro: string, chartHtml: string, tableHtml = ''): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${intro ? `<p>${intro}</p>` : ''}<div class="row">${chartHtml}${tableHtml ? `<div class="side">${tableHtml}</div>` : ''}</div></section>\n`;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function sections(m: ReportModel): string {
  const out: string[] = [];
  out.push(
    section(
      'tiers',
      'Subscribers and tasks per tier',
      'Tasks are the flagged subscribers of a tier who got a callback task.',
      chart(
        'tiers',
        m.tiers.some((t) => t.subscribers > 0 || t.tasks > 0),
        'No subscriber in any tier.',
      ),
      table(
        ['tier', 'subscribers', 'tasks'],
        m.tiers.map((t) => [t.tier, t.subscribers, t.tasks]),
      ),
    ),
  );
  out.push(
    section(
      'hits',
      'Hits per rule',
      'Subscribers each enabled rule flagged; one subscriber may be hit by several rules.',
      chart(
        'hits',
        m.hits.some((h) => h.hits > 0),
        'No rule hit any subscriber.',
      ),
      table(
        ['rule', 'subscribers hit'],
        m.hits.map((h) => [h.rule, h.hits]),
      ),
    ),
  );
  const binned = m.risk.total - m.risk.zero;
  const width = 1 / RISK_BINS;
  out.push(
    section(
      'risk',
      'Risk distribution',
      `Subscribers per risk bin of ${width.toFixed(2)} (each bar starts at its label).` +
        (m.risk.zero > 0
          ? ` ${esc(num(m.risk.zero))} of ${esc(num(m.risk.total))} subscribers have risk 0 (no rule hit) and are not drawn.`
          : ''),
      chart('risk', binned > 0, 'No subscriber has a risk above 0.'),
      table(
        ['risk from', 'below', 'subscribers'],
        m.risk.counts.flatMap((c, k) => (c > 0 ? [[(k * width).toFixed(2), ((k + 1) * width).toFixed(2), c]] : [])),
      ),
    ),
  );
  const rejected = sum(m.files.map((f) => f.rejected));
  out.push(
    section(
      'rejects',
      'Rejected rows per file',
      'Rows left out of the run; rejects.csv lists each with line, column, code and reason.',
      chart('rejects', rejected > 0, 'No row was rejected.'),
      table(
        ['file', 'rows read', 'rows rejected', 'by code'],
        m.files.map((f) => [
          f.file,
          f.read,
          f.rejected,
          Object.entries(f.byCode)
            .map(([code, n]) => `${code} ${n}`)
            .join(', '),
        ]),
      ),
    ),
  );
  out.push(
    section(
      'withheld',
      'Flagged, but no task',
      'Subscribers a rule flagged who got no task, by reason, as counted in summary.json.',
      chart(
        'withheld',
        m.withheld.some((w) => w.count > 0),
        m.withheld.length > 0 ? 'None this run.' : 'This run counted none.',
      ),
      m.withheld.length > 0
        ? table(
            ['reason', 'subscribers'],
            m.withheld.map((w) => [w.key, w.count]),
          )
        : '',
    ),
  );
  const t = m.trend;
  const runs = t.dates.length;
  const trendIntro =
    `${runs === 1 ? 'Only this run is' : `${runs} runs are`} in this output folder up to ${esc(m.asOf)}.` +
    (m.skipped.length > 0 ? ` Left out (summary.json unreadable): ${esc(m.skipped.join(', '))}.` : '');
  const from = Math.max(0, runs - TREND_TABLE_RUNS);
  out.push(
    section(
      'trend',
      'Trend over the runs',
      trendIntro,
      `<h3>Tasks per tier</h3>${chart('trend-tasks', t.tasks.length > 0, 'No tier counted.')}` +
        `<h3>Hits per rule</h3>${chart('trend-hits', t.hits.length > 0, 'No rule counted.')}` +
        `<h3>Flagged, but no task</h3>${chart('trend-withheld', t.withheld.length > 0, 'No run counted any.')}`,
      table(
        ['date', ...t.tasks.map((s) => `tasks ${s.name}`), ...t.withheld.map((s) => s.name)],
        t.dates
          .slice(from)
          .map((d, k) => [d, ...[...t.tasks, ...t.withheld].map((s) => s.values[from + k] ?? '')])
          .reverse(),
      ) + (from > 0 ? `<p class="note">The table shows the last ${TREND_TABLE_RUNS} runs; the charts show all ${runs}.</p>` : ''),
    ),
  );
  const bt = m.backtest;
  out.push(
    section(
      'deciles',
      'Decile lift (backtest)',
      bt
        ? `From ${esc(bt.file)}: churn rate per decile of the ranking, its lift over the base rate, and the cumulative share of churners reached.`
        : 'No backtest given. <code>churnwatch report OUTDIR/&lt;date&gt; --backtest FILE.json</code> adds the lift chart of a backtest result.',
      bt ? chart('deciles', bt.deciles.length > 0, '') : '',
      bt
        ? table(
            ['decile', 'churn rate', 'lift', 'cumulative share'],
            bt.deciles.map((d) => [d.decile, d.churn_rate, d.lift, d.cumulative_share]),
          )
        : '',
    ),
  );
  return out.join('');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#0f172a;background:#fff;margin:0}
main{max-width:960px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 6px;border-top:1px solid #e2e8f0;padding-top:14px}h3{font-size:14px;margin:14px 0 4px}
.meta{color:#475569;margin:0 0 12px}
.figures{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.figures div{border:1px solid #e2e8f0;border-radius:6px;padding:6px 12px;min-width:110px}
.figures b{display:block;font-size:20px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{padding:3px 10px;border-bottom:1px solid #e2e8f0;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.row{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start}.chart{margin:6px 0;flex:1 1 560px;min-width:320px}.side{flex:0 1 auto}
#trend .row{display:block}.none,.note{color:#64748b;font-style:italic}
code{background:#f1f5f9;padding:1px 4px;border-radius:3px}
`;

export function reportHtml(m: ReportModel, lib: ChartLibrary): string {
  // '<' in the data could end the JSON block early; \u003c reads back as the same character.
  const data = JSON.stringify(m).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  const libJs = inlinable(lib.js, `${lib.name} ${lib.version}`);
  const draw = inlinable(
    `(${drawReport.toString()})(uPlot, document, JSON.parse(document.getElementById('report-data').textContent));`,
    'the report script',
  );
  const css = inlinable(lib.css + STYLE, 'the report style');
  const csp = `default-src 'none'; script-src ${cspHash(libJs)} ${cspHash(draw)}; style-src ${cspHash(css)}; img-src data:; base-uri 'none'; form-action 'none'`;
  const tasks = sum(m.tiers.map((t) => t.tasks));
  const figures: [string, number | null][] = [
    ['subscribers', m.subscribers],
    ['flagged', m.flagged],
    ['tasks', tasks],
    ['rows rejected', sum(m.files.map((f) => f.rejected))],
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>churnwatch run ${esc(m.asOf)}</title>
<link rel="icon" href="data:,">
<style>${css}</style>
</head>
<body>
<main>
<h1>churnwatch run report: ${esc(m.asOf)}</h1>
<p class="meta">Rule pack <b>${esc(m.rulePack.name)}</b>${m.rulePack.sha256 ? ` (sha256 ${esc(m.rulePack.sha256.slice(0, 12))})` : ''}. Counts only: no phone number, name or subscriber id.</p>
<div class="figures">${figures
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `<div><b>${num(v!)}</b>${esc(k)}</div>`)
    .join('')}</div>
${sections(m)}<p class="note">churnwatch ${esc(VERSION)}; charts drawn with ${esc(lib.name)} ${esc(lib.version)}, inlined in this file.</p>
</main>
<script type="application/json" id="report-data">${data}</script>
<script>${libJs}</script>
<script>${draw}</script>
</body>
</html>
`;
}
