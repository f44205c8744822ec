// The History panel's pieces (issue 16): a point's margin at every step with its vote, a
// small line chart over the steps, the steps left out, neighbourhood churn between two steps
// and the confusion timeline of label pairs. Pure DOM/SVG builders (no innerHTML); the
// cartography chart is its own object (cartography.js).

import {svg} from './compare.js';
import {el, fmt, metadataText} from './dom.js';
import {labelChip} from './point.js';

/**
 * A point's kNN margin at each step as a line in [−1, 1] (dashed: 0, where its label stops
 * winning the vote), one dot per step in the colour of the label its neighbours voted for.
 * margins: numbers per step; votes: labels per step (or null); steps: step numbers.
 */
export function marginSparkline(margins, {votes = null, steps = null, label = null, colourOf = () => '#757575',
  width = 120, height = 28} = {}) {
  const root = svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, class: 'margin-spark', role: 'img'});
  const pad = 3;
  const x = (i) => (margins.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (margins.length - 1));
  const y = (v) => height - pad - ((v + 1) / 2) * (height - 2 * pad);
  root.appendChild(svg('line', {x1: pad, x2: width - pad, y1: y(0), y2: y(0), class: 'spark-zero'}));
  let d = '';
  margins.forEach((v, i) => { if (Number.isFinite(v)) d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`; });
  root.appendChild(svg('path', {d, class: 'spark-line'}));
  margins.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const vote = votes ? votes[i] : null;
    const dot = svg('circle', {cx: x(i), cy: y(v), r: 2.6, fill: vote !== null ? colourOf(vote) : 'currentColor',
      class: 'spark-dot' + (vote !== null && label !== null && vote !== label ? ' outvoted' : '')});
    const title = svg('title', {});
    title.textContent = `${steps ? `step ${steps[i]}: ` : ''}margin ${fmt(v, 2)}${vote !== null ? `, voted “${vote}”` : ''}`;
    dot.appendChild(title);
    root.appendChild(dot);
  });
  const words = margins.map((v, i) => `${steps ? steps[i] : i}: ${fmt(v, 2)}`).join(', ');
  root.setAttribute('aria-label', `kNN margin per step (${words})`);
  return root;
}

/**
 * A line chart of one or more series over the steps (evenly spaced: logged steps are often
 * log-spaced). series: [{name, values, colour}]; yRange: [lo, hi] or null (from the data);
 * format(v) for the y labels and dot titles.
 */
export function stepChart(steps, series, {yRange = null, format = (v) => fmt(v), width = 360, height = 120,
  cls = 'step-chart', label = '', marker = null} = {}) {
  const left = 44, right = 10, top = 8, bottom = 20;
  const root = svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, class: cls, role: 'img', 'aria-label': label});
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  let [lo, hi] = yRange || [Math.min(...all), Math.max(...all)];
  if (!all.length) [lo, hi] = [0, 1];
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const x = (i) => (steps.length === 1 ? (left + width - right) / 2 : left + (i * (width - left - right)) / (steps.length - 1));
  const y = (v) => height - bottom - ((v - lo) / (hi - lo)) * (height - top - bottom);
  root.appendChild(svg('path', {d: `M${left},${top}V${height - bottom}H${width - right}`, class: 'chart-axis'}));
  for (const v of [lo, hi]) {
    const t = svg('text', {x: left - 4, y: y(v), class: 'chart-text', 'text-anchor': 'end', 'dominant-baseline': 'middle'});
    t.textContent = format(v);
    root.appendChild(t);
  }
  const shown = steps.length <= 6 ? steps.map((_, i) => i) : [0, Math.floor((steps.length - 1) / 2), steps.length - 1];
  for (const i of shown) {
    const t = svg('text', {x: x(i), y: height - 4, class: 'chart-text', 'text-anchor': 'middle'});
    t.textContent = String(steps[i]);
    root.appendChild(t);
  }
  if (marker && marker.index >= 0 && marker.index < steps.length) { // e.g. where memorisation starts
    const mx = x(marker.index);
    const g = svg('g', {class: 'chart-marker'});
    g.appendChild(svg('path', {d: `M${mx},${top}V${height - bottom}`, class: 'chart-marker-line'}));
    const t = svg('text', {x: mx + (marker.index > steps.length / 2 ? -3 : 3), y: top + 8, class: 'chart-text chart-marker-text',
      'text-anchor': marker.index > steps.length / 2 ? 'end' : 'start'});
    t.textContent = marker.label;
    g.appendChild(t);
    const title = svg('title', {});
    title.textContent = marker.title || marker.label;
    g.appendChild(title);
    root.appendChild(g);
  }
  for (const s of series) {
    let d = '';
    s.values.forEach((v, i) => { if (Number.isFinite(v)) d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`; });
    root.appendChild(svg('path', {d, class: 'chart-line', style: `stroke: ${s.colour || 'currentColor'}`}));
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const dot = svg('circle', {cx: x(i), cy: y(v), r: 2.5, style: `fill: ${s.colour || 'currentColor'}`});
      const title = svg('title', {});
      title.textContent = `${s.name ? s.name + ', ' : ''}step ${steps[i]}: ${format(v)}`;
      dot.appendChild(title);
      root.appendChild(dot);
    });
  }
  return root;
}

