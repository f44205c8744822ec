// Every request the tab makes goes through this module (see tb_embedanalysis/http_api.md):
// one function per route, its parameters from the selection. The HTTP itself (relative
// URLs, errors as ApiError, polling while the server answers 202) is transport.js's.

import {ApiError, postJson, request, url} from './transport.js';

// The errors the functions below throw, for the panels that show them.
export {ApiError, retryable} from './transport.js';

async function json(route, params, options) {
  return (await request(route, params, options)).body;
}

/**
 * One request per key, shared by every panel that needs it; answers are kept for the last
 * `size` keys, failures are forgotten (so "Try again" retries). Every caller's onProgress
 * hears the 202 progress of the shared request, also when it joins late.
 */
export class SharedRequests {
  constructor(size) {
    this.size = size;
    this.entries = new Map();
  }

  /** fetcher(onProgress) → promise; resolves like it. */
  get(key, fetcher, onProgress = null) {
    let entry = this.entries.get(key);
    if (!entry) {
      const listeners = new Set();
      entry = {listeners, last: null};
      entry.promise = fetcher((state) => {
        entry.last = state;
        for (const listener of listeners) listener(state);
      });
      entry.promise.then(() => listeners.clear(), () => { listeners.clear(); this.entries.delete(key); });
      this.entries.set(key, entry);
      if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value);
    }
    if (onProgress) {
      entry.listeners.add(onProgress);
      if (entry.last) onProgress(entry.last);
    }
    return entry.promise;
  }
}

// -- the routes -------------------------------------------------------------------------
// `sel` is the selection {run, embedding, step, labelColumn, k, metric}.

function base(sel) {
  return {run: sel.run, embedding: sel.embedding, step: sel.step};
}

function analysis(sel) {
  return {...base(sel), label_column: sel.labelColumn, k: sel.k, metric: sel.metric, rows: sel.rows};
}

export const runs = (options) => json('runs', {}, options);

/** by = {index} or {query, column} */
export const neighbors = (sel, by, options) =>
  json('neighbors', {...base(sel), k: sel.k, metric: sel.metric, label_column: sel.labelColumn,
    rows: by.index !== undefined ? sel.rows : null, ...by}, options);

/** regex=false: `q` is plain text (literal=1), so "^3$" or "c++" are searched as typed. */
export const search = (sel, q, {column, limit = 100, regex = false} = {}, options) =>
  json('search', {run: sel.run, embedding: sel.embedding, q, column, limit, literal: regex ? null : 1}, options);

export const clusters = (sel, options) => json('clusters', analysis(sel), options);

/** rows (a selection's rows=, also sel.rows when isolated) restricts one step's ranking; the history ranks all rows. */
export const hardExamples = (sel, {label, predicted, method, limit = 24, offset = 0, hideTagged = null, rows = null} = {}, options) =>
  json('hard_examples', {...analysis(sel), label, predicted, method, limit, offset, hide_tagged: hideTagged,
    rows: method === 'history' ? null : rows ?? sel.rows}, options);

export const compare = (sel, options) =>
  json('compare', {run: sel.run, embedding: sel.embedding, label_column: sel.labelColumn, k: sel.k, metric: sel.metric}, options);

/** The 2-D map: Float32Array [x0, y0, x1, y1, ...] of length 2N (non-finite rows are NaN). */
export async function projection(sel, method, options) {
  const {body, headers} = await request('projection', {...base(sel), method, format: 'bin'}, {...options, as: 'arrayBuffer'});
  if (body.byteLength % 8 !== 0) {
    throw new ApiError(`/projection answered ${body.byteLength} bytes, not a whole number of float32 (x, y) pairs`, {route: 'projection'});
  }
  const coords = new Float32Array(body);
  const shape = headers.get('X-Projection-Shape');
  if (shape && Number(shape.split(',')[0]) * 2 !== coords.length) {
    throw new ApiError(`/projection header says ${shape} but the body holds ${coords.length / 2} points`, {route: 'projection'});
  }
  return coords;
}

/**
 * One metadata column of every row, for colouring and hover: /metadata answers the column's
 * values as one compact list of strings in row order, shaped here as rows.
 * Resolves to {total, rows: Array(N) of {[column]: value} (undefined beyond the answer),
 * numeric: {min, max, missing, byText: Map text → number|null} or null (http_api.md /metadata)}.
 */
export async function allMetadata(sel, n, column, options) {
  const answer = await json('metadata', {run: sel.run, embedding: sel.embedding, step: sel.step, column}, options);
  // One (frozen) row object per distinct value, shared by its rows: a million rows with a
  // thousand labels make a thousand objects, not a million.
  const shared = answer.categories.map((value) => Object.freeze({[answer.column]: value}));
  const codes = answer.codes;
  const rows = new Array(n);
  for (let i = 0; i < Math.min(n, codes.length); i++) rows[i] = shared[codes[i]];
  // A numeric column (the server parsed it): each text's number, and the exact min and max.
  const numeric = answer.numeric
    ? {...answer.numeric, byText: new Map(answer.categories.map((c, i) => [c, answer.numeric.values[i]]))} : null;
  return {total: codes.length, rows, numeric};
}

