// Hard-example gallery: the points the embedding gets most wrong, hardest first, each with
// the evidence (its label, what its neighbours vote for and by how much).

import {el, fmt, metadataText} from './dom.js';
import {labelChip, thumbnail} from './point.js';
import {tagChip, tagControls} from './tags.js';
import {naturalCompare} from '../palette.js';
import {scoreHelp, scoreName} from '../scores.js';

/**
 * filter: {label, predicted, method}; labels: every label (for the filter select);
 * methods: from the server; pending: the ranking is still computing, so a score chosen (a
 * shared link's) shows before the server has said which it offers; onFilter(patch); exportUrl(format).
 * Tags: filter.hideOk hides points tagged "ok" (hidden: how many were); tagAll: the
 * "tag all N in this cell" control, or null; tagsExportUrl(format): 'csv' | 'metadata'; onReview():
 * open the review queue on this ranking (null: no button).
 */
export function hardToolbar({filter, labels, methods, onFilter, exportUrl, hidden = null, tagAll = null, tagsExportUrl = null,
  onReview = null, pending = false}) {
  const labelSelect = el('select', {name: 'hard_label', 'aria-label': 'label to list hard examples of'},
    el('option', {value: ''}, 'all labels'),
    labels.map((l) => el('option', {value: l, selected: l === filter.label}, l)));
  labelSelect.addEventListener('change', () => onFilter({label: labelSelect.value || null, predicted: null, offset: 0}));
  const parts = [el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'Label'), labelSelect)];
  // Until the first answer names the scores offered, the one chosen shows alone, disabled.
  const unknown = Boolean(pending && filter.method && !(methods || []).includes(filter.method));
  if ((methods && methods.length > 1) || unknown) {
    const offered = unknown ? [filter.method] : methods;
    const methodSelect = el('select', {name: 'hard_method', 'aria-label': 'hardness score', title: scoreHelp(filter.method),
      disabled: unknown, 'aria-busy': pending ? 'true' : null},
    offered.map((m) => el('option', {value: m, selected: m === filter.method, title: scoreHelp(m)}, scoreName(m))));
    methodSelect.addEventListener('change', () => onFilter({method: methodSelect.value, offset: 0}));
    parts.push(el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'Score'), methodSelect));
  }
  if (filter.predicted !== null && filter.predicted !== undefined) {
    parts.push(el('span', {class: 'filter-chip'}, `given “${filter.label}” → voted “${filter.predicted}”`,
      el('button', {type: 'button', class: 'chip-close', 'aria-label': 'remove the voted-label filter',
        onclick: () => onFilter({predicted: null, offset: 0})}, '×')));
  }
  const hideBox = el('input', {type: 'checkbox', name: 'hide_ok', checked: Boolean(filter.hideOk)});
  hideBox.addEventListener('change', () => onFilter({hideOk: hideBox.checked, offset: 0}));
  parts.push(el('label', {class: 'check hide-ok', title: 'leave out the points tagged “ok”: work through the rest as a queue'},
    hideBox, 'hide ok', filter.hideOk && hidden ? el('span', {class: 'muted'}, ` (${fmt(hidden)} hidden)`) : null));
  if (tagAll) parts.push(tagAll);
  if (onReview) {
    parts.push(el('button', {type: 'button', class: 'button small', name: 'open_review', onclick: onReview,
      title: 'work through this ranking one point at a time from the keyboard (the review queue, beside the map)'}, 'Review one by one'));
  }
  parts.push(el('span', {class: 'spacer'}));
  parts.push(el('span', {class: 'export'}, 'Export ',
    el('a', {href: exportUrl('csv'), download: '', class: 'export-link'}, 'CSV'), ' · ',
    el('a', {href: exportUrl('json'), download: '', class: 'export-link'}, 'JSON'),
    tagsExportUrl ? [' · tags ',
      el('a', {href: tagsExportUrl('csv'), download: '', class: 'export-link', name: 'export_tags',
        title: 'every tagged point: index, label, tag, corrected label, when'}, 'CSV'), ' · ',
      el('a', {href: tagsExportUrl('metadata'), download: '', class: 'export-link', name: 'export_metadata',
        title: 'metadata.tsv with a column of corrected labels appended (the Projector’s metadata-edited.tsv)'},
      'metadata with corrected labels')] : null));
  // What the score measures and when to use it, in one line under the toolbar (issue 27.1).
  const help = filter.method ? scoreHelp(filter.method) : '';
  const all = (methods || []).filter((m) => scoreHelp(m));
  return el('div', null, el('div', {class: 'toolbar'}, parts),
    help ? el('p', {class: 'score-help muted small', role: 'note'}, el('strong', null, `${scoreName(filter.method)}: `), help,
      all.length > 1 ? el('details', {class: 'score-list'}, el('summary', null, 'every score'),
        el('ul', null, all.map((m) => el('li', {dataset: {method: m}}, el('strong', null, `${scoreName(m)}: `), scoreHelp(m))))) : null)
      : null);
}

