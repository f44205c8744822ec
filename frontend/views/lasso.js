// The lasso's controls on the map (issue 18.3): the toggle in the map's toolbar and the bar
// under the map that tags the points inside a lasso.

import {el, fmt} from './dom.js';

const TAG_NAMES = ['label error', 'ambiguous', 'ok'];
const MAX_LABEL = 200;

/** The "Lasso" toggle button; onToggle(on). Returns {node, set(on)}. */
export function lassoToggle(onToggle) {
  const button = el('button', {type: 'button', class: 'seg lasso-toggle', name: 'lasso', 'aria-pressed': 'false',
    title: 'draw around points to select them (or hold shift and drag); Esc or a click on empty space clears'}, 'Lasso');
  const set = (on) => {
    button.classList.toggle('active', on);
    button.setAttribute('aria-pressed', String(on));
  };
  button.addEventListener('click', () => onToggle(button.getAttribute('aria-pressed') !== 'true'));
  return {node: el('span', {class: 'segmented'}, button), set};
}

/**
 * The bar under the map for a lasso of `count` points, `tagged` of them tagged already.
 * onTag(fields) → promise, fields {tag} ('label error' | 'ambiguous' | 'ok'), {tag: null,
 * corrected_label: null} (clear) or {corrected_label: text}; onClose(). status(text, error)
 * and setTagged(k) on the returned object report progress and the count tagged.
 */
export function lassoBar({count, tagged, onTag, onClose}) {
  const status = el('span', {class: 'tag-status small', role: 'status'});
  const already = el('span', {class: 'muted small lasso-tagged'});
  const setTagged = (k) => { already.textContent = k ? `(${fmt(k)} of them tagged)` : ''; };
  setTagged(tagged);
  const controls = [];
  const run = async (fields) => {
    for (const c of controls) c.disabled = true;
    status.classList.remove('error-text');
    status.textContent = 'saving…';
    try {
      status.textContent = await onTag(fields);
    } catch (error) {
      status.textContent = error.message;
      status.classList.add('error-text');
    }
    for (const c of controls) c.disabled = false;
  };
  const buttons = TAG_NAMES.map((tag) => el('button', {type: 'button', class: `tag-button tag-${tag.replace(/\s+/g, '-')}`,
    name: `lasso_${tag.replace(/\s+/g, '-')}`, title: `tag the ${fmt(count)} points as “${tag}”`,
    onclick: () => run({tag})}, tag));
  buttons.push(el('button', {type: 'button', class: 'tag-button', name: 'lasso_clear',
    title: 'remove the tags and corrected labels of these points', onclick: () => run({tag: null, corrected_label: null})}, 'clear'));
  const input = el('input', {type: 'text', name: 'lasso_corrected_label', maxlength: MAX_LABEL, placeholder: 'corrected label',
    'aria-label': 'corrected label for the selected points', autocomplete: 'off', spellcheck: 'false'});
  const save = el('button', {type: 'submit', class: 'button small'}, 'Save');
  const form = el('form', {class: 'tag-correct'}, input, save);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text) run({corrected_label: text});
  });
  controls.push(...buttons, input, save);
  const close = el('button', {type: 'button', class: 'chip-close', name: 'lasso_close', 'aria-label': 'clear the lasso (Esc)',
    title: 'clear the lasso (Esc)', onclick: onClose}, '×');
  return {
    node: el('div', {class: 'lasso-bar', role: 'group', 'aria-label': 'points selected with the lasso', dataset: {count: String(count)}},
      el('span', {class: 'lasso-count'}, `${fmt(count)} point${count === 1 ? '' : 's'} selected`),
      already,
      el('span', {class: 'muted'}, '— tag as'), el('span', {class: 'tag-buttons'}, buttons),
      el('span', {class: 'muted'}, 'or give a corrected label'), form, status, close),
    status(text, error = false) {
      status.textContent = text;
      status.classList.toggle('error-text', error);
    },
    setTagged,
  };
}

/** The bar's words when a lasso holds no point. */
export function emptyLassoBar(onClose) {
  return el('div', {class: 'lasso-bar empty', dataset: {count: '0'}},
    el('span', {class: 'lasso-count'}, 'No points inside the lasso'),
    el('button', {type: 'button', class: 'chip-close', name: 'lasso_close', 'aria-label': 'clear the lasso (Esc)', onclick: onClose}, '×'));
}
