// The guide line under the top bar (issue 27.1): the next step of the label-error workflow
// in one sentence with its action — rank by history when there are steps, then review the
// ranking one point at a time, then export the corrected metadata.

import {el} from './dom.js';

/** text, then a link-styled button `action` (onAction), named `name` for tests; note: after it. */
export function guideLine({text, action = null, onAction = null, name = null, note = null}) {
  return el('div', {class: 'guide', role: 'note'},
    el('span', {class: 'guide-text'}, text),
    action ? el('button', {type: 'button', class: 'guide-action', name, onclick: onAction}, action) : null,
    note ? el('span', {class: 'muted guide-note'}, note) : null);
}
