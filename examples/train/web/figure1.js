// @ts-check
// Figure 1 of the paper, computed by the package, and the small SVG line chart both demo pages draw with
// (examples/train/web/app.js, the classifier page; examples/detector/web/app.js, the detector page).
// ---------------------------------------------------------------------------------------------------------
// A small SVG line chart

export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/**
 * @param {{ width?: number, height?: number, x: [number, number], y: [number, number], logY?: boolean,
 *   xLabel: string, yLabel: string, title?: string, xTicks?: number[], yTicks?: number[], legendBelow?: number,
 *   series: { points: [number, number][], color: string, dash?: string, width?: number, label?: string }[] }} o
 */
export function lineChart(o) {
  const W = o.width ?? 540;
  const labelled = o.series.filter((s) => s.label);
  // legendBelow: the number of legend columns under the plot (instead of a box in the top right corner).
  const below = o.legendBelow ? Math.ceil(labelled.length / o.legendBelow) * 16 + 6 : 0;
  const H = (o.height ?? 330) + below;
  const m = { l: 52, r: 12, t: o.title ? 24 : 10, b: 40 + below };
  const fy = (v) => (o.logY ? Math.log10(v) : v);
  const [y0, y1] = [fy(o.y[0]), fy(o.y[1])];
  const sx = (v) => m.l + ((v - o.x[0]) / (o.x[1] - o.x[0])) * (W - m.l - m.r);
  const sy = (v) => H - m.b - ((Math.min(Math.max(fy(v), y0), y1) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="#fff" stroke="#c9ced6"/>`,
  );
  const fmt = (v) =>
    Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(0) : String(+v.toPrecision(3));
  for (const t of o.xTicks ?? []) {
    parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eef0f3"/>`);
    parts.push(`<text x="${sx(t)}" y="${H - m.b + 14}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of o.yTicks ?? []) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eef0f3"/>`);
    parts.push(`<text x="${m.l - 5}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - below - 6}" text-anchor="middle">${o.xLabel}</text>`);
  parts.push(
    `<text transform="translate(13 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${o.yLabel}</text>`,
  );
  if (o.title) parts.push(`<text x="${m.l}" y="15" style="font-weight:600">${o.title}</text>`);
  parts.push(
    `<clipPath id="c${W}${H}${m.t}"><rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}"/></clipPath>`,
  );
  parts.push(`<g clip-path="url(#c${W}${H}${m.t})">`);
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    const d = s.points
      .filter(([, v]) => Number.isFinite(fy(v)))
      .map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join('');
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`,
    );
  }
  parts.push('</g>');
  // Legend: top right, or in columns below the plot.
  labelled.forEach((s, i) => {
    const cols = o.legendBelow ?? 1;
    const y = o.legendBelow ? H - below + 12 + Math.floor(i / cols) * 16 : m.t + 14 + i * 16;
    const x = o.legendBelow ? m.l + (i % cols) * ((W - m.l - m.r) / cols) : W - m.r - 150;
    parts.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="${s.width ?? 2}" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    parts.push(`<text x="${x + 28}" y="${y}">${s.label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------------------
// Figure 1

const FIG1_GAMMAS = [0, 0.5, 1, 2, 5];
const PROBES = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99];
const GRID = Array.from({ length: 399 }, (_, i) => (i + 1) / 400); // p_t in (0, 1)

/** FL(p_t) for each p_t, computed by the package: a logit of log(p/(1−p)) with target 1. */
function focalAt(sigmoidFocalLoss, ps, gamma, alpha) {
  const logits = Float64Array.from(ps, (p) => Math.log(p / (1 - p)));
  const targets = new Float64Array(ps.length).fill(1);
  return Array.from(sigmoidFocalLoss(logits, targets, { gamma, alpha: alpha === 1 ? null : alpha, reduction: 'none' }));
}

/**
 * Draws Figure 1 into the page's #fig1-chart and #fig1-table from the #gamma / #alpha sliders, and hands the
 * numbers shown to `publish` (as { probes, curves, slider }).
 * @param {(id: string) => HTMLElement} $
 * @param {Function} sigmoidFocalLoss  the package's
 * @param {(figure1: any) => void} publish
 */
export function drawFigure1($, sigmoidFocalLoss, publish) {
  const gamma = Number(/** @type {HTMLInputElement} */ ($('gamma')).value);
  const alpha = Number(/** @type {HTMLInputElement} */ ($('alpha')).value);
  $('gamma-out').textContent = String(gamma);
  $('alpha-out').textContent = String(alpha);
  const series = FIG1_GAMMAS.map((g, i) => {
    const ys = focalAt(sigmoidFocalLoss, GRID, g, 1);
    return {
      points: /** @type {[number, number][]} */ (GRID.map((p, k) => [p, ys[k]])),
      color: COLORS[i],
      label: `γ = ${g}`,
    };
  });
  const extra = focalAt(sigmoidFocalLoss, GRID, gamma, alpha);
  series.push({
    points: GRID.map((p, k) => [p, extra[k]]),
    color: '#111',
    dash: '6 4',
    width: 2.5,
    label: `γ = ${gamma}, α = ${alpha}`,
  });
  $('fig1-chart').innerHTML = lineChart({
    width: 560,
    height: 360,
    x: [0, 1],
    y: [0, 5],
    xLabel: 'probability of ground truth class p_t',
    yLabel: 'loss',
    xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
    yTicks: [0, 1, 2, 3, 4, 5],
    series,
  });
  // The values at a few p_t, as a table and as JSON.
  const curves = Object.fromEntries(FIG1_GAMMAS.map((g) => [String(g), focalAt(sigmoidFocalLoss, PROBES, g, 1)]));
  const slider = { gamma, alpha, values: focalAt(sigmoidFocalLoss, PROBES, gamma, alpha) };
  const head = `<tr><th>p<sub>t</sub></th>${FIG1_GAMMAS.map((g) => `<th>γ = ${g}</th>`).join('')}<th>γ = ${gamma}, α = ${alpha}</th></tr>`;
  const rows = PROBES.map(
    (p, i) =>
      `<tr><td>${p}</td>${FIG1_GAMMAS.map((g) => `<td>${curves[String(g)][i].toPrecision(4)}</td>`).join('')}<td>${slider.values[i].toPrecision(4)}</td></tr>`,
  );
  $('fig1-table').innerHTML = head + rows.join('');
  publish({ probes: PROBES, curves, slider });
}
