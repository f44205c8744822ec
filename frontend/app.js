// The Embedding Analysis tab's wiring. index.js (the entry TensorBoard loads in the tab's
// iframe) has asked for every file and added the stylesheet, then calls render(); from then
// on we own document.body.
//
// Wiring only. The selection store (store.js) holds the state, keeps it in the URL
// and announces changes; each panel under panels/ owns its card, its requests and its DOM,
// and hears the store. Drawn here: the top bar (which embedding, k, metric) and the banner
// (an empty log directory, a broken embedding, warnings).
//
// To add a panel: write panels/<name>.js (a default-exported Panel subclass, see
// panels/panel.js) and add <name> to PANELS, in the order the cards appear.

import * as api from './api.js';
import {Guide} from './guide.js';
import {debug} from './marks.js';
import {SelectionStore} from './store.js';
import {ProgressLine} from './views/activity.js';
import {followTheme} from './theme.js';
import {el, replace} from './views/dom.js';
import {errorBox} from './views/feedback.js';
import {brokenEmbedding, emptyLogdir} from './views/notices.js';
import {selectorBar} from './views/selector.js';

const PANELS = ['map', 'review', 'neighbors', 'clusters', 'confusion', 'hard', 'quality', 'compare', 'history', 'bookmarks'];

/** The page's three slots: top bar, banner, grid of panel cards. */
function buildShell(root) {
  root.replaceChildren();
  root.classList.add('ea');
  const shell = {
    topbar: el('div', {class: 'topbar-slot'}),
    progress: new ProgressLine().node, // the computation the view waits on (issue 27.6)
    banner: el('div', {class: 'banner-slot'}),
    grid: el('main', {class: 'grid'}),
  };
  root.append(shell.topbar, shell.progress, shell.banner, shell.grid);
  return shell;
}

/** Top bar and banner for the store's selection (the panels draw themselves). */
function showSelection(shell, store) {
  const {runs} = store.runs;
  const entry = store.entry();
  replace(shell.topbar, selectorBar({runs, sel: {...store.sel, labelColumn: store.labelColumn()}, entry,
    usedK: {k: store.query().k, points: store.validPoints()},
    metricChoice: store.data.clusters?.overall?.metric_choice ?? null, onChange: (patch) => store.select(patch)}));
  shell.grid.hidden = !runs.length || !entry;
  if (shell.grid.hidden) {
    replace(shell.banner, emptyLogdir(store.runs.problems || []));
  } else if (entry.error) {
    replace(shell.banner, brokenEmbedding(entry));
  } else {
    const warnings = entry.warnings || [];
    replace(shell.banner, warnings.length ? el('div', {class: 'banner warn', role: 'status'}, warnings.map((w) => el('div', null, w))) : null);
  }
}

/** The panel modules, fetched while /runs is asked (a failure is shown, not thrown). */
function importPanels() {
  const modules = Promise.all(PANELS.map((name) => import(`./panels/${name}.js`)));
  modules.catch(() => {}); // handled in start(); without this the browser logs it as unhandled first
  return modules;
}

async function start(shell, store, panels, modules) {
  replace(shell.grid, el('div', {class: 'card wide'}, el('div', {class: 'card-body'}, el('p', {class: 'muted'}, 'Looking for embeddings…'))));
  let runs;
  let loaded;
  try {
    runs = await api.runs();
  } catch (error) {
    replace(shell.grid, errorBox(error, {title: 'Could not list the embeddings', retry: () => start(shell, store, panels, modules)}));
    return;
  }
  try {
    loaded = await modules;
  } catch (error) {
    console.error(error); // eslint-disable-line no-console
    const words = new api.ApiError('the tab’s scripts did not arrive; is TensorBoard still running?'); // status 0: retry helps
    replace(shell.grid, errorBox(words, {title: 'Could not load the tab’s panels', retry: () => window.location.reload()}));
    return;
  }
  if (!Object.keys(panels).length) {
    PANELS.forEach((name, i) => { panels[name] = new loaded[i].default(store); });
  }
  replace(shell.grid, Object.values(panels).map((panel) => panel.node));
  store.start(runs);
}

export async function render() {
  followTheme(); // before the panels: the map reads its colours from the theme
  const modules = importPanels();
  const store = new SelectionStore();
  const panels = {}; // name → panel, in PANELS order
  debug.app = {store, panels}; // for the browser tests, the paint bench and the console
  const shell = buildShell(document.body);
  const guide = new Guide(store); // the next step of the label-error workflow, under the top bar
  shell.banner.after(guide.node);
  store.on('selection', () => showSelection(shell, store)); // before the panels hear it
  store.on('data', ({name}) => { if (name === 'clusters') showSelection(shell, store); }); // names auto's metric
  await start(shell, store, panels, modules);
}
