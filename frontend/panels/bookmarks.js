// The Bookmarks card (issue 27.4): named views of the tab, saved on the server beside the
// tags (/bookmarks), listed per embedding, opened in place and shared as links. A view is
// the tab's URL state (state.js: the iframe's hash), so opening one is loading that state,
// and its link is TensorBoard's URL with the state as `ea=` (what a reload restores).

import * as api from '../api.js';
import {bookmarksView} from '../views/bookmarks.js';
import {replace} from '../views/dom.js';
import {loadInto} from '../views/feedback.js';
import {Panel} from './panel.js';

/** The tab's current view, as state.js keeps it in the iframe's URL. */
function currentState() {
  return window.location.hash.replace(/^#/, '');
}

/** TensorBoard's URL that opens this tab with `state` (the iframe's own when not embedded). */
export function shareLink(state) {
  try {
    if (window.parent !== window) {
      const top = window.parent.location;
      return `${top.origin}${top.pathname}${top.search}#embedanalysis&ea=${encodeURIComponent(state)}`;
    }
  } catch (_) { /* another origin: the iframe's URL still opens the view */ }
  return `${window.location.origin}${window.location.pathname}${window.location.search}#${state}`;
}

export default class BookmarksPanel extends Panel {
  constructor(store) {
    super(store, {title: 'Bookmarks', cls: 'card-bookmarks'});
    this.answer = null;
    this.status = null;
    store.on('bookmark', () => this.ask()); // the map's "Bookmark…" button
  }

  /** Bring the card into view with its name field focused. */
  ask() {
    this.node.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    this.body.querySelector('input[name=bookmark_name]')?.focus({preventScroll: true});
  }

  async load() {
    const isCurrent = this.begin();
    const q = this.store.query();
    this.status = null;
    await loadInto(this.body, {
      isCurrent, label: 'Bookmarks', errorTitle: 'Could not list the bookmarks', retry: () => this.load(),
      load: (onProgress) => api.bookmarks(q, {onProgress}),
      show: (answer) => this.render(answer),
    });
  }

  render(answer) {
    this.answer = answer;
    replace(this.body, bookmarksView({answer, linkOf: shareLink, status: this.status,
      onSave: (name) => this.write({name, state: currentState()}, `Saved “${name}”.`),
      onOpen: (state) => this.open(state),
      onCopy: (link, field) => this.copy(link, field),
      onDelete: (name) => this.write({name, delete: true}, `Deleted “${name}”.`)}));
  }

  async write(fields, done) {
    const q = this.store.query();
    try {
      const answer = await api.writeBookmark(q, fields);
      if (q.run !== this.store.sel.run || q.embedding !== this.store.sel.embedding) return;
      this.status = done;
      this.render(answer);
    } catch (error) {
      this.status = `Not saved: ${error.message}`;
      this.render(this.answer);
    }
  }

  /** Open a bookmark: its state becomes the iframe's URL, and the tab starts from it. */
  open(state) {
    history.replaceState(history.state, '', `${window.location.pathname}${window.location.search}#${state}`);
    window.location.reload();
  }

  async copy(link, field) {
    field.focus();
    field.select();
    try {
      await navigator.clipboard.writeText(link);
      this.status = 'Link copied.';
    } catch (_) {
      this.status = 'Link selected: press Ctrl+C (Cmd+C) to copy it.'; // no clipboard over plain http
    }
    this.render(this.answer);
  }
}
