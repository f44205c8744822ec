// DOM of the Bookmarks card (issue 27.4): a name field and "Save this view", then each
// bookmark with Open, its shareable link (selected on focus, copied on click where the
// browser lets us) and Delete. Built with el(), no innerHTML.

import {el, fmt} from './dom.js';

/**
 * answer: /bookmarks; linkOf(state) → the shareable URL; onSave(name), onOpen(state),
 * onCopy(link, input), onDelete(name); status: words after the last action (or null).
 */
export function bookmarksView({answer, linkOf, onSave, onOpen, onCopy, onDelete, status = null}) {
  const name = el('input', {type: 'text', name: 'bookmark_name', maxlength: 80, size: 28,
    placeholder: 'name this view, e.g. 3s the model reads as 5', 'aria-label': 'bookmark name'});
  const save = () => { if (name.value.trim()) onSave(name.value.trim()); else name.focus(); };
  name.addEventListener('keydown', (event) => { if (event.key === 'Enter') save(); });
  const form = el('div', {class: 'toolbar'}, name,
    el('button', {type: 'button', class: 'button small', name: 'save_bookmark', onclick: save}, 'Save this view'),
    el('span', {class: 'muted small'}, 'the map, its options, the selected point, the search and the focused label'));
  const list = answer.bookmarks.map((b) => {
    const link = linkOf(b.state);
    const field = el('input', {type: 'text', readonly: true, value: link, class: 'bookmark-link', 'aria-label': `link to ${b.name}`});
    field.addEventListener('focus', () => field.select());
    return el('li', {class: 'bookmark', dataset: {name: b.name}},
      el('button', {type: 'button', class: 'button small', name: 'open_bookmark', title: `open “${b.name}”`, onclick: () => onOpen(b.state)}, 'Open'),
      el('span', {class: 'bookmark-name'}, b.name),
      el('span', {class: 'muted small'}, b.updated.replace('T', ' ').replace(/\+00:00$/, ' UTC')),
      field,
      el('button', {type: 'button', class: 'button small subtle', name: 'copy_bookmark', onclick: () => onCopy(link, field)}, 'Copy link'),
      el('button', {type: 'button', class: 'button small subtle', name: 'delete_bookmark', title: `delete “${b.name}”`, onclick: () => onDelete(b.name)}, 'Delete'));
  });
  return [
    form,
    status ? el('p', {class: 'small bookmark-status', role: 'status'}, status) : null,
    list.length ? el('ul', {class: 'bookmarks'}, list)
      : el('p', {class: 'muted small'}, 'No bookmarks for this embedding yet.'),
    answer.persistent ? null : el('p', {class: 'muted small'}, 'Kept until TensorBoard stops (no cache directory).'),
    list.length ? el('p', {class: 'muted small'}, `${fmt(list.length)} of at most ${fmt(answer.max)}; saved beside the tags, for everyone using this TensorBoard`) : null,
  ];
}
