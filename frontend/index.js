// Entry point of the Embedding Analysis tab: TensorBoard's plugin_entry.html imports this
// module in the tab's iframe and calls render(). It asks for every file of the tab at once,
// then hands over to the app (app.js), which owns document.body from then on.
//
// Why: without a build step the browser discovers the module graph one level at a time
// (a module's imports are known only once it has arrived), so the tab's ~65 files used to
// arrive in a waterfall of about ten round trips before its first request for data. A
// `<link rel="modulepreload">` per module (and a preload for the stylesheet that style.css
// imports) lets the browser fetch them all together; the imports then find them in its
// module map. This module imports nothing statically: a static import would be fetched, and
// waited for, before any of this runs.
//
// FILES is the transitive import closure of app.js and style.css, sorted;
// tests/test_frontend_preload.py computes that closure from the files and fails, naming what
// to add or remove, when the list differs (a new module would otherwise load late, not fail).

const FILES = [
  'activity.js', 'answers.js', 'api.js', 'app.js', 'chosen.js', 'colours.js', 'guide.js', 'labels.js', 'lasso.js',
  'map_colouring.js', 'map_options.js', 'marks.js', 'palette.js', 'panels/bookmarks.js', 'panels/clusters.js',
  'panels/compare.js', 'panels/confusion.js', 'panels/hard.js', 'panels/history.js', 'panels/map.js',
  'panels/map_keys.js', 'panels/map_lasso.js', 'panels/map_projector.js', 'panels/map_selection.js',
  'panels/neighbors.js', 'panels/panel.js', 'panels/quality.js', 'panels/review.js', 'scatter.js', 'scatter3d.js',
  'scatter_input.js', 'scatter_paint.js', 'scatter_pick.js', 'scatter_sprites.js', 'scatter_text.js', 'scores.js',
  'select.css', 'state.js', 'store.js', 'style.css', 'tags.js', 'theme.js', 'transport.js', 'views/activity.js',
  'views/bookmarks.js', 'views/cartography.js', 'views/clusters.js', 'views/compare.js', 'views/confusion.js',
  'views/dom.js', 'views/feedback.js', 'views/guide.js', 'views/hard.js', 'views/history.js', 'views/lasso.js',
  'views/map.js', 'views/map_options.js', 'views/neighbors.js', 'views/notices.js', 'views/point.js',
  'views/quality.js', 'views/review.js', 'views/selection.js', 'views/selector.js', 'views/tags.js',
];

const STYLESHEET = 'style.css';

function addToHead(tag, attrs) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  document.head.appendChild(node);
}

/** The stylesheet, then a preload link for every other file (once per document). */
function preload() {
  if (document.querySelector('link[data-embedanalysis]')) return;
  const url = (name) => new URL(name, import.meta.url).href;
  addToHead('link', {rel: 'stylesheet', href: url(STYLESHEET), 'data-embedanalysis': ''});
  for (const name of FILES) {
    if (name === STYLESHEET) continue;
    addToHead('link', name.endsWith('.css') ? {rel: 'preload', as: 'style', href: url(name)}
      : {rel: 'modulepreload', href: url(name)});
  }
  if (!document.querySelector('meta[name=viewport]')) {
    addToHead('meta', {name: 'viewport', content: 'width=device-width, initial-scale=1'});
  }
}

export async function render() {
  preload();
  const app = await import('./app.js');
  return app.render();
}
