// Cluster statistics: the overall figures and one sortable row per label.

import {el, fmt, pct} from './dom.js';
import {naturalCompare} from '../palette.js';
import {labelChip} from './point.js';

// Each column: key in the /clusters label row, header, how to show it, whether higher is
// better (for the "worst first" default sort and the tint), and a tooltip explaining it.
export const COLUMNS = [
  {key: 'label', title: 'Label', kind: 'label', help: 'the given label'},
  {key: 'count', title: 'Count', kind: 'int', help: 'points with this label'},
  {key: 'spread', title: 'Spread', kind: 'num', better: 'low', help: 'mean distance of the points to their label centroid (lower = tighter)'},
  {key: 'purity', title: 'Purity', kind: 'frac', better: 'high', help: 'share of the points’ k neighbours that have the same label'},
  {key: 'knn_recall', title: 'kNN recall', kind: 'frac', better: 'high', help: 'share of these points whose k-neighbour vote gives back their label'},
  {key: 'silhouette', title: 'Silhouette', kind: 'num', better: 'high', help: 'mean silhouette of the points, −1…1 (higher = better separated)'},
  {key: 'nearest_label', title: 'Nearest label', kind: 'text', help: 'the label whose centroid is closest'},
  {key: 'hard_count', title: 'Hard', kind: 'int', better: 'low', help: 'points whose neighbours vote for another label'},
];

const OVERALL = [
  {key: 'knn_accuracy', title: 'kNN accuracy', kind: 'frac', help: 'share of points whose k-neighbour vote equals their label'},
  {key: 'macro_f1', title: 'Macro F1', kind: 'frac', help: 'F1 of the kNN vote, averaged over labels'},
  {key: 'silhouette', title: 'Silhouette', kind: 'num', help: '−1…1, higher = labels better separated'},
  {key: 'davies_bouldin', title: 'Davies–Bouldin', kind: 'num', help: '≥ 0, lower = better separated clusters'},
  {key: 'num_labels', title: 'Labels', kind: 'int'},
  {key: 'n', title: 'Points', kind: 'int'},
];

export function formatValue(kind, value) {
  if (kind === 'frac') return pct(value);
  if (kind === 'int') return fmt(value);
  if (kind === 'num') return fmt(value, 3);
  return value === null || value === undefined ? '–' : String(value);
}

/** Why the k used is not the k asked for, and what a k close to N does to the figures. */
function kNotes(overall, askedK) {
  const note = askedK && askedK > overall.k
    ? `k = ${overall.k}, not ${askedK}: ${fmt(overall.n)} points have at most ${fmt(overall.n - 1)} neighbours each`
    : `k = ${overall.k}`;
  // With k near N the neighbours are most of the map: at k = N − 1 every point gets the same
  // neighbours, so every vote is the overall majority and recall drops to 0 % for the rest.
  const warning = overall.k >= overall.n / 2
    ? el('div', {class: 'k-warning small'}, `k is more than half the points: the neighbours are most of the map, so the vote mostly follows the largest labels and the figures say little. Choose a k well below ${fmt(Math.ceil(overall.n / 2))}.`)
    : null;
  return {note, warning};
}

/**
 * Where these results came from when `tb-embedanalysis precompute` computed them ahead
 * (/clusters `provenance`), else null: "precomputed by tb-embedanalysis precompute at
 * 2026-12-06 23:41 UTC, in 41 s on 4 workers (dask)".
 */
export function provenanceLine(provenance) {
  const seconds = (s) => (s < 10 ? Number(s).toFixed(1) : fmt(Math.round(s)));
  if (!provenance) return null;
  const when = String(provenance.finished_at || '').replace('T', ' ').replace(/(:\d\d)?\+00:00$/, ' UTC');
  const workers = provenance.workers === 1 ? '1 worker' : `${fmt(provenance.workers)} workers`;
  return el('div', {class: 'muted small provenance', role: 'status'}, 'precomputed by ',
    el('code', null, 'tb-embedanalysis precompute'),
    ` at ${when}, in ${seconds(provenance.seconds)} s on ${workers} (${provenance.engine})`);
}


/** An estimate's interval [low, high] of a `kind` figure as text ("90.1–92.0%"), or null. */
function intervalText(kind, interval) {
  if (!interval || interval[0] === null || interval[1] === null) return null;
  if (kind === 'frac') return `${(100 * interval[0]).toFixed(1)}–${pct(interval[1])}`;
  return `${fmt(Math.round(interval[0]))}–${fmt(Math.round(interval[1]))}`;
}

/**
 * A figure, with "≈" and its interval under it when it is an estimate's (`interval`, or
 * `estimated` for one given without: macro F1).
 */
function valueWithInterval(kind, value, interval, estimated = false) {
  const text = intervalText(kind, interval);
  const shown = formatValue(kind, value);
  if (text === null) return estimated && value !== null && value !== undefined ? `≈ ${shown}` : shown;
  return [`≈ ${shown}`, el('span', {class: 'interval'}, text)];
}

