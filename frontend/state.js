// UI state ⇄ URL, so a selection survives a reload and can be shared.
//
// Where it lives: the iframe's own location.hash, written with history.replaceState (no
// history entries, no hashchange events, works whatever the parent does). The iframe's URL
// is lost when the *TensorBoard page* reloads (TensorBoard recreates the iframe), so we also
// mirror the state into the parent's hash as one extra `ea=` field after TensorBoard's own
// `#embedanalysis` — only when the parent is same-origin (it always is when TensorBoard
// serves us, and reading it throws otherwise) and only with replaceState, so TensorBoard's
// router sees no navigation. On start the iframe hash wins, then the parent's `ea=`.

import {MAP_KEYS, MAP_NUMERIC} from './map_options.js';

const KEYS = {
  run: 'run', embedding: 'emb', step: 'step', labelColumn: 'col', k: 'k', metric: 'metric',
  point: 'point', projection: 'proj', search: 'q', searchRegex: 're', focus: 'focus',
  // The hard-example ranking (issue 27.1): score, label filter, confusion cell (label →
  // predicted), "hide ok"; and the review queue (open, its length).
  hardMethod: 'score', hardLabel: 'hl', hardPredicted: 'hp', hideOk: 'hideok', review: 'review', reviewSize: 'rn',
  ...MAP_KEYS, // the map's options (map_options.js)
};
const NUMERIC = new Set(['step', 'k', 'point', 'reviewSize', ...MAP_NUMERIC]);
const PARENT_KEY = 'ea';

function encode(state) {
  const params = new URLSearchParams();
  for (const [field, key] of Object.entries(KEYS)) {
    const value = state[field];
    if (value === null || value === undefined || value === '') continue;
    params.set(key, String(value));
  }
  return params.toString();
}

function decode(text) {
  const params = new URLSearchParams(text);
  const state = {};
  for (const [field, key] of Object.entries(KEYS)) {
    if (!params.has(key)) continue;
    const raw = params.get(key);
    if (NUMERIC.has(field)) {
      const value = Number(raw);
      if (raw !== '' && Number.isFinite(value)) state[field] = Math.trunc(value);
    } else {
      state[field] = raw;
    }
  }
  return state;
}

function parentWindow() {
  try {
    if (window.parent === window) return null;
    void window.parent.location.href; // throws when cross-origin
    return window.parent;
  } catch (_) {
    return null;
  }
}

/** TensorBoard's hash is "#plugin&key=value&…"; ours is the value of `ea`. */
function splitParentHash(hash) {
  const body = hash.replace(/^#/, '');
  const parts = body ? body.split('&') : [];
  return {parts, index: parts.findIndex((p) => p.startsWith(PARENT_KEY + '='))};
}

export function readState() {
  const own = window.location.hash.replace(/^#/, '');
  if (own) return decode(own);
  const parent = parentWindow();
  if (parent) {
    const {parts, index} = splitParentHash(parent.location.hash);
    if (index >= 0) return decode(decodeURIComponent(parts[index].slice(PARENT_KEY.length + 1)));
  }
  return {};
}

export function writeState(state) {
  const text = encode(state);
  // An absolute path, not "#…": the iframe document has <base href="plugin/embedanalysis/">,
  // which a bare fragment would resolve against.
  const target = `${window.location.pathname}${window.location.search}${text ? '#' + text : ''}`;
  if (target !== `${window.location.pathname}${window.location.search}${window.location.hash}`) {
    try { history.replaceState(history.state, '', target); } catch (_) { /* sandboxed: keep going */ }
  }
  const parent = parentWindow();
  if (!parent) return;
  try {
    const {parts, index} = splitParentHash(parent.location.hash);
    // Only while our tab is the one shown: never write into another tab's URL.
    if (!parts.length || parts[0] !== 'embedanalysis') return;
    const field = `${PARENT_KEY}=${encodeURIComponent(text)}`;
    if (index >= 0) parts[index] = field;
    else parts.push(field);
    const hash = '#' + parts.join('&');
    if (hash !== parent.location.hash) {
      parent.history.replaceState(parent.history.state, '', parent.location.pathname + parent.location.search + hash);
    }
  } catch (_) { /* the parent refused: the iframe hash still holds the state */ }
}
