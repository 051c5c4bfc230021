/**
 * The script of the report page: it draws every chart with uPlot from the report's
 * data. It runs in the browser, not in Node: html.ts inlines it with
 * Function.prototype.toString, so it must use nothing from outside its own body (no
 * import, no module-level name). The few browser and uPlot shapes it touches are
 * declared here instead of pulling the DOM types into the whole Node program.
 */
import type { ReportModel } from './report-model.js';

interface Elem {
  id: string;
  clientWidth: number;
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  querySelectorAll(sel: string): ArrayLike<Elem>;
}
export interface PageDocument {
  getElementById(id: string): Elem | null;
  querySelectorAll(sel: string): ArrayLike<Elem>;
}

type AxisValues = (u: unknown, splits: number[]) => string[];
interface Axis {
  label?: string;
  scale?: string;
  side?: number;
  size?: number;
  rotate?: number;
  splits?: () => number[];
  values?: AxisValues;
  grid?: { show: boolean };
}
interface Line {
  label: string;
  scale?: string;
  stroke?: string;
  fill?: string;
  width?: number;
  dash?: number[];
  paths?: unknown;
  points?: { show: boolean; size?: number; fill?: string };
  value?: (u: unknown, v: number | null) => string;
}
interface ChartOptions {
  width: number;
  /** top, right, bottom, left in CSS pixels; null: uPlot's own */
  padding?: (number | null)[];
  height: number;
  scales: Record<string, { time?: boolean; range: (u: unknown, min: number, max: number) => [number, number] }>;
  axes: Axis[];
  series: (Line | { label: string; value: (u: unknown, v: number | null) => string })[];
  legend: { show: boolean };
  cursor: { show: boolean; drag: { x: boolean; y: boolean } };
  hooks: { draw: ((u: Drawn) => void)[] };
}
interface Drawn {
  scales: Record<string, { max?: number | null }>;
}
export interface UPlotConstructor {
  new (opts: ChartOptions, data: (number | null)[][], target: Elem): unknown;
  paths: { bars: (o: { size: [number, number]; align?: -1 | 0 | 1 }) => unknown };
}

