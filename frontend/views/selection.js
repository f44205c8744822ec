// The chosen points under the map (issue 27.3): what they are and where they came from,
// Isolate / Show all / Clear, where else a selection can come from (search matches, a
// label, a confusion cell, a tag), "tag all" (views/lasso.js's bar), and a gallery of the
// points: thumbnail, label, kNN vote, tag. Pure DOM builders; panels/map_selection.js
// decides what goes in.

import {el, fmt} from './dom.js';
import {labelChip, thumbnail} from './point.js';
import {tagChip} from './tags.js';

/** Buttons that make a selection: sources [{name, text, title, disabled, onClick}]. */
export function selectionSources(sources) {
  return el('div', {class: 'selection-sources small'},
    el('span', {class: 'muted'}, 'Select:'),
    sources.map((s) => el('button', {type: 'button', class: 'button small subtle', name: `select_${s.name}`,
      title: s.title, disabled: s.disabled, onclick: s.onClick}, s.text)));
}

/**
 * The head of a selection: "143 points · drawn with the lasso", and its actions.
 * isolated: whether the view is restricted to them; tooLong: rows= would be too long to send.
 */
export function selectionHead({count, title, isolated, tooLong, onIsolate, onShowAll, onClear}) {
  const isolate = isolated
    ? el('button', {type: 'button', class: 'button small primary', name: 'show_all',
      title: 'show every point again: the map, statistics and neighbours of the whole embedding', onclick: onShowAll}, 'Show all')
    : el('button', {type: 'button', class: 'button small primary', name: 'isolate', disabled: count < 2 || tooLong,
      title: tooLong ? 'too many scattered rows to send (about 8,000 at most); draw a smaller lasso'
        : count < 2 ? 'isolating needs at least 2 points'
          : 'show only these points: the map, the statistics (computed on them alone) and their neighbours among them',
      onclick: onIsolate}, 'Isolate');
  return el('div', {class: 'selection-head'},
    el('strong', {class: 'selection-count'}, `${fmt(count)} point${count === 1 ? '' : 's'} chosen`),
    el('span', {class: 'muted'}, ` · ${title}`),
    isolated ? el('span', {class: 'isolated-badge', title: 'the map, statistics, hard examples and neighbours show only these points'}, 'isolated') : null,
    el('span', {class: 'spacer'}),
    isolate,
    el('button', {type: 'button', class: 'chip-close', name: 'selection_clear', 'aria-label': 'forget the chosen points',
      title: 'forget the chosen points', onclick: onClear}, '×'));
}

/**
 * The gallery: items [{index, label, vote, colourOf, thumbSrc, text, tag}] (vote null: not
 * known; shown only when it differs from the label); note: what is listed ("the 48 hardest").
 */
export function gallery({items, note, labelled, onSelect}) {
  return el('div', {class: 'selection-gallery-wrap'},
    note ? el('div', {class: 'muted small'}, note) : null,
    el('ol', {class: 'selection-gallery', 'aria-label': 'the chosen points'}, items.map((item) => {
      const disagree = labelled && item.vote !== null && item.vote !== undefined && item.vote !== item.label;
      const tile = el('li', {class: 'gallery-tile' + (disagree ? ' disagrees' : ''), tabindex: 0, role: 'button',
        dataset: {index: String(item.index)}, title: `row ${item.index}${item.text ? ': ' + item.text : ''} — click to see its neighbours`},
      item.thumbSrc || item.text ? thumbnail({src: item.thumbSrc, text: item.text, size: 48}) : null,
      el('span', {class: 'tile-sub'},
        labelled ? labelChip(item.label, item.colourOf(item.label)) : null,
        disagree ? el('span', {class: 'vote', title: 'its neighbours’ vote'}, '→ ', labelChip(item.vote, item.colourOf(item.vote))) : null),
      el('span', {class: 'tile-meta'}, el('span', {class: 'index'}, `#${item.index}`), item.tag ? tagChip(item.tag, {short: true}) : null));
      tile.addEventListener('click', () => onSelect(item.index));
      tile.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); onSelect(item.index); }
      });
      return tile;
    })));
}
