// The review queue's card (issue 27.2): the current point of the ranking, large, with the
// evidence (given label, the neighbours' verdict, the score), the tag buttons and the
// corrected-label field, each with its key; where it stands ("37 of 162 reviewed"); and,
// at the end, the exports of the corrected metadata.

import {el, fmt, metadataText} from './dom.js';
import {reason, verdict} from './hard.js';
import {thumbnail} from './point.js';
import {tagChip} from './tags.js';
import {TAG_NAMES} from '../tags.js';

/** The keys of the queue, for the legend and the buttons' titles (panels/review.js binds them). */
export const KEYS = {next: '→ / j', previous: '← / k', 'label error': '1', ambiguous: '2', ok: '3', vote: 'v', correct: 'c'};
const SLUG = (tag) => tag.replace(/\s+/g, '-');
const MAX_LABEL = 200;

/**
 * The head line: where the queue stands. counts: {reviewed, size, corrected, byTag};
 * method: the score's name; onSize(n) changes the queue's length, onSkipOk(bool) the skip.
 */
export function reviewStatus({counts, scoreName, skipOk, size, total, onSize, onSkipOk, onClose}) {
  const sizeInput = el('input', {type: 'number', name: 'review_size', min: 1, max: total, step: 1, value: String(size),
    class: 'k-input', 'aria-label': 'how many of the ranked points to review'});
  sizeInput.addEventListener('change', () => {
    const n = Math.round(Number(sizeInput.value));
    if (Number.isFinite(n) && n >= 1) onSize(Math.min(n, total));
    else sizeInput.value = String(size);
  });
  const skip = el('input', {type: 'checkbox', name: 'review_skip_ok', checked: skipOk});
  skip.addEventListener('change', () => onSkipOk(skip.checked));
  const share = counts.size ? counts.reviewed / counts.size : 0;
  return el('div', {class: 'review-status'},
    el('div', {class: 'review-count', role: 'status', 'aria-live': 'polite'},
      el('strong', null, `${fmt(counts.reviewed)} of ${fmt(counts.size)} reviewed`),
      el('span', {class: 'muted'}, ` · ${TAG_NAMES.map((t) => `${t} ${fmt(counts.byTag[t] || 0)}`).join(' · ')}`
        + ` · ${fmt(counts.corrected)} corrected`)),
    el('div', {class: 'review-bar', title: `${(100 * share).toFixed(0)} % reviewed`},
      el('span', {class: 'review-fill', style: {width: `${(100 * share).toFixed(1)}%`}})),
    el('div', {class: 'toolbar review-options'},
      el('label', {class: 'field inline', title: `the first points of the ranking by ${scoreName} (of ${fmt(total)})`},
        el('span', {class: 'field-label'}, 'First'), sizeInput, el('span', {class: 'muted small'}, ` ranked by ${scoreName}`)),
      el('label', {class: 'check', title: 'next and previous pass over the points tagged “ok”'}, skip, 'skip points tagged ok'),
      el('span', {class: 'spacer'}),
      el('button', {type: 'button', class: 'button small subtle', name: 'review_close', onclick: onClose}, 'Close queue')));
}

/**
 * The current point. item: the /hard_examples example; position, size: where it is;
 * tag: its {tag, corrected_label} or null; on.{tag(name), correct(text), vote(), move(step)}.
 */
