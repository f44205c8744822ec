// The neighbour panel: the search box (matches listed as you type), the list of search
// matches, a word not found with its close spellings, and the nearest neighbours of the
// selected point.

import {el, fmt, metadataText} from './dom.js';
import {distanceBar, labelChip, thumbnail} from './point.js';

/**
 * The one search box. Typing calls onType(text, column, regex) (the panel lists the matches
 * as you type); Enter or "Go" calls onSubmit(text, column, regex). regex: the text is a
 * case-insensitive regular expression; off, it is searched as typed ("^3$", "c++").
 */
export function queryForm({columns, text = '', column = '', regex = false, onType, onSubmit}) {
  const input = el('input', {type: 'search', name: 'query', value: text, placeholder: 'search a word, label or metadata value…',
    'aria-label': 'search the metadata', autocomplete: 'off', spellcheck: 'false',
    title: 'lists the matches as you type; Enter: the neighbours of the match (a label value selects the whole label)'});
  const columnSelect = el('select', {name: 'column', 'aria-label': 'column to look in', title: 'column to look in'},
    el('option', {value: ''}, 'any column'),
    columns.map((c) => el('option', {value: c, selected: c === column}, c)));
  const regexBox = el('input', {type: 'checkbox', name: 'regex', checked: regex});
  const state = () => [input.value.trim(), columnSelect.value, regexBox.checked];
  for (const [node, event] of [[input, 'input'], [columnSelect, 'change'], [regexBox, 'change']]) {
    node.addEventListener(event, () => onType(...state()));
  }
  const form = el('form', {class: 'query-form', role: 'search'},
    input,
    columns.length > 1 ? columnSelect : null,
    el('label', {class: 'check regex-toggle', title: 'treat the text as a regular expression (RE2 syntax, case-insensitive)'}, regexBox, 'regex'),
    el('button', {type: 'submit', class: 'button primary', title: 'the neighbours of the match; a label value selects the whole label'}, 'Go'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim()) onSubmit(...state());
  });
  return form;
}

const QUOTED_MAX = 60;

/** Typed text as shown in a sentence: quoted, and cut after 60 characters (a 1,000-character query must not fill the card). */
export function quoted(text) {
  const chars = Array.from(text);
  return chars.length > QUOTED_MAX ? `“${chars.slice(0, QUOTED_MAX).join('')}…” (${fmt(chars.length)} characters)` : `“${text}”`;
}

/** A typed word no row has: say so, and offer the close spellings as links (onPick(word)). */
export function notFound({text, column, suggestions, onPick}) {
  return el('div', {class: 'not-found', role: 'status'},
    el('div', {class: 'not-found-title', title: text}, `No row has ${quoted(text)}${column ? ` in ${column}` : ''}.`),
    suggestions.length
      ? el('p', null, 'Did you mean ', suggestions.map((word, i) => [i ? ', ' : null,
        el('button', {type: 'button', class: 'suggestion', onclick: () => onPick(word)}, word)]), '?')
      : el('p', {class: 'muted'}, 'Nothing is spelled like it. Type a part of the word to list the values that contain it.'));
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
    result.neighbors.map((n, i) => {
      const row = pointRow({
        index: n.index, metadata: n.metadata, labelColumn, colourOf, thumbSrc: thumbUrl(n.index), onSelect, rank: i + 1,
        extra: [n.still ? stillBadge(result.movement) : null, distanceBar(n.distance, maxDistance)],
      });
      if (n.still) row.classList.add('still');
      return row;
    }));
  return el('div', {class: 'neighbors'}, head, query.still ? stillQuery(result.movement) : null, list, stillLegend(result));
}

// Rows whose vector barely moved between the first and last logged step (issue 27.7; the
// server's `movement`, tb_embedanalysis/analysis/movement.py): an untrained word sits at its
// random start, so its place among the others, and theirs around it, means nothing.
function stillWords(movement) {
  return `its vector barely moved between step ${movement.first_step} and step ${movement.last_step} `
    + `(at most ${Math.round(100 * movement.fraction)} % of what the words that moved most moved): `
    + 'it was probably never trained, so its place here carries no signal';
}