/**
 * The given label and the neighbours' verdict: "3 → 5" when they vote for another label;
 * when the vote went to the given label (ties go to the smallest label), "3 tied with 5"
 * if another label had as many votes, else "3 ✓" — never "3 → 3" (issue 27.5).
 */
export function verdict(example, colourOf) {
  const given = labelChip(example.label, colourOf(example.label), {title: `given label ${example.label}`});
  if (example.predicted_label !== example.label) {
    return el('span', {class: 'hard-labels'}, given, el('span', {class: 'arrow', 'aria-label': 'neighbours vote'}, '→'),
      labelChip(example.predicted_label, colourOf(example.predicted_label), {title: `neighbours vote ${example.predicted_label}`}));
  }
  const votes = example.neighbor_labels || {};
  const own = votes[example.label] || 0;
  const tied = Object.entries(votes).filter(([label, count]) => label !== example.label && count === own && own > 0)
    .map(([label]) => label).sort(naturalCompare);
  if (tied.length) {
    return el('span', {class: 'hard-labels', title: `a tied vote (${own} each); ties go to the smallest label`}, given,
      el('span', {class: 'verdict muted small'}, 'tied with'),
      tied.slice(0, 2).map((label) => labelChip(label, colourOf(label))), tied.length > 2 ? '…' : null);
  }
  return el('span', {class: 'hard-labels'}, given,
    el('span', {class: 'verdict muted small', title: 'the neighbours vote for the given label'}, '✓ neighbours agree'));
}

/** The neighbours' votes in words ("neighbours: 5×9, 3×1") and how many voted. */
export function reason(example) {
  const counts = Object.entries(example.neighbor_labels || {}).sort((a, b) => b[1] - a[1] || naturalCompare(a[0], b[0]));
  const total = counts.reduce((sum, [, c]) => sum + c, 0);
  const text = counts.slice(0, 4).map(([label, c]) => `${label}×${c}`).join(', ') + (counts.length > 4 ? ', …' : '');
  return {text: total ? `neighbours: ${text}` : 'no neighbour votes', total};
}

/**
 * One card per example. thumbUrl(index) is null without a sprite. tagOf(index) → its tag
 * ({tag, corrected_label}) or null; onTag(index, fields) → promise (omitted: no tag controls).
 */