export function reviewItem({item, position, size, tag, labelColumn, colourOf, thumbUrl, on, status = ''}) {
  const text = metadataText(item.metadata, {skip: labelColumn ? [labelColumn] : [], index: item.index});
  const votes = reason(item);
  const buttons = TAG_NAMES.map((name) => {
    const active = tag?.tag === name;
    return el('button', {type: 'button', class: `tag-button tag-${SLUG(name)}${active ? ' on' : ''}`, name: `review_${SLUG(name)}`,
      'aria-pressed': active ? 'true' : 'false', title: `${active ? 'remove the tag' : 'tag as'} “${name}” (key ${KEYS[name]})`,
      onclick: () => on.tag(name)}, el('kbd', null, KEYS[name]), ` ${name}`);
  });
  const input = el('input', {type: 'text', name: 'review_label', maxlength: MAX_LABEL, value: tag?.corrected_label || '',
    placeholder: 'corrected label', 'aria-label': 'corrected label', autocomplete: 'off', spellcheck: 'false'});
  const form = el('form', {class: 'tag-correct review-correct'}, el('kbd', null, KEYS.correct), input,
    el('button', {type: 'submit', class: 'button small', title: 'save the corrected label and go to the next point (Enter)'}, 'Save'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    on.correct(input.value.trim());
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { event.preventDefault(); input.blur(); on.leaveField(); }
  });
  const canVote = item.predicted_label !== item.label;
  return el('div', {class: 'review-item', dataset: {index: String(item.index)}},
    el('div', {class: 'review-where muted small'}, `${fmt(position + 1)} of ${fmt(size)} · row #${item.index}`),
    el('div', {class: 'review-main'},
      thumbnail({src: thumbUrl(item.index), text: text || String(item.label), size: 96}),
      el('div', {class: 'review-facts'},
        verdict(item, colourOf),
        el('div', {class: 'example-reason'}, votes.text),
        typeof item.score === 'number' ? el('div', {class: 'muted small'}, `score ${fmt(item.score, 3)}`) : null,
        text ? el('div', {class: 'review-meta small', title: text}, text) : null,
        el('div', {class: 'review-tag'}, tagChip(tag) || el('span', {class: 'muted small'}, 'not tagged yet')))),
    el('div', {class: 'review-history'}), // the margin per step, filled in by the panel
    el('div', {class: 'tag-buttons review-buttons', role: 'group', 'aria-label': `tag row ${item.index}`}, buttons,
      canVote ? el('button', {type: 'button', class: 'tag-button', name: 'review_vote', onclick: () => on.vote(),
        title: `corrected label “${item.predicted_label}”, the neighbours’ vote (key ${KEYS.vote})`},
      el('kbd', null, KEYS.vote), ` relabel as ${item.predicted_label}`) : null),
    form,
    el('div', {class: 'review-nav'},
      el('button', {type: 'button', class: 'button small', name: 'review_previous', disabled: position === 0,
        onclick: () => on.move(-1), title: `previous (${KEYS.previous})`}, '‹ Previous'),
      el('span', {class: 'tag-status small', role: 'status'}, status),
      el('button', {type: 'button', class: 'button small primary', name: 'review_next', onclick: () => on.move(1),
        title: `next (${KEYS.next})`}, position + 1 >= size ? 'Finish ›' : 'Next ›')),
    el('p', {class: 'review-keys muted small'},
      `Keys: ${KEYS.next} next · ${KEYS.previous} previous · 1 2 3 tag · v take the vote · c type a label, Enter saves`));
}

/** The end of the queue: what was done, and the corrected metadata to download. */
export function reviewDone({counts, exports, onBack}) {
  return el('div', {class: 'review-done', role: 'status'},
    el('p', null, el('strong', null, `Done: ${fmt(counts.reviewed)} of ${fmt(counts.size)} reviewed`),
      `, ${fmt(counts.corrected)} with a corrected label.`),
    exportLinks(exports, {prominent: true}),
    el('p', {class: 'muted small'}, 'The metadata file is metadata.tsv with a column of corrected labels appended '
      + '(the given label where none was typed): write it back with write_embedding(..., metadata=…) and pick that column.'),
    el('button', {type: 'button', class: 'button small', name: 'review_back', onclick: onBack}, '‹ Back to the last point'));
}

/** exports: {metadata, tags} URLs. */
export function exportLinks(exports, {prominent = false} = {}) {
  return el('div', {class: `review-export${prominent ? ' prominent' : ''}`},
    'Export ',
    el('a', {href: exports.metadata, download: '', name: 'review_export_metadata', class: prominent ? 'button primary small' : 'export-link',
      title: 'metadata.tsv with a column of corrected labels appended'}, 'metadata with corrected labels'),
    ' · ',
    el('a', {href: exports.tags, download: '', name: 'review_export_tags', class: 'export-link',
      title: 'every tagged point: index, label, tag, corrected label, when'}, 'tags CSV'));
}