function stillBadge(movement) {
  return el('span', {class: 'still-badge', title: stillWords(movement)}, 'no signal');
}

function stillQuery(movement) {
  return el('div', {class: 'still-note', role: 'note'},
    el('strong', null, 'No signal: '), `${stillWords(movement)}. Its neighbours are as good as random.`);
}

/** The legend under the list when some neighbours are marked. */
function stillLegend(result) {
  const count = result.neighbors.filter((n) => n.still).length;
  if (!count || !result.movement) return null;
  return el('p', {class: 'still-legend muted small'}, el('span', {class: 'still-badge'}, 'no signal'),
    ` ${count} of these ${result.neighbors.length} barely moved between step ${result.movement.first_step} and step `
    + `${result.movement.last_step}: untrained, so being near them means nothing. Hover a badge for details.`);
}

const LIST_MAX = 200;

/**
 * The /search answer as a list; `query` is the searched text, `regex` whether it was a regex;
 * labelMatch: {label, count, colour} when the text is a label value (onLabel(label) selects it).
 */
export function searchList({result, query, regex = false, labelMatch = null, onLabel, labelColumn, colourOf, thumbUrl, onSelect, onClear}) {
  const listed = result.matches.slice(0, LIST_MAX);
  const shown = listed.length;
  const empty = regex && !result.as_text ? 'No row matches this regular expression (case-insensitive).'
    : 'No row contains this text (case-insensitive).' + (regex ? '' : ' Turn on “regex” to search with a pattern.');
  return el('div', {class: 'search-results'},
    labelMatch ? el('button', {type: 'button', class: 'label-match', onclick: () => onLabel(labelMatch.label),
      title: 'emphasise every point with this label on the map'},
    labelChip(labelMatch.label, labelMatch.colour), ` all ${fmt(labelMatch.count)} points with this label`,
    el('span', {class: 'muted small'}, ' · Enter')) : null,
    el('div', {class: 'list-head'},
      el('strong', null, `${fmt(result.total)} match${result.total === 1 ? '' : 'es'}`),
      el('span', {class: 'query-text', title: query}, ` for ${quoted(query)}`),
      // The server searched an invalid regex as the text typed: say so (issue 27.5).
      regex && result.as_text ? el('span', {class: 'regex-note', role: 'status'},
        ` · not a regular expression (${result.regex_error}), so searched as plain text`) : null,
      shown < result.total ? el('span', {class: 'muted'}, ` · first ${fmt(shown)} listed, all highlighted on the map`)
        : shown ? el('span', {class: 'muted'}, ' · highlighted on the map') : null,
      onClear ? el('button', {type: 'button', class: 'button small subtle', name: 'clear_search', title: 'stop highlighting', onclick: onClear}, 'Clear') : null),
    shown ? el('ol', {class: 'point-list search-list'},
      listed.map((m) => pointRow({index: m.index, metadata: m.metadata, labelColumn, colourOf, thumbSrc: thumbUrl(m.index), onSelect})))
      : el('p', {class: 'muted'}, empty));
}

/**
 * What Enter on a label value did (issue 27.5): "label 3: 73 points emphasised on the map",
 * and, when another column holds exactly the typed text, "or row Index = 3" (onAlternative
 * opens that row's neighbours); onClear stops emphasising the label.
 */
export function labelNote({label, count, colour, alternative = null, onAlternative, onClear}) {
  return el('div', {class: 'list-head label-note', role: 'status'},
    el('span', null, 'label'), labelChip(label, colour),
    el('span', null, `: ${fmt(count ?? 0)} point${count === 1 ? '' : 's'} emphasised on the map`),
    alternative ? [el('span', {class: 'muted'}, ' · or '),
      el('button', {type: 'button', class: 'suggestion', name: 'label_alternative', onclick: onAlternative,
        title: `the neighbours of row #${alternative.index}`}, `row ${alternative.column} = ${alternative.value}`)] : null,
    el('button', {type: 'button', class: 'button small subtle', name: 'clear_focus', title: 'stop emphasising the label', onclick: onClear}, 'Clear'));
}
