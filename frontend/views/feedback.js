// Loading, progress and error states shared by every panel: no panel is ever left blank.

import {ApiError, retryable} from '../api.js';
import {el, replace} from './dom.js';

/** A progress bar for a 202-polled computation. Returns {node, update({progress, message})}. */
export function progress(label = 'Loading…') {
  const bar = el('div', {class: 'progress-fill indeterminate'});
  const text = el('span', {class: 'progress-text'}, label);
  const node = el('div', {class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': label},
    el('div', {class: 'progress-track'}, bar), text);
  return {
    node,
    update({progress: fraction, message}) {
      if (typeof fraction === 'number' && Number.isFinite(fraction)) {
        const value = Math.round(100 * Math.max(0, Math.min(1, fraction)));
        bar.classList.remove('indeterminate');
        bar.style.width = `${value}%`;
        node.setAttribute('aria-valuenow', value);
        text.textContent = `${message || label} — ${value}%`;
      } else {
        text.textContent = message || label;
      }
    },
  };
}

/**
 * Put `children` into `container` without a load (a hint, nothing), ending the greyed-out
 * state a load overtaken by this one left behind.
 */
export function settle(container, ...children) {
  container.classList.remove('stale');
  return replace(container, ...children);
}

/**
 * The server's (or network's) error in words. Only an ApiError's message is shown: anything
 * else is a bug of the tab, whose message ("x is undefined") means nothing to the user; it
 * goes to the console. `retry` is offered only where asking again can help (api.retryable).
 */
export function errorBox(error, {title = 'Could not load this panel', retry = null} = {}) {
  const known = error instanceof ApiError || !(error instanceof Error); // {message} from /runs is known too
  if (!known) console.error(error); // eslint-disable-line no-console
  const message = known
    ? error.message
    : 'Something went wrong inside the tab (a bug, not your data). Reloading the page may help; the browser console has the details.';
  return el('div', {class: 'error-box', role: 'alert', dataset: {status: known ? String(error.status) : 'bug'}},
    el('div', {class: 'error-title'}, title),
    el('div', {class: 'error-message'}, message),
    retry && retryable(error) ? el('button', {class: 'button small', type: 'button', onclick: retry}, 'Try again') : null);
}

/** A neutral explanation: nothing to show, and why. `lines` are strings or nodes. */
export function notice(title, ...lines) {
  return el('div', {class: 'notice'},
    el('div', {class: 'notice-title'}, title),
    lines.map((line) => (typeof line === 'string' ? el('p', null, line) : line)));
}

/** How to write an embedding with our writer, as a code sample (text, not HTML). */
export function howToWrite({withLabels = true} = {}) {
  const code = withLabels
    ? 'from tb_embedanalysis import write_embedding\n\n' +
      'write_embedding(logdir, vectors, name="logits",\n' +
      '                metadata=labels,          # one label per row\n' +
      '                images=images, step=epoch)  # optional sprite'
    : 'write_embedding(logdir, vectors, name="logits",\n' +
      '                metadata=rows, metadata_header=["Token", "Label"])';
  return el('pre', {class: 'code'}, code);
}

/**
 * Run `load(onProgress)` and put its progress, then its result (via `show(result)`)
 * or its error into `container` (`explain(error)` may return a friendlier node for an
 * expected one, such as a word not found). Returns the load promise's result or undefined when
 * failed/aborted. `isCurrent()` returns false once the answer is stale (then nothing is shown).
 */
export async function loadInto(container, {label, load, show, isCurrent = () => true, errorTitle, retry, explain = () => null}) {
  const bar = progress(label);
  container.classList.add('stale');
  // Show the bar only if the answer takes a moment: fast panels don't flash.
  const timer = setTimeout(() => { if (isCurrent()) replace(container, bar.node); }, 120);
  try {
    const result = await load((state) => {
      if (!isCurrent()) return;
      clearTimeout(timer);
      if (!bar.node.isConnected) replace(container, bar.node);
      bar.update(state);
    });
    clearTimeout(timer);
    if (!isCurrent()) return undefined;
    container.classList.remove('stale');
    replace(container);
    show(result);
    return result;
  } catch (error) {
    clearTimeout(timer);
    if (error?.name === 'AbortError' || !isCurrent()) return undefined;
    container.classList.remove('stale');
    replace(container, explain(error) || errorBox(error, {title: errorTitle, retry}));
    return undefined;
  }
}