// An estimate's overall figures that are estimated (the others, n and labels, are exact).
const ESTIMATED_OVERALL = new Set(['knn_accuracy', 'macro_f1']);

/** What an estimate is: the banner above its figures (http_api.md /clusters, `estimate`). */
export function estimateNote(estimate) {
  return el('div', {class: 'estimate-note', role: 'note'},
    el('strong', null, 'Estimate'),
    ` from the exact neighbours of ${fmt(estimate.sample_size)} of ${fmt(estimate.overall.n)} points, ` +
    'with 95% intervals (Wilson). The exact figures replace it when the full pass ends.');
}

/**
 * The headline figures; askedK: the k typed in the top bar; provenance: /clusters
 * `provenance`. An estimate's show their intervals.
 */
export function overallFigures(overall, {askedK = null, provenance = null} = {}) {
  const intervals = overall.intervals || {};
  const tiles = OVERALL.filter((f) => f.key in overall).map((f) =>
    el('div', {class: 'figure', title: f.help || ''},
      el('div', {class: 'figure-value'},
        valueWithInterval(f.kind, overall[f.key], intervals[f.key], Boolean(overall.intervals) && ESTIMATED_OVERALL.has(f.key))),
      el('div', {class: 'figure-label'}, f.title)));
  const {note, warning} = kNotes(overall, askedK);
  const notes = [`${note}, ${overall.metric}`, `label column “${overall.label_column}”`];
  if (overall.silhouette_sample_size) notes.push(`silhouette on a sample of ${fmt(overall.silhouette_sample_size)}`);
  return el('div', {class: 'overall'}, el('div', {class: 'figures'}, tiles), el('div', {class: 'muted small'}, notes.join(' · ')),
    provenanceLine(provenance), warning);
}

function compareRows(key, kind) {
  return (a, b) => {
    const x = a[key], y = b[key];
    if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1; // missing last
    if (y === null || y === undefined) return -1;
    if (kind === 'label' || kind === 'text') return naturalCompare(x, y);
    return x - y;
  };
}

/**
 * labels: /clusters `labels`; sort: {key, dir: 1|-1}; onSort(sort); onLabel(label) when a row
 * is clicked; colourOf(label); focus: the selected label (row highlighted).
 */
export function clusterTable({labels, sort, onSort, onLabel, colourOf, focus}) {
  const column = COLUMNS.find((c) => c.key === sort.key) || COLUMNS[0];
  const rows = [...labels].sort((a, b) => sort.dir * compareRows(column.key, column.kind)(a, b) || naturalCompare(a.label, b.label));
  const present = COLUMNS.filter((c) => c.kind === 'label' || labels.some((row) => c.key in row));
  const head = el('tr', null, present.map((c) => {
    const active = c.key === sort.key;
    const button = el('button', {type: 'button', class: 'sort', title: c.help,
      onclick: () => onSort({key: c.key, dir: active ? -sort.dir : (c.kind === 'label' || c.kind === 'text' ? 1 : -1)})},
    c.title, el('span', {class: 'sort-mark'}, active ? (sort.dir > 0 ? '▲' : '▼') : ''));
    // A number column's heading stands over its right-aligned figures (td.num), not at the far left.
    const numeric = c.kind !== 'label' && c.kind !== 'text';
    return el('th', {scope: 'col', class: numeric ? `${c.kind} num` : c.kind, 'aria-sort': active ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none', dataset: {key: c.key}}, button);
  }));
  const body = rows.map((row) => {
    const tr = el('tr', {class: row.label === focus ? 'focus' : null, tabindex: 0, dataset: {label: String(row.label)},
      title: `show the hard examples of “${row.label}”`},
    present.map((c) => {
      const value = row[c.key];
      const interval = row.intervals?.[c.key]; // an estimate's row
      if (c.kind === 'label') return el('td', {class: 'label'}, labelChip(value, colourOf(value)));
      if (c.kind === 'frac') {
        const bad = typeof value === 'number' && value < 0.8;
        return el('td', {class: 'num' + (bad ? ' bad' : '')},
          el('span', {class: 'cell-bar'}, el('span', {class: 'cell-fill', style: {width: `${Math.round(100 * Math.max(0, value || 0))}%`}})),
          valueWithInterval(c.kind, value, interval));
      }
      if (c.kind === 'text') return el('td', {class: 'text'}, value === null || value === undefined ? '–' : String(value));
      return el('td', {class: 'num' + (c.key === 'hard_count' && value > 0 ? ' warn' : '')}, valueWithInterval(c.kind, value, interval));
    }));
    tr.addEventListener('click', () => onLabel(row.label));
    tr.addEventListener('keydown', (event) => { if (event.key === 'Enter') onLabel(row.label); });
    return tr;
  });
  return el('div', {class: 'table-wrap'}, el('table', {class: 'cluster-table'}, el('thead', null, head), el('tbody', null, body)));
}
