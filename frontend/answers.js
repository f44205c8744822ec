// Answers that several panels need, requested once per selection by whichever panel asks
// first (the store's SharedRequests): each panel still shows its own progress and errors.
// One home for each cache key, so two panels can never ask for the same thing twice.

import * as api from './api.js';
import {countsFromClusters} from './labels.js';
import {replace} from './views/dom.js';
import {errorBox, progress} from './views/feedback.js';

const HARDEST = 200; // hardest points ringed on the map

/** The /clusters answer: the cluster table and the confusion matrix. */
export function clusters(store, onProgress = null) {
  const q = store.query();
  return store.requests.get(`clusters|${JSON.stringify(q)}`, (progress) => api.clusters(q, {onProgress: progress}), onProgress);
}

/**
 * Load the /clusters answer into `panel` (the cluster table and the confusion matrix both
 * show it): a progress bar titled `title`, then panel.answer + panel.render(), or an error
 * box titled `errorTitle`. Answers for a selection left meanwhile (isCurrent() false) are dropped.
 * While the exact pass runs, a panel with renderEstimate(estimate, barNode) shows the 202s'
 * sample estimate under the bar (once: the sample is fixed); the exact answer replaces it.
 */
export async function showClusters(panel, isCurrent, {title, errorTitle}) {
  const store = panel.store;
  const bar = progress(title);
  replace(panel.body, bar.node);
  let estimated = false;
  try {
    const answer = await clusters(store, (state) => {
      if (!isCurrent()) return;
      bar.update(state);
      if (state.estimate && !estimated && panel.renderEstimate) {
        estimated = true;
        panel.renderEstimate(state.estimate, bar.node);
      }
    });
    if (!isCurrent()) return;
    store.colours.assign(countsFromClusters(answer.labels));
    panel.answer = answer;
    store.publish('clusters', answer);
    panel.render();
  } catch (error) {
    if (!isCurrent()) return;
    replace(panel.body, errorBox(error, {title: errorTitle, retry: () => panel.load()}));
  }
}

/**
 * The hardest points whose neighbours outvote their label (/hard_examples ranks every point;
 * only those are kept): rings on the map, starting points in the neighbour panel.
 */
export async function hardest(store) {
  const q = store.query();
  const answer = await store.requests.get(`hardest|${JSON.stringify(q)}`, () => api.hardExamples(q, {limit: HARDEST}));
  return answer.examples.filter((ex) => ex.predicted_label !== ex.label);
}

/** Every row's value of one metadata column, as rows {[column]: value} (api.allMetadata). */
export function metadataColumn(store, column) {
  const q = store.query();
  const n = store.entry().shape[0];
  return store.requests.get(`meta|${q.run}|${q.embedding}|${q.step}|${column}`,
    (progress) => api.allMetadata(q, n, column, {onProgress: progress}));
}