/** The steps the history could not use, each with why. */
export function leftOutList(leftOut) {
  if (!leftOut?.length) return null;
  return el('div', {class: 'left-out'},
    el('div', {class: 'muted small'}, `${leftOut.length} step${leftOut.length > 1 ? 's' : ''} left out:`),
    el('ul', {class: 'left-out-list'}, leftOut.map((entry) =>
      el('li', {dataset: {step: String(entry.step)}}, el('b', null, entry.step === null ? 'no step' : `step ${entry.step}`), `: ${entry.reason}`))));
}

/** The selected point over the steps: margin sparkline with its votes and what they mean. */
export function pointHistoryView({point, steps, n, colourOf}) {
  const learned = point.never_learned ? 'never learned: its neighbours never voted for its label'
    : point.learned_at === null ? 'not learned at the last step'
      : point.learned_at === steps[0] ? `learned from the first step (${point.learned_at}) on`
        : `learned at step ${point.learned_at}`;
  const forgetting = point.forgetting === 0 ? 'never forgotten'
    : `forgotten ${point.forgetting} time${point.forgetting > 1 ? 's' : ''} (learned, then outvoted again)`;
  const votes = el('ol', {class: 'vote-steps'}, steps.map((s, i) => el('li', {class: point.vote[i] === point.label ? '' : 'outvoted'},
    el('span', {class: 'muted small'}, `step ${s}`), labelChip(point.vote[i], colourOf(point.vote[i]), {title: `step ${s}: neighbours vote ${point.vote[i]}`}),
    el('span', {class: 'small'}, fmt(point.margin[i], 2)))));
  return el('div', {class: 'point-history', dataset: {index: String(point.index)}},
    el('div', {class: 'point-history-head'},
      el('span', {class: 'index'}, `#${point.index}`), labelChip(point.label, colourOf(point.label), {title: `given label ${point.label}`}),
      marginSparkline(point.margin, {votes: point.vote, steps, label: point.label, colourOf, width: 180, height: 36})),
    el('ul', {class: 'facts-list small'},
      el('li', null, learned), el('li', null, forgetting),
      el('li', null, `history score ${fmt(point.score, 3)}: rank ${fmt(point.rank + 1)} of ${fmt(n)} (1 = likeliest label error)`),
      el('li', null, `mean margin ${fmt(point.mean_margin, 3)}, variability ${fmt(point.variability, 3)}`)),
    votes);
}

function stepSelect(name, steps, value, onChange, aria) {
  const select = el('select', {name, 'aria-label': aria}, steps.map((s) => el('option', {value: String(s), selected: s === value}, String(s))));
  select.addEventListener('change', () => onChange(Number(select.value)));
  return select;
}

/** The two step pickers of the churn section: onSteps({stepA, stepB}). */
export function churnPickers({steps, stepA, stepB, onSteps}) {
  return el('div', {class: 'toolbar'},
    el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'From step'),
      stepSelect('churn_a', steps, stepA, (v) => onSteps({stepA: v, stepB}), 'first step of the churn')),
    el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'to step'),
      stepSelect('churn_b', steps, stepB, (v) => onSteps({stepA, stepB: v}), 'second step of the churn')));
}