export function hardGallery({answer, labelColumn, colourOf, thumbUrl, onSelect, selected, page, onPage, tagOf = () => null, onTag = null}) {
  const {examples, total} = answer;
  if (!examples.length) {
    if (answer.hidden && total === 0) return el('p', {class: 'muted'}, `Queue done: all ${fmt(answer.hidden)} points here are tagged “ok” (hidden).`);
    return el('p', {class: 'muted'}, total === 0 ? 'No hard examples here: every point’s neighbours agree with its label.' : 'No more examples.');
  }
  const cards = examples.map((ex) => {
    const text = metadataText(ex.metadata, {skip: labelColumn ? [labelColumn] : [], index: ex.index});
    const why = reason(ex);
    const card = el('button', {type: 'button', class: 'example-card hard-card' + (ex.index === selected ? ' selected' : ''),
      dataset: {index: String(ex.index)}, title: `row ${ex.index}: ${text || ''}\nclick to see its neighbours`},
    thumbnail({src: thumbUrl(ex.index), text: text || ex.label, size: 64}),
    verdict(ex, colourOf),
    el('span', {class: 'example-reason'}, why.text),
    el('span', {class: 'example-score muted small'},
      `#${ex.index}`,
      typeof ex.margin === 'number' ? ` · margin ${fmt(ex.margin, 2)}` : '',
      typeof ex.score === 'number' ? ` · score ${fmt(ex.score, 2)}` : ''),
    el('span', {class: 'hard-tag-slot'}, tagChip(tagOf(ex.index), {short: true})));
    card.addEventListener('click', () => onSelect(ex.index));
    if (!onTag) return card;
    return el('div', {class: 'hard-item', dataset: {index: String(ex.index)}}, card,
      tagControls({entry: tagOf(ex.index), compact: true, label: `tag row ${ex.index}`, onSet: (fields) => onTag(ex.index, fields)}));
  });
  const errors = answer.errors; // method=history: how many label errors, and where to cut (issue 26)
  const items = errors && typeof errors.cut_score === 'number' ? withCutLine(cards, examples, errors) : cards;
  const first = page.offset + 1;
  const last = page.offset + examples.length;
  const pager = el('div', {class: 'pager'},
    el('button', {type: 'button', class: 'button small', disabled: page.offset === 0, onclick: () => onPage(Math.max(0, page.offset - page.limit))}, '‹ Previous'),
    el('span', {class: 'pager-text'}, `${fmt(first)}–${fmt(last)} of ${fmt(total)}`,
      // hard_total: how many of the ranked points their neighbours outvote (absent on older servers).
      typeof answer.hard_total === 'number' ? ` ranked · ${fmt(answer.hard_total)} outvoted by their neighbours` : ''),
    el('button', {type: 'button', class: 'button small', disabled: last >= total, onclick: () => onPage(page.offset + page.limit)}, 'Next ›'));
  return el('div', null, errors ? el('p', {class: 'errors-estimate small', title: errorsTitle(errors)}, errors.message) : null,
    el('div', {class: 'example-grid hard-grid'}, items), pager);
}

/** The cards with the cut line before the first example scoring below the cut (the line
 *  only where an example above it is on this page too: ties at the cut stay above). */
function withCutLine(cards, examples, errors) {
  const at = examples.findIndex((ex, i) => i > 0 && ex.score < errors.cut_score && examples[i - 1].score >= errors.cut_score);
  if (at < 0) return cards;
  const line = el('div', {class: 'hard-cut', role: 'separator', 'aria-label': 'estimated number of label errors'},
    el('span', null, `▲ about ${fmt(errors.cut)} likely label errors above this line · reviewing them should find about ${foundText(errors)} %`));
  return [...cards.slice(0, at), line, ...cards.slice(at)];
}

/** What reviewing up to the cut should find, in %: a range "65–78" (the answer's
 *  expected_found_low to expected_found), one number when they round alike. */
function foundText(errors) {
  const high = Math.round(100 * errors.expected_found);
  const low = Math.round(100 * (errors.expected_found_low ?? errors.expected_found));
  return low < high ? `${low}–${high}` : `${high}`;
}

function errorsTitle(errors) {
  const pairs = (errors.pairs || []).slice(0, 5).map((p) => `given ${p.label}, likely ${p.likely}: ~${fmt(p.estimate, 0)}`);
  return ['estimated from the training history (cleanlab’s confident joint per step)', ...pairs].join('\n');
}
