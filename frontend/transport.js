// The HTTP under api.js: every fetch the tab makes is one of these two (see
// tb_embedanalysis/http_api.md); api.js names the routes and their parameters.
//
// URLs are relative ("./runs"): TensorBoard loads the tab in an iframe whose <base> is
// /data/plugin/embedanalysis/, so they reach our routes under any --path_prefix.
// Errors are never turned into null: a non-2xx answer throws an ApiError carrying the
// server's JSON `error` text (and its other fields as `details`, e.g. `suggestions`), a
// network failure throws one saying TensorBoard is unreachable (status 0).
// A 202 answer means "still computing": we poll the same URL, reporting progress (the
// computation it waits on, with its own percentage, see activity.js).

import {activity} from './activity.js';

export class ApiError extends Error {
  /** status: the HTTP status, 0 when TensorBoard could not be reached; details: the error body's other fields. */
  constructor(message, {status = 0, route = '', details = {}} = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.route = route;
    this.details = details;
  }
}

/**
 * Whether asking again may give another answer: TensorBoard unreachable, timed out, busy or
 * failing (408, 429, 5xx). A 4xx is the same question's same answer: no "Try again" for it.
 */
export function retryable(error) {
  if (!(error instanceof ApiError)) return false;
  const {status} = error;
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

// The server holds each poll up to 0.5 s and answers the moment the result is ready
// (Jobs.sync_seconds). The pause between polls counts from when a poll was sent: after a poll
// the server held, the next one leaves at once (a pause counted from the answer left a result
// that ended inside it unseen for up to 0.1-0.4 s), and a 202 answered at once still waits its
// turn (100 ms, growing to 400), so nothing spins.
const POLL_FIRST_MS = 100;
const POLL_MAX_MS = 400;

/** './route?a=1&b=x' with empty / null parameters left out. */
export function url(route, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    query.set(key, String(value));
  }
  const text = query.toString();
  return `./${route}${text ? '?' + text : ''}`;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    }, {once: true});
  });
}

// What to say when the answer is not our JSON error (a proxy's or TensorBoard's own page):
// its HTML or a status line would mean nothing to the user.
function statusWords(status) {
  if (status >= 500) return 'TensorBoard failed to answer; it may be restarting or overloaded';
  if (status === 429 || status === 408) return 'TensorBoard is busy; wait a moment';
  if (status === 404) return 'TensorBoard does not know this address; is the plugin installed in the TensorBoard that is running?';
  return 'TensorBoard refused the request';
}

async function errorFrom(response, route) {
  let message = statusWords(response.status);
  let details = {};
  try {
    const body = JSON.parse(await response.text());
    if (body && typeof body.error === 'string') {
      ({error: message, ...details} = body);
    }
  } catch (_) { /* not our JSON: keep the words for the status */ }
  return new ApiError(message, {status: response.status, route, details});
}

/**
 * GET `route` with `params`; polls while the server answers 202.
 * options.onProgress({progress: 0..1|null, message, estimate, preview}) is called on every 202
 * (estimate: the answer's sample estimate or null, see http_api.md /clusters; preview: a
 * map's layout in progress or null, see /projection).
 * options.as: 'json' (default) | 'arrayBuffer'.
 * Resolves to {body, headers}.
 */
export async function request(route, params = {}, {signal, onProgress, as = 'json'} = {}) {
  const target = url(route, params);
  const poll = activity.newPoll();
  try {
    return await poll202(target, route, {signal, onProgress, as, poll});
  } finally {
    activity.done(poll);
  }
}

async function poll202(target, route, {signal, onProgress, as, poll}) {
  let delay = POLL_FIRST_MS;
  for (;;) {
    let response;
    const sent = performance.now();
    try {
      response = await fetch(target, {signal, credentials: 'same-origin'});
    } catch (error) {
      if (error?.name === 'AbortError') throw error;
      throw new ApiError('could not reach TensorBoard; is it still running?', {route});
    }
    if (response.status === 202) {
      let state = {};
      try { state = await response.json(); } catch (_) { /* progress is optional */ }
      activity.report(poll, route, state);
      // The computation waited on, with its own percentage (the same in every card that
      // waits on it), when the server names one; else this question's own progress.
      const own = typeof state.task_progress === 'number';
      onProgress?.({
        progress: own ? state.task_progress : typeof state.progress === 'number' ? state.progress : null,
        message: (own ? state.task_message : state.message) || 'computing',
        estimate: state.estimate || null, // a first answer from a sample, marked as one (/clusters)
        preview: state.preview || null, // UMAP's layout so far (/projection), not the map
      });
      await sleep(Math.max(0, delay - (performance.now() - sent)), signal);
      delay = Math.min(POLL_MAX_MS, Math.round(delay * 1.5));
      continue;
    }
    if (!response.ok) throw await errorFrom(response, route);
    if (as === 'arrayBuffer') return {body: await response.arrayBuffer(), headers: response.headers};
    try {
      return {body: await response.json(), headers: response.headers};
    } catch (error) {
      // Cut short on the way (status 0: asking again may help); the details go to the console.
      console.warn(`/${route} answered with invalid JSON`, error);
      throw new ApiError('TensorBoard’s answer arrived cut short or garbled', {route});
    }
  }
}

/**
 * POST `body` as JSON to `route`; resolves to the answer's JSON. The writes the tab makes
 * (tags, bookmarks) carry a JSON body and the X-Embedanalysis-Request header, which a page
 * of another site cannot send (TensorBoard has no CSRF protection; see plugin/writes.py).
 */
export async function postJson(route, body) {
  let response;
  try {
    response = await fetch(`./${route}`, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-Embedanalysis-Request': '1'},
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError('could not reach TensorBoard; is it still running?', {route});
  }
  if (!response.ok) throw await errorFrom(response, route);
  return response.json();
}