/** Bars of the overlap histogram: points whose k neighbours share o of k at both steps. */
function histogramChart(histogram, k) {
  const width = 360, height = 90, bottom = 16, top = 4;
  const root = svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, class: 'churn-histogram', role: 'img',
    'aria-label': `points by how many of their ${k} neighbours stayed: ${histogram.map((c, o) => `${o}: ${c}`).join(', ')}`});
  const max = Math.max(1, ...histogram);
  const w = width / histogram.length;
  histogram.forEach((count, o) => {
    const h = ((height - top - bottom) * count) / max;
    const bar = svg('rect', {x: o * w + 1, y: height - bottom - h, width: Math.max(1, w - 2), height: h, class: 'churn-bar'});
    bar.setAttribute('data-overlap', String(o));
    bar.setAttribute('data-count', String(count));
    const title = svg('title', {});
    title.textContent = `${fmt(count)} points keep ${o} of their ${k} neighbours`;
    bar.appendChild(title);
    root.appendChild(bar);
    if (histogram.length <= 21 || o % Math.ceil(histogram.length / 20) === 0) {
      const t = svg('text', {x: o * w + w / 2, y: height - 4, class: 'chart-text', 'text-anchor': 'middle'});
      t.textContent = String(o);
      root.appendChild(t);
    }
  });
  return root;
}

/** The /churn answer: mean overlap, its histogram, per label, and the points that moved most. */
export function churnView({answer, colourOf, onSelect, labelColumn}) {
  const same = answer.a.step === answer.b.step && answer.a.run === answer.b.run && answer.a.embedding === answer.b.embedding;
  const labels = [...answer.labels].sort((p, q) => p.mean_jaccard - q.mean_jaccard);
  return el('div', {class: 'churn', dataset: {stepA: String(answer.a.step), stepB: String(answer.b.step)}},
    el('p', {class: 'churn-summary'},
      'Mean overlap of the ', el('b', null, String(answer.k)), ' nearest neighbours (Jaccard) from step ', el('b', null, String(answer.a.step)),
      ' to step ', el('b', null, String(answer.b.step)), ': ', el('b', {class: 'churn-mean'}, fmt(answer.mean_jaccard, 3)),
      ` over ${fmt(answer.n)} points`, same ? ' (the same step: nothing moved)' : '.'),
    el('div', {class: 'churn-row'},
      el('figure', {class: 'churn-figure'}, histogramChart(answer.histogram, answer.k),
        el('figcaption', {class: 'muted small'}, `points by how many of their ${answer.k} neighbours are the same at both steps`)),
      el('div', {class: 'table-wrap churn-labels'}, el('table', null,
        el('thead', null, el('tr', null, el('th', {scope: 'col'}, 'Label'), el('th', {scope: 'col', class: 'num'}, 'points'),
          el('th', {scope: 'col', class: 'num'}, 'mean overlap'))),
        el('tbody', null, labels.map((row) => el('tr', {dataset: {label: row.label}},
          el('td', {class: 'label'}, labelChip(row.label, colourOf(row.label))), el('td', {class: 'num'}, fmt(row.count)),
          el('td', {class: 'num'}, fmt(row.mean_jaccard, 3)))))))),
    el('div', {class: 'muted small'}, 'Moved most (lowest overlap first; click to select):'),
    el('div', {class: 'churn-moved'}, answer.moved.map((m) => el('button', {type: 'button', class: 'moved-point', dataset: {index: String(m.index)},
      title: `row ${m.index}${m.metadata ? ': ' + metadataText(m.metadata, {skip: labelColumn ? [labelColumn] : [], index: m.index}) : ''}\n`
        + `${fmt(m.jaccard, 3)} of its neighbours stayed (Jaccard); click to select`, onclick: () => onSelect(m.index)},
    el('span', {class: 'index'}, `#${m.index}`), labelChip(m.label, colourOf(m.label)),
    el('span', {class: 'small muted'}, `overlap ${fmt(m.jaccard, 2)}`)))));
}

const TREND_WORDS = {
  merging: 'the neighbours send more of these points to the other label over training: the two are merging',
  separating: 'fewer of these points are voted the other label over training: the two are separating',
  steady: 'about as many at every step: neither merging nor separating',
};

/** One label pair's counts over the steps, its trend and onset step in words. */
export function timelinePair({pair, steps, colourOf, large = false}) {
  const onset = pair.onset_step === null || pair.onset_step === undefined ? ''
    : pair.trend === 'steady' ? '' : ` It starts ${pair.trend === 'merging' ? 'merging' : 'separating'} at step ${pair.onset_step}.`;
  return el('div', {class: 'timeline-pair', dataset: {label: pair.label, predicted: pair.predicted, trend: pair.trend}},
    el('div', {class: 'timeline-head'}, labelChip(pair.label, colourOf(pair.label), {title: `given ${pair.label}`}),
      el('span', {class: 'arrow'}, '→'), labelChip(pair.predicted, colourOf(pair.predicted), {title: `voted ${pair.predicted}`}),
      el('span', {class: `trend trend-${pair.trend}`}, pair.trend)),
    stepChart(steps, [{name: `${pair.label} → ${pair.predicted}`, values: pair.counts, colour: colourOf(pair.predicted)}],
      {yRange: [0, Math.max(1, ...pair.counts)], format: (v) => fmt(Math.round(v)), width: large ? 360 : 220, height: large ? 110 : 70,
        label: `points labelled ${pair.label} voted ${pair.predicted} per step: ${pair.counts.join(', ')}`}),
    large ? el('p', {class: 'small timeline-words'}, `Points labelled “${pair.label}” whose neighbours vote “${pair.predicted}”: `
      + `${pair.counts[0]} at step ${steps[0]}, ${pair.counts[pair.counts.length - 1]} at step ${steps[steps.length - 1]}; ${TREND_WORDS[pair.trend] || pair.trend}.${onset}`) : null);
}

