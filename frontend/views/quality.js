// Data-quality views (issue 18): the outlier gallery and the near-duplicate groups, with the
// split column that turns groups across splits into leaks. Pure DOM builders.

import {el, fmt, metadataText} from './dom.js';
import {thumbnail} from './point.js';

/** The two sections' switch. which: 'outliers' | 'duplicates'. */
export function qualityTabs({which, onSwitch}) {
  const tab = (name, text) => el('button', {type: 'button', class: 'seg' + (which === name ? ' active' : ''),
    role: 'tab', 'aria-selected': String(which === name), dataset: {tab: name}, onclick: () => onSwitch(name)}, text);
  return el('span', {class: 'segmented', role: 'tablist', 'aria-label': 'data quality'},
    tab('outliers', 'Outliers'), tab('duplicates', 'Duplicates'));
}

function pager({page, count, total, onPage, what}) {
  const first = page.offset + 1;
  const last = page.offset + count;
  return el('div', {class: 'pager'},
    el('button', {type: 'button', class: 'button small', disabled: page.offset === 0,
      onclick: () => onPage(Math.max(0, page.offset - page.limit))}, '‹ Previous'),
    el('span', {class: 'pager-text'}, `${fmt(first)}–${fmt(last)} of ${fmt(total)} ${what}`),
    el('button', {type: 'button', class: 'button small', disabled: last >= total,
      onclick: () => onPage(page.offset + page.limit)}, 'Next ›'));
}

/** One card per point, most outlying first; click selects the point. thumbUrl(i) is null without a sprite. */
export function outlierGallery({answer, labelColumn, thumbUrl, onSelect, selected, page, onPage}) {
  const {examples, total} = answer;
  if (!examples.length) return el('p', {class: 'muted'}, total === 0 ? 'No points to rank.' : 'No more points.');
  const cards = examples.map((ex) => {
    const label = labelColumn && ex.metadata ? ex.metadata[labelColumn] : null;
    const text = metadataText(ex.metadata, {skip: labelColumn ? [labelColumn] : [], index: ex.index});
    const card = el('button', {type: 'button', class: 'example-card outlier-card' + (ex.index === selected ? ' selected' : ''),
      dataset: {index: String(ex.index)}, title: `row ${ex.index}: ${text}\nclick to see its neighbours`},
    thumbnail({src: thumbUrl(ex.index), text: text || label || `#${ex.index}`, size: 64}),
    label !== null && label !== undefined ? el('span', {class: 'example-reason'}, label) : null,
    el('span', {class: 'example-score muted small'}, `#${ex.index} · distance ${fmt(ex.score, 3)}`));
    card.addEventListener('click', () => onSelect(ex.index));
    return card;
  });
  const note = el('p', {class: 'muted small'},
    `Mean ${answer.metric} distance to the ${answer.k} nearest neighbours; higher = farther from everything else.`);
  return el('div', null, note, el('div', {class: 'example-grid outlier-grid'}, cards),
    pager({page, count: examples.length, total, onPage, what: 'points'}));
}

/** columns: the metadata columns; filter: {splitColumn, threshold}; onFilter(patch). */
export function duplicateToolbar({columns, filter, onFilter}) {
  const split = el('select', {name: 'split_column', 'aria-label': 'split column'},
    el('option', {value: ''}, 'none'),
    columns.map((c) => el('option', {value: c, selected: c === filter.splitColumn}, c)));
  split.addEventListener('change', () => onFilter({splitColumn: split.value || null, offset: 0}));
  const threshold = el('input', {type: 'number', name: 'threshold', min: '0', step: 'any', placeholder: 'default',
    value: filter.threshold === null ? '' : String(filter.threshold), 'aria-label': 'distance threshold', class: 'threshold-input'});
  const apply = () => {
    const text = threshold.value.trim();
    const value = text === '' ? null : Number(text);
    if (value !== null && !(Number.isFinite(value) && value >= 0)) { threshold.setCustomValidity('a distance ≥ 0'); threshold.reportValidity(); return; }
    threshold.setCustomValidity('');
    onFilter({threshold: value, offset: 0});
  };
  threshold.addEventListener('change', apply);
  return el('div', {class: 'toolbar'},
    el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'Split column'), split),
    el('label', {class: 'field inline'}, el('span', {class: 'field-label'}, 'Threshold'), threshold));
}

/** The summary line and one row per group (leaks marked), thumbnails clickable. */
export function duplicateGroups({answer, thumbUrl, onSelect, selected, page, onPage}) {
  const source = answer.threshold_source === 'default' ? 'default: 0.13 × median nearest-neighbour distance' : 'given';
  const summary = el('p', {class: 'dup-summary'},
    `${fmt(answer.n_pairs)} pairs in ${fmt(answer.n_groups)} groups (${fmt(answer.n_points)} points) within `,
    el('strong', null, fmt(answer.threshold, 4)), ` ${answer.metric} (${source})`,
    answer.split_column ? el('span', {class: answer.leaks ? 'dup-leaks' : 'muted'},
      ` · ${fmt(answer.leaks)} across splits of “${answer.split_column}”`) : null);
  if (!answer.groups.length) {
    return el('div', null, summary, el('p', {class: 'muted'}, answer.n_groups ? 'No more groups.' : 'No near-duplicates at this threshold.'));
  }
  const rows = answer.groups.map((group) => {
    const members = group.members.map((m) => {
      const text = metadataText(m.metadata, {index: m.index});
      const button = el('button', {type: 'button', class: 'dup-member' + (m.index === selected ? ' selected' : ''),
        dataset: {index: String(m.index)}, title: `row ${m.index}: ${text}`},
      thumbnail({src: thumbUrl(m.index), text: text || `#${m.index}`, size: 48}),
      el('span', {class: 'muted small'}, `#${m.index}`),
      answer.split_column && m.metadata ? el('span', {class: 'small'}, m.metadata[answer.split_column]) : null);
      button.addEventListener('click', () => onSelect(m.index));
      return button;
    });
    const more = group.size > group.members.length ? el('span', {class: 'muted small'}, `+${fmt(group.size - group.members.length)} more`) : null;
    return el('div', {class: 'dup-group' + (group.crosses_splits ? ' leak' : '')},
      el('div', {class: 'dup-head small'},
        `${fmt(group.size)} points · max distance ${fmt(group.max_distance, 4)}`,
        group.crosses_splits ? el('span', {class: 'dup-leak-tag'}, `leak: ${group.splits.join(' / ')}`) : null),
      el('div', {class: 'dup-members'}, members, more));
  });
  return el('div', null, summary, el('div', {class: 'dup-list'}, rows),
    pager({page, count: answer.groups.length, total: answer.n_groups, onPage, what: 'groups'}));
}
