// The top bar: which run / embedding / step, which label column, k and metric.

import {el, fmt} from './dom.js';

function select(label, name, options, value, onChange, {title, disabled} = {}) {
  const node = el('select', {name, 'aria-label': label, title, disabled},
    options.map((opt) => el('option', {value: opt.value, selected: String(opt.value) === String(value)}, opt.text)));
  node.addEventListener('change', () => onChange(node.value));
  return el('label', {class: 'field'}, el('span', {class: 'field-label'}, label), node);
}

/**
 * runs: the /runs answer's `runs`; sel: current selection; onChange(patch).
 * entry: the selected embedding's /runs entry (or null); usedK: {k, points}: the k the
 * server is asked for (at most points − 1) and the points it is bounded by; metricChoice:
 * the statistics' `metric_choice` (how metric=auto chose), or null.
 */
export function selectorBar({runs, sel, entry, usedK = null, metricChoice = null, onChange}) {
  if (!runs.length) return el('header', {class: 'topbar'}, el('div', {class: 'brand'}, 'Embedding Analysis'));
  const run = runs.find((r) => r.run === sel.run);
  const embeddings = run ? run.embeddings : [];
  const fields = [
    select('Run', 'run', runs.map((r) => ({value: r.run, text: r.run || '.'})), sel.run,
      (value) => onChange({run: value, embedding: null, step: null, labelColumn: null, point: null})),
    select('Embedding', 'embedding', embeddings.map((e) => ({
      value: e.name,
      text: e.error ? `${e.name} (cannot load)` : e.shape ? `${e.name}  ${fmt(e.shape[0])}×${e.shape[1]}` : e.name,
    })), sel.embedding, (value) => onChange({embedding: value, step: null, labelColumn: null, point: null})),
  ];
  if (entry && entry.steps && entry.steps.length > 1) {
    const steps = [...entry.steps].sort((a, b) => b - a);
    fields.push(select('Step', 'step', steps.map((s) => ({value: s, text: s === entry.step ? `${s} (latest)` : String(s)})),
      sel.step ?? entry.step, (value) => onChange({step: Number(value), point: null})));
  }
  if (entry && !entry.error && entry.columns && entry.columns.length) {
    // Without a guessed label column, "none" is the default (and choosing it goes back to it).
    const options = entry.columns.map((c) => ({value: c, text: c === entry.label_column ? `${c} (guessed)` : c}));
    if (!entry.label_column) options.unshift({value: '', text: 'none'});
    fields.push(select('Label column', 'label_column', options,
      sel.labelColumn ?? entry.label_column ?? '', (value) => onChange({labelColumn: value || null})));
  }
  const kInput = el('input', {type: 'number', name: 'k', min: 1, max: 1000, step: 1, value: String(sel.k), 'aria-label': 'k neighbours', class: 'k-input'});
  kInput.addEventListener('change', () => {
    const k = Math.round(Number(kInput.value));
    if (Number.isFinite(k) && k >= 1) onChange({k: Math.min(k, 1000)});
    else kInput.value = String(sel.k);
  });
  // A k beyond the points' count is used as N − 1: say so where k is typed, not only in figures.
  const clamped = usedK && entry && !entry.error && usedK.k < sel.k;
  fields.push(el('label', {class: 'field', title: 'number of nearest neighbours used everywhere (list, kNN vote, statistics)'},
    el('span', {class: 'field-label'}, 'k'), el('span', {class: 'k-row'}, kInput,
      clamped ? el('span', {class: 'k-note', role: 'status',
      title: `${fmt(usedK.points)} points: each has at most ${fmt(usedK.points - 1)} neighbours, so k = ${fmt(usedK.k)} is used instead of ${fmt(sel.k)}`},
      `using ${fmt(usedK.k)} (${fmt(usedK.points)} points)`) : null)));
  // auto: the server chooses per embedding (the one under which the labels are most
  // predictable from the neighbours); once the statistics say which, the option names it.
  // Without a label column there is nothing to choose by: the server uses cosine (issue 27.5).
  const unlabelled = entry && !entry.error && !sel.labelColumn;
  const chosen = metricChoice?.chosen ?? (unlabelled ? 'cosine' : null);
  const autoTitle = unlabelled ? 'no label column to choose by: auto uses cosine' : metricChoice?.accuracy
    ? `leave-one-out kNN accuracy (k = ${metricChoice.k}, ${fmt(metricChoice.sample)} of ${fmt(metricChoice.n)} points): ` +
      Object.entries(metricChoice.accuracy).map(([m, a]) => `${m} ${(100 * a).toFixed(1)} %`).join(', ')
    : 'chosen per embedding: the metric under which the labels are most predictable from the neighbours';
  const metricField = select('Metric', 'metric', [
    {value: 'auto', text: chosen ? `auto: ${chosen}` : 'auto'},
    {value: 'cosine', text: 'cosine'}, {value: 'euclidean', text: 'euclidean'}],
  sel.metric, (value) => onChange({metric: value}), {title: sel.metric === 'auto' ? autoTitle : 'distance used everywhere'});
  fields.push(metricField);

  const facts = [];
  if (entry && entry.shape) {
    facts.push(`${fmt(entry.shape[0])} points · ${entry.shape[1]} dims`);
    if (entry.has_sprite && entry.thumbnail_size) facts.push(`sprite ${entry.thumbnail_size[0]}×${entry.thumbnail_size[1]}`);
    if (entry.nonfinite_rows) facts.push(`${fmt(entry.nonfinite_rows)} rows with NaN/Inf skipped`);
  }
  return el('header', {class: 'topbar'},
    el('div', {class: 'brand'}, 'Embedding Analysis'),
    el('div', {class: 'fields'}, fields),
    el('div', {class: 'facts'}, facts.join(' · ')));
}