/** The cartography chart's caption: how to read it, the settled dot, what is ringed. */
export function cartographyCaption({settled, ringed, ringScore}) {
  return el('p', {class: 'muted small cartography-caption'},
    'Each dot is a point: up, its neighbours agree with its label at most steps; right, their verdict changed a lot over training. ',
    settled ? `${fmt(settled)} points whose neighbours all shared their label at every step are the one dot at the top left. ` : '',
    el('span', {class: 'ring-key'}, '◯'),
    ringed ? ` ringed: the ${ringed} likeliest label errors (history score ≥ ${ringScore}, highest first). `
      : ` no point has a history score of ${ringScore} or more: no likely label error. `,
    'Hover for details, click to select.');
}

/** The hover card of chart position p (of /history's `points`), ranked `rank` by score. */
export function cartographyTooltip(points, p, rank, colourOf) {
  return el('div', {class: 'tooltip-text'},
    el('div', {class: 'point-sub'}, labelChip(points.label[p], colourOf(points.label[p])),
      el('span', {class: 'index'}, `#${points.index[p]}`)),
    el('div', {class: 'small'}, `history score ${fmt(points.score[p], 3)} (rank ${fmt(rank)})`),
    el('div', {class: 'muted small'}, `mean margin ${fmt(points.mean_margin[p], 3)} · variability ${fmt(points.variability[p], 3)}`),
    el('div', {class: 'muted small'}, points.never_learned[p] ? 'never learned'
      : points.learned_at[p] === null ? 'not learned at the last step' : `learned at step ${points.learned_at[p]}`));
}

/**
 * What the history says about label errors (issue 26): the score's method, the estimated
 * count, and whether the logged steps let the history help (memorisation's verdict).
 */
export function labelErrorsSummary({score, errors, memorisation}) {
  const parts = [];
  if (errors) parts.push(el('p', {class: 'errors-estimate small'}, errors.message));
  if (memorisation) {
    const warn = memorisation.verdict === 'too_late' || memorisation.verdict === 'too_few';
    parts.push(el('p', {class: `memorisation-note small${warn ? ' warn' : ''}`, dataset: {verdict: memorisation.verdict}},
      memorisation.message));
  }
  if (score?.method) parts.push(el('p', {class: 'muted small'}, `score: ${score.method}`));
  return parts;
}

/**
 * kNN accuracy per step of a /history answer and, with its `memorisation`, the share of the
 * likely label errors fitted to their given label, with a marker where memorisation starts.
 */
export function accuracyView(a) {
  const series = [{name: 'kNN accuracy', values: a.per_step.map((s) => s.knn_accuracy), colour: 'var(--accent)'}];
  const m = a.memorisation;
  if (m) series.push({name: 'likely label errors fitting their label', values: m.suspect_fit, colour: 'var(--bad)'});
  const onset = m && m.onset_step !== null ? a.steps.indexOf(m.onset_step) : -1;
  const marker = onset >= 0 ? {index: onset, label: `memorisation ${m.onset_step}`, title: m.message} : null;
  const label = `leave-one-out kNN accuracy per step: ${a.per_step.map((s) => `${s.step}: ${(100 * s.knn_accuracy).toFixed(1)}%`).join(', ')}`
    + (marker ? `; memorisation starts at step ${m.onset_step}` : '');
  return [
    stepChart(a.steps, series, {yRange: m ? [0, 1] : null, format: (v) => `${(100 * v).toFixed(1)}%`, width: 340, height: 110,
      marker, label}),
    el('p', {class: 'muted small'}, 'the share of points whose neighbours vote for their own label, at each step',
      m ? '; in red, the share of the likely label errors fitted to their given label (the network memorising them)' : ''),
  ];
}
