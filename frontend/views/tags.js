// Tag chips and the tagging controls (issue 18.3): three toggle buttons ("label error",
// "ambiguous", "ok") and a field for a corrected label, for one point or a set of points.

import {el} from './dom.js';

const TAG_NAMES = ['label error', 'ambiguous', 'ok'];
const SHORT = {'label error': 'error', ambiguous: 'ambiguous', ok: 'ok'};
const MAX_LABEL = 200;

function slug(tag) {
  return tag.replace(/\s+/g, '-');
}

/** The chip of a tagged point ({tag, corrected_label}), or null when it has neither. */
export function tagChip(entry, {short = false} = {}) {
  if (!entry || (!entry.tag && !entry.corrected_label)) return null;
  const parts = [];
  if (entry.tag) parts.push(short ? SHORT[entry.tag] : entry.tag);
  if (entry.corrected_label) parts.push(`→ ${entry.corrected_label}`);
  return el('span', {class: `tag-chip tag-${slug(entry.tag || 'corrected')}`, dataset: {tag: entry.tag || ''},
    title: `tagged ${entry.tag || ''}${entry.corrected_label ? `, corrected label “${entry.corrected_label}”` : ''}`},
  parts.join(' '));
}

/**
 * Buttons to tag one point and a corrected-label field. entry: its current tag or null;
 * onSet(fields) → promise ({tag} or {corrected_label}; null clears); a failure is shown.
 * compact: the small version on a gallery card (the label field opens on demand).
 */
export function tagControls({entry, onSet, compact = false, label = 'tag this point'}) {
  const status = el('span', {class: 'tag-status small', role: 'status'});
  const run = async (fields, button) => {
    status.textContent = '';
    if (button) button.disabled = true;
    try {
      await onSet(fields);
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
      status.classList.add('error-text');
      if (button) button.disabled = false;
    }
  };
  const buttons = TAG_NAMES.map((tag) => {
    const on = entry?.tag === tag;
    const button = el('button', {type: 'button', class: `tag-button tag-${slug(tag)}${on ? ' on' : ''}`,
      'aria-pressed': on ? 'true' : 'false', name: `tag_${slug(tag)}`,
      title: on ? `remove the tag “${tag}”` : `tag as “${tag}”`}, compact ? SHORT[tag] : tag);
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      run({tag: on ? null : tag}, button);
    });
    return button;
  });
  const input = el('input', {type: 'text', name: 'corrected_label', maxlength: MAX_LABEL, value: entry?.corrected_label || '',
    placeholder: 'corrected label', 'aria-label': 'corrected label', autocomplete: 'off', spellcheck: 'false'});
  const form = el('form', {class: 'tag-correct'}, input,
    el('button', {type: 'submit', class: 'button small', title: 'save the corrected label (empty: remove it)'}, 'Save'));
  form.addEventListener('click', (event) => event.stopPropagation());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    event.stopPropagation();
    const text = input.value.trim();
    // A corrected label says the given one is wrong: tag it so, unless it is tagged already.
    const fields = {corrected_label: text || null};
    if (text && !entry?.tag) fields.tag = 'label error';
    run(fields, null);
  });
  if (compact) {
    form.hidden = true;
    const open = el('button', {type: 'button', class: 'tag-button tag-fix', title: 'give a corrected label', name: 'tag_fix'}, 'fix…');
    open.addEventListener('click', (event) => {
      event.stopPropagation();
      form.hidden = !form.hidden;
      if (!form.hidden) input.focus();
    });
    buttons.push(open);
  }
  return el('div', {class: `tag-controls${compact ? ' compact' : ''}`, role: 'group', 'aria-label': label},
    el('div', {class: 'tag-buttons'}, buttons), form, status);
}

/** "Tag all N in this cell as …": onTag(tag) → promise. */
export function tagAllControl({count, onTag, max}) {
  const status = el('span', {class: 'tag-status small', role: 'status'});
  const select = el('select', {name: 'tag_all', 'aria-label': 'tag every point of this cell'},
    el('option', {value: ''}, `Tag all ${count.toLocaleString('en-US')} in this cell…`),
    TAG_NAMES.map((tag) => el('option', {value: tag}, `as “${tag}”`)),
    el('option', {value: 'clear'}, 'remove their tags'));
  select.disabled = count === 0 || count > max;
  if (count > max) select.title = `at most ${max.toLocaleString('en-US')} points at once`;
  select.addEventListener('change', async () => {
    const value = select.value;
    if (!value) return;
    select.disabled = true;
    status.textContent = 'saving…';
    try {
      await onTag(value === 'clear' ? null : value);
      status.textContent = '';
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
      status.classList.add('error-text');
      select.disabled = false;
    }
    select.value = '';
  });
  return el('span', {class: 'tag-all'}, select, status);
}