export function drawReport(uPlot: UPlotConstructor, doc: PageDocument, data: ReportModel): void {
  // Saturated colours only: the browser test tells marks from axes and grid (greys) by colour.
  const PALETTE = [
    '#2563eb',
    '#f97316',
    '#16a34a',
    '#dc2626',
    '#9333ea',
    '#0891b2',
    '#ca8a04',
    '#db2777',
    '#4f46e5',
    '#65a30d',
    '#0d9488',
    '#e11d48',
  ];
  const HEIGHT = 280;
  const colour = (k: number) => PALETTE[k % PALETTE.length]!;
  const upTo = (max: number): [number, number] => [0, max > 0 ? max * 1.08 : 1];
  const widthOf = (el: Elem) => Math.max(320, Math.min(920, el.clientWidth || 920));
  const dayText = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);
  const noDrag = { show: true, drag: { x: false, y: false } };

  /** Notes the highest value and the top of the drawn y axis on the chart, for checking that no mark is cut off. */
  function noteTop(el: Elem, max: number): ChartOptions['hooks'] {
    el.dataset.max = String(max);
    return {
      draw: [
        (u) => {
          el.dataset.yTop = String(u.scales.y?.max ?? '');
        },
      ],
    };
  }

  /** Bars over named categories; two groups stand side by side (uPlot aligns one bar left of the tick, the other right). */
  function bars(
    id: string,
    xName: string,
    labels: string[],
    groups: { name: string; values: number[] }[],
    yLabel: string,
    extra?: { lines: Line[]; values: number[][]; axis: Axis; range: [number, number] },
  ) {
    const el = doc.getElementById(id);
    if (!el) return;
    const n = labels.length;
    const longest = labels.reduce((m, s) => Math.max(m, s.length), 0);
    const rotate = (longest + 2) * 7 * n > widthOf(el) - 80;
    const max = Math.max(0, ...groups.flatMap((g) => g.values));
    const aligns: (-1 | 0 | 1)[] = groups.length === 2 ? [-1, 1] : [0];
    const series: ChartOptions['series'] = [
      { label: xName, value: (_u, v) => (v == null ? '' : (labels[v] ?? '')) },
      ...groups.map((g, k) => ({
        label: g.name,
        fill: colour(k),
        stroke: colour(k),
        width: 0,
        paths: uPlot.paths.bars({ size: [groups.length === 2 ? 0.4 : 0.7, 80], align: aligns[k % aligns.length] }),
        points: { show: false },
      })),
    ];
    const axes: Axis[] = [
      {
        splits: () => labels.map((_l, i) => i),
        values: (_u, splits) => splits.map((i) => labels[i] ?? ''),
        grid: { show: false },
        ...(rotate ? { rotate: -35, size: Math.min(160, 20 + longest * 6) } : {}),
      },
      { label: yLabel, size: 60 },
    ];
    const scales: ChartOptions['scales'] = { x: { time: false, range: () => [-0.5, n - 0.5] }, y: { range: () => upTo(max) } };
    const rows: (number | null)[][] = [labels.map((_l, i) => i), ...groups.map((g) => g.values)];
    if (extra) {
      series.push(...extra.lines);
      axes.push(extra.axis);
      scales[extra.axis.scale!] = { range: () => extra.range };
      rows.push(...extra.values);
    }
    new uPlot(
      { width: widthOf(el), height: HEIGHT, scales, axes, series, legend: { show: true }, cursor: noDrag, hooks: noteTop(el, max) },
      rows,
      el,
    );
  }

  /** Lines over the run dates, on a proportional day axis (a missing night shows as a gap in the dates, not a squeeze). */
  function trend(id: string, lines: { name: string; values: (number | null)[] }[], yLabel: string) {
    const el = doc.getElementById(id);
    if (!el) return;
    const days = data.trend.days;
    const first = days[0]!;
    const last = days[days.length - 1]!;
    // At most about ten dates on the axis, counted back from the latest so this run's date is always labelled.
    const step = Math.max(1, Math.ceil(days.length / 10));
    const ticks = days.filter((_d, k) => (days.length - 1 - k) % step === 0);
    // Points help a few runs and turn a year of them into a smear.
    const points = days.length <= 60;
    const max = Math.max(0, ...lines.flatMap((l) => l.values.map((v) => v ?? 0)));
    const series: ChartOptions['series'] = [
      { label: 'date', value: (_u, v) => (v == null ? '' : dayText(v)) },
      ...lines.map((l, k) => ({ label: l.name, stroke: colour(k), width: 2, points: { show: points, size: 7, fill: colour(k) } })),
    ];
    new uPlot(
      {
        width: widthOf(el),
        height: HEIGHT,
        padding: [null, 40, null, null],
        scales: { x: { time: false, range: () => [first - 0.5, last + 0.5] }, y: { range: () => upTo(max) } },
        axes: [
          { splits: () => ticks, values: (_u, splits) => splits.map(dayText) },
          { label: yLabel, size: 60 },
        ],
        series,
        legend: { show: true },
        cursor: noDrag,
        hooks: noteTop(el, max),
      },
      [days, ...lines.map((l) => l.values)],
      el,
    );
  }

  bars(
    'chart-tiers',
    'tier',
    data.tiers.map((t) => t.tier),
    [
      { name: 'subscribers', values: data.tiers.map((t) => t.subscribers) },
      { name: 'tasks', values: data.tiers.map((t) => t.tasks) },
    ],
    'count',
  );
  bars(
    'chart-hits',
    'rule',
    data.hits.map((h) => h.rule),
    [{ name: 'subscribers hit', values: data.hits.map((h) => h.hits) }],
    'subscribers',
  );
  const binWidth = 1 / data.risk.counts.length;
  bars(
    'chart-risk',
    'risk from',
    data.risk.counts.map((_c, k) => (k * binWidth).toFixed(2)),
    [{ name: 'subscribers with risk from the bin start', values: data.risk.counts }],
    'subscribers',
  );
  bars(
    'chart-rejects',
    'file',
    data.files.map((f) => f.file),
    [{ name: 'rows rejected', values: data.files.map((f) => f.rejected) }],
    'rows',
  );
  bars(
    'chart-withheld',
    'reason',
    data.withheld.map((w) => w.key),
    [{ name: 'subscribers flagged, no task', values: data.withheld.map((w) => w.count) }],
    'subscribers',
  );
  trend('chart-trend-tasks', data.trend.tasks, 'tasks');
  trend('chart-trend-hits', data.trend.hits, 'subscribers hit');
  trend('chart-trend-withheld', data.trend.withheld, 'subscribers');
  const bt = data.backtest;
  if (bt) {
    bars(
      'chart-deciles',
      'decile',
      bt.deciles.map((d) => String(d.decile)),
      [{ name: 'lift', values: bt.deciles.map((d) => d.lift) }],
      'lift over the base rate',
      {
        lines: [
          { label: 'random (lift 1)', scale: 'y', stroke: '#64748b', width: 1, dash: [6, 4], points: { show: false } },
          {
            label: 'cumulative share of churners',
            scale: 'share',
            stroke: colour(1),
            width: 2,
            points: { show: true, size: 7, fill: colour(1) },
          },
        ],
        values: [bt.deciles.map(() => 1), bt.deciles.map((d) => d.cumulative_share)],
        axis: { scale: 'share', side: 1, label: 'cumulative share', size: 60, grid: { show: false } },
        range: [0, 1],
      },
    );
  }
}
