// A loss curve as a standalone SVG (no dependencies): training loss per step, evaluation loss as points,
// axes with ticks. Written at the end of `roadster train`; several lines on one chart for `roadster demo`.

export interface CurvePoint {
  readonly step: number;
  readonly loss: number;
}

function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** One training-loss line of a chart with several (e.g. methods compared on the same steps). */
export interface CurveSeries {
  readonly label: string;
  readonly points: readonly CurvePoint[];
}

/** Line colours of successive series (matplotlib's first ones). */
const SERIES_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b'];

/** SVG text of the curve; `title` goes on top. Non-finite losses are left out. */
export function lossCurveSvg(train: readonly CurvePoint[], evals: readonly CurvePoint[], title: string): string {
  return lossCurvesSvg([{ label: 'train loss', points: train }], evals, title);
}

/** SVG text of several training-loss lines on one pair of axes, with a legend; evaluation losses as points. */
export function lossCurvesSvg(series: readonly CurveSeries[], evals: readonly CurvePoint[], title: string): string {
  const train = series.flatMap((s) => s.points);
  const w = 720;
  const h = 420;
  const m = { left: 64, right: 20, top: 40, bottom: 48 };
  const all = [...train, ...evals].filter((p) => Number.isFinite(p.loss));
  const x0 = Math.min(0, ...all.map((p) => p.step));
  const x1 = Math.max(1, ...all.map((p) => p.step));
  let y0 = Math.min(...all.map((p) => p.loss));
  let y1 = Math.max(...all.map((p) => p.loss));
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const sx = (s: number) => m.left + ((s - x0) / (x1 - x0)) * (w - m.left - m.right);
  const sy = (l: number) => h - m.bottom - ((l - y0) / (y1 - y0)) * (h - m.top - m.bottom);
  const pathOf = (points: readonly CurvePoint[]): string =>
    points
      .filter((p) => Number.isFinite(p.loss))
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`)
      .join(' ');
  const color = (i: number): string => SERIES_COLORS[i % SERIES_COLORS.length];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${m.left}" y1="${h - m.bottom}" x2="${w - m.right}" y2="${h - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${h - m.bottom}" stroke="black"/>`,
  ];
  for (const t of ticks(x0, x1, 8)) {
    parts.push(`<line x1="${sx(t)}" y1="${h - m.bottom}" x2="${sx(t)}" y2="${h - m.bottom + 5}" stroke="black"/>`);
    parts.push(`<text x="${sx(t)}" y="${h - m.bottom + 18}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(y0, y1, 6)) {
    parts.push(`<line x1="${m.left - 5}" y1="${sy(t)}" x2="${w - m.right}" y2="${sy(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 8}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<text x="${w / 2}" y="${h - 10}" text-anchor="middle">optimizer step</text>`);
  parts.push(`<text transform="translate(16 ${h / 2}) rotate(-90)" text-anchor="middle">loss</text>`);
  series.forEach((s, i) => {
    const path = pathOf(s.points);
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${color(i)}" stroke-width="1.5"/>`);
  });
  for (const p of evals.filter((q) => Number.isFinite(q.loss))) parts.push(`<circle cx="${sx(p.step)}" cy="${sy(p.loss)}" r="4" fill="#d62728"/>`);
  parts.push(`<g transform="translate(${w - m.right - 150} ${m.top})">`);
  series.forEach((s, i) => parts.push(`<line x1="0" y1="${6 + 18 * i}" x2="20" y2="${6 + 18 * i}" stroke="${color(i)}" stroke-width="2"/><text x="26" y="${10 + 18 * i}">${esc(s.label)}</text>`));
  if (evals.length > 0) parts.push(`<circle cx="10" cy="${6 + 18 * series.length}" r="4" fill="#d62728"/><text x="26" y="${10 + 18 * series.length}">eval loss</text>`);
  parts.push('</g></svg>');
  return parts.join('\n') + '\n';
}
