// The neighbour panel: a query box (word / metadata value, or a regex search), the list of
// nearest neighbours of the selected point, and the list of search matches.

import {el, fmt, metadataText} from './dom.js';
import {distanceBar, labelChip, thumbnail} from './point.js';

/**
 * columns: metadata columns; onNeighbors(text, column) looks a value up; onSearch(text, column)
 * highlights regex matches; onClear() drops the search.
 */
export function queryForm({columns, text = '', column = '', onNeighbors, onSearch, onClear}) {
  const input = el('input', {type: 'search', name: 'query', value: text, placeholder: 'word, label or metadata value…',
    'aria-label': 'word or metadata value', autocomplete: 'off', spellcheck: 'false'});
  const columnSelect = el('select', {name: 'column', 'aria-label': 'column to look in', title: 'column to look in'},
    el('option', {value: ''}, 'any column'),
    columns.map((c) => el('option', {value: c, selected: c === column}, c)));
  const form = el('form', {class: 'query-form', role: 'search'},
    input,
    columns.length > 1 ? columnSelect : null,
    el('button', {type: 'submit', class: 'button primary', title: 'nearest neighbours of the first row with exactly this value'}, 'Neighbours'),
    el('button', {type: 'button', class: 'button', name: 'search', title: 'highlight every row matching this text or regex (case-insensitive)',
      onclick: () => input.value.trim() && onSearch(input.value.trim(), columnSelect.value)}, 'Highlight all'));
  // The search field's own clear (×) also drops the highlight.
  input.addEventListener('search', () => { if (!input.value && onClear) onClear(); });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim()) onNeighbors(input.value.trim(), columnSelect.value);
  });
  return form;
}

/** A clickable row for one point: thumbnail, label chip, metadata, extra cells. */
export function pointRow({index, metadata, labelColumn, colourOf, thumbSrc, onSelect, extra = [], rank = null, selected = false}) {
  const label = metadata && labelColumn ? metadata[labelColumn] : undefined;
  const text = metadataText(metadata, {skip: labelColumn ? [labelColumn] : [], index});
  const row = el('li', {class: 'point-row' + (selected ? ' selected' : ''), tabindex: 0, role: 'button',
    dataset: {index: String(index)}, title: `row ${index}: click to see its neighbours`},
  rank !== null ? el('span', {class: 'rank'}, String(rank)) : null,
  thumbSrc ? thumbnail({src: thumbSrc, text, size: 32}) : null,
  el('span', {class: 'point-main'},
    el('span', {class: 'point-text'}, text || `row ${index}`),
    el('span', {class: 'point-sub'}, labelColumn ? labelChip(label, colourOf(label)) : null, el('span', {class: 'index'}, `#${index}`))),
  extra);
  row.addEventListener('click', () => onSelect(index));
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); onSelect(index); }
  });
  return row;
}

/** The query point and its neighbours. result: the /neighbors answer. */
export function neighborList({result, labelColumn, colourOf, thumbUrl, onSelect, exportLinks}) {
  const query = result.query;
  const maxDistance = Math.max(0, ...result.neighbors.map((n) => n.distance).filter(Number.isFinite));
  const qLabel = labelColumn ? query.metadata?.[labelColumn] : undefined;
  const sameLabel = labelColumn ? result.neighbors.filter((n) => n.metadata?.[labelColumn] === qLabel).length : null;
  const head = el('div', {class: 'query-head'},
    thumbUrl(query.index) ? thumbnail({src: thumbUrl(query.index), text: '', size: 56}) : null,
    el('div', {class: 'query-info'},
      el('div', {class: 'query-title'}, metadataText(query.metadata, {skip: labelColumn ? [labelColumn] : [], index: query.index}) || `row ${query.index}`),
      el('div', {class: 'point-sub'}, labelColumn ? labelChip(qLabel, colourOf(qLabel)) : null, el('span', {class: 'index'}, `#${query.index}`)),
      el('div', {class: 'muted small'},
        `${result.neighbors.length} nearest by ${result.metric}${result.exact === false ? ' (approximate)' : ''}`,
        sameLabel !== null ? ` · ${sameLabel} of ${result.neighbors.length} share its label` : '',
        query.matches > 1 ? ` · ${fmt(query.matches)} rows matched, showing the first` : '')),
    exportLinks);
  const list = el('ol', {class: 'point-list neighbor-list'},
    result.neighbors.map((n, i) => pointRow({
      index: n.index, metadata: n.metadata, labelColumn, colourOf, thumbSrc: thumbUrl(n.index), onSelect, rank: i + 1,
      extra: [distanceBar(n.distance, maxDistance)],
    })));
  return el('div', {class: 'neighbors'}, head, list);
}

const LIST_MAX = 200;

/** The /search answer as a list; `query` is the searched text. */
export function searchList({result, query, labelColumn, colourOf, thumbUrl, onSelect, onClear}) {
  const listed = result.matches.slice(0, LIST_MAX);
  const shown = listed.length;
  return el('div', {class: 'search-results'},
    el('div', {class: 'list-head'},
      el('strong', null, `${fmt(result.total)} match${result.total === 1 ? '' : 'es'}`),
      ` for “${query}”`,
      shown < result.total ? el('span', {class: 'muted'}, ` · first ${fmt(shown)} listed, all highlighted on the map`) : el('span', {class: 'muted'}, ' · highlighted on the map'),
      onClear ? el('button', {type: 'button', class: 'button small subtle', name: 'clear_search', title: 'stop highlighting', onclick: onClear}, 'Clear') : null),
    shown ? el('ol', {class: 'point-list search-list'},
      listed.map((m) => pointRow({index: m.index, metadata: m.metadata, labelColumn, colourOf, thumbSrc: thumbUrl(m.index), onSelect})))
      : el('p', {class: 'muted'}, 'No row matches. The search is a case-insensitive regular expression over the metadata.'));
}