export const thumbnailUrl = (sel, index) => url('thumbnail', {...base(sel), index});

export const exportUrl = (sel, what, format, extra = {}) =>
  url('export', {...analysis(sel), what, format, ...extra});

// -- training history (issue 16) ----------------------------------------------------------
// Every step of one embedding: `sel.step` is not sent (/history uses every step).

function historyBase(sel) {
  return {run: sel.run, embedding: sel.embedding, label_column: sel.labelColumn, k: sel.k, metric: sel.metric};
}

/** by = {} (every point's summary), {index} (one point's steps) or {indices: [..≤ 1000]} (rows). */
export const history = (sel, {index = null, indices = null} = {}, options) =>
  json('history', {...historyBase(sel), index, indices: indices ? indices.join(',') : null}, options);

/** The kNN overlap of every point between two steps (or another run / embedding: runB, embeddingB). */
export const churn = (sel, {stepA, stepB, runB = null, embeddingB = null, limit = 50} = {}, options) =>
  json('churn', {...historyBase(sel), step_a: stepA, step_b: stepB, run_b: runB, embedding_b: embeddingB, limit}, options);

/** Step A's map aligned onto step B's (Procrustes on PCA): the points that moved most. */
export const aligned = (sel, {stepA, stepB, method = 'pca', limit = 200} = {}, options) =>
  json('aligned', {run: sel.run, embedding: sel.embedding, step_a: stepA, step_b: stepB, method, limit}, options);

// -- tags (issue 18.3) -------------------------------------------------------------------
/** The embedding's tags: {tags: [{index, tag, corrected_label, updated}], counts, persistent}. */
export const tags = (sel, options) => json('tags', base(sel), options);

/** Tag rows: fields {tag} and/or {corrected_label} (null clears); a guarded POST (transport.js postJson). */
export async function setTags(sel, indices, fields) {
  return postJson('tags', {...base(sel), indices, ...fields});
}

// -- data quality (issue 18) --------------------------------------------------------------

/** Points ranked by mean distance to their k nearest neighbours, most outlying first. */
export const outliers = (sel, {limit = 24, offset = 0} = {}, options) =>
  json('outliers', {...base(sel), k: sel.k, metric: sel.metric, limit, offset}, options);

/** Near-duplicate groups within `threshold` (null: the server's default), leaks across `splitColumn` first. */
export const duplicates = (sel, {threshold = null, splitColumn = null, limit = 20, offset = 0} = {}, options) =>
  json('duplicates', {...base(sel), metric: sel.metric, threshold, split_column: splitColumn, limit, offset}, options);

// -- the map's Projector options (issue 27.4) ----------------------------------------------

/**
 * A map with settings: route 'projection' (params: method, dims, components, perplexity, …)
 * or 'custom_projection' (left, right, down, up, column, match). Resolves to
 * {coords: Float32Array(N·dims), dims: 2|3, info: the X-Projection-Info JSON}.
 */
export async function mapCoords(sel, route, params, options) {
  const {body, headers} = await request(route, {...base(sel), ...params, format: 'bin'}, {...options, as: 'arrayBuffer'});
  const [n, dims] = (headers.get('X-Projection-Shape') || '').split(',').map(Number);
  const coords = new Float32Array(body);
  if (!(dims === 2 || dims === 3) || n * dims !== coords.length) {
    throw new ApiError(`/${route} answered ${coords.length} numbers for the shape ${n},${dims}`, {route});
  }
  let info = {};
  try { info = JSON.parse(headers.get('X-Projection-Info') || '{}'); } catch (_) { /* optional */ }
  return {coords, dims, info};
}

/** A 202's layout in progress (/projection `preview`): Float32Array(n × dims) of its base64
 * float32 little-endian bytes (what format=bin sends), or null when it is not one. */
export function previewCoords({coords_base64: text, n, dims}) {
  if (typeof text !== 'string' || (dims !== 2 && dims !== 3)) return null;
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return bytes.length === 4 * n * dims ? new Float32Array(bytes.buffer) : null;
}

/** The map settings' defaults and bounds (/projection_settings). */
export const projectionSettings = (options) => json('projection_settings', {}, options);

/** The embedding's bookmarks: {bookmarks: [{name, state, updated}], max, persistent}. */
export const bookmarks = (sel, options) => json('bookmarks', {run: sel.run, embedding: sel.embedding}, options);

/** Save ({name, state}) or delete ({name, delete: true}) a bookmark; resolves to the list. */
export async function writeBookmark(sel, fields) {
  return postJson('bookmarks', {run: sel.run, embedding: sel.embedding, ...fields});
}
