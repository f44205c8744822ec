// Compare steps (and runs with the same embedding name): the figures side by side, one
// column per step, with a sparkline of how each one moves.

import {el, fmt} from './dom.js';
import {formatValue} from './clusters.js';
import {naturalCompare} from '../palette.js';

const SVG = 'http://www.w3.org/2000/svg';

const OVERALL = [
  {key: 'knn_accuracy', title: 'kNN accuracy', kind: 'frac', better: 'high'},
  {key: 'macro_f1', title: 'Macro F1', kind: 'frac', better: 'high'},
  {key: 'silhouette', title: 'Silhouette', kind: 'num', better: 'high'},
  {key: 'davies_bouldin', title: 'Davies–Bouldin', kind: 'num', better: 'low'},
];

export const PER_LABEL = [
  {key: 'purity', title: 'purity', kind: 'frac', better: 'high'},
  {key: 'knn_recall', title: 'kNN recall', kind: 'frac', better: 'high'},
  {key: 'silhouette', title: 'silhouette', kind: 'num', better: 'high'},
  {key: 'spread', title: 'spread', kind: 'num', better: 'low'},
  {key: 'hard_count', title: 'hard count', kind: 'int', better: 'low'},
];

export function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** A small line chart of `values` (nulls leave gaps); the last point is marked. */
export function sparkline(values, {width = 96, height = 24, better = 'high'} = {}) {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  const root = svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, class: 'sparkline', role: 'img'});
  if (finite.length < 1) return root;
  const min = Math.min(...finite), max = Math.max(...finite);
  const span = max - min || 1;
  const pad = 3;
  const x = (i) => (values.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (values.length - 1));
  const y = (v) => height - pad - ((v - min) / span) * (height - 2 * pad);
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) { pen = false; return; }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  const first = finite[0], last = finite[finite.length - 1];
  const improved = better === 'high' ? last >= first : last <= first;
  const colour = finite.length < 2 || last === first ? '#757575' : improved ? '#2e7d32' : '#c62828';
  root.appendChild(svg('path', {d, fill: 'none', stroke: colour, 'stroke-width': 1.5, 'stroke-linejoin': 'round'}));
  const lastIndex = values.map((v) => typeof v === 'number' && Number.isFinite(v)).lastIndexOf(true);
  root.appendChild(svg('circle', {cx: x(lastIndex), cy: y(last), r: 2.5, fill: colour}));
  root.setAttribute('aria-label', `from ${first} to ${last}`);
  return root;
}

function seriesName(entry, run) {
  const step = entry.step === null || entry.step === undefined ? '' : `step ${entry.step}`;
  return entry.run === run ? step || entry.run : `${entry.run}${step ? ' · ' + step : ''}`;
}

function delta(values, better, kind) {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (finite.length < 2) return el('td', {class: 'num muted'}, '');
  const change = finite[finite.length - 1] - finite[0];
  const good = better === 'high' ? change > 0 : change < 0;
  const sign = change >= 0 ? '+' : '−';
  let text;
  if (kind === 'frac') text = `${sign}${Math.abs(100 * change).toFixed(1)} pt`;
  else if (kind === 'int') text = change === 0 ? '0' : `${sign}${fmt(Math.abs(change))}`; // counts: "−40", not "−40.000"
  else text = `${sign}${Math.abs(change).toFixed(3)}`;
  return el('td', {class: 'num ' + (change === 0 ? '' : good ? 'good' : 'bad')}, text);
}

/** compare: the /compare answer; figure: the per-label key; onFigure(key). */
export function compareView({compare, run, figure, onFigure}) {
  const series = compare.series || [];
  const heads = series.map((s) => el('th', {scope: 'col', class: 'num', title: s.error || ''}, seriesName(s, run)));
  const overallRows = OVERALL.map((f) => {
    const values = series.map((s) => (s.overall ? s.overall[f.key] : null));
    return el('tr', null, el('th', {scope: 'row'}, f.title),
      values.map((v, i) => el('td', {class: 'num'}, series[i].error ? '—' : formatValue(f.kind, v))),
      el('td', {class: 'spark'}, sparkline(values, {better: f.better})), delta(values, f.better, f.kind));
  });
  const errors = series.filter((s) => s.error).map((s) => el('p', {class: 'error-inline'}, `${seriesName(s, run)}: ${s.error}`));

  const chosen = PER_LABEL.find((f) => f.key === figure) || PER_LABEL[0];
  const labels = new Set();
  for (const s of series) for (const row of s.labels || []) labels.add(row.label);
  const byLabel = series.map((s) => new Map((s.labels || []).map((row) => [row.label, row])));
  const labelRows = [...labels].sort(naturalCompare).map((label) => {
    const values = byLabel.map((m) => (m.get(label) ? m.get(label)[chosen.key] : null));
    return el('tr', null, el('th', {scope: 'row'}, label),
      values.map((v) => el('td', {class: 'num'}, formatValue(chosen.kind, v))),
      el('td', {class: 'spark'}, sparkline(values, {better: chosen.better})), delta(values, chosen.better, chosen.kind));
  });
  const figureSelect = el('select', {name: 'compare_figure', 'aria-label': 'per-label figure to compare'},
    PER_LABEL.map((f) => el('option', {value: f.key, selected: f.key === chosen.key}, f.title)));
  figureSelect.addEventListener('change', () => onFigure(figureSelect.value));
  const head = (first) => el('thead', null, el('tr', null, el('th', {scope: 'col'}, first), heads.map((h) => h.cloneNode(true)),
    el('th', {scope: 'col'}, 'trend'), el('th', {scope: 'col', class: 'num'}, 'change')));
  return el('div', {class: 'compare'},
    errors,
    el('div', {class: 'table-wrap'}, el('table', {class: 'compare-table'}, head('Overall'), el('tbody', null, overallRows))),
    el('div', {class: 'toolbar'}, el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'Per label'), figureSelect)),
    el('div', {class: 'table-wrap'}, el('table', {class: 'compare-table'}, head('Label'), el('tbody', null, labelRows))));
}
