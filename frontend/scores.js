// The hard-example scores the server offers (`methods` of /hard_examples), each in one line:
// what it measures and when to use it (issue 27.1). The formulas are in the README and in
// the docstrings of tb_embedanalysis/analysis/hardness.py and history.py; these lines are
// what the Score picker and the review queue show.

export const SCORES = {
  cleaned_knn_margin: {name: 'cleaned kNN margin',
    help: 'How strongly the k neighbours outvote the label, neighbours that agree with their own labels counting more. '
      + 'The best one-step score for label errors: use it when the embedding has one step.'},
  history: {name: 'history',
    help: 'The neighbours’ verdict averaged over every logged step up to this one, so errors the network '
      + 'memorised late still stand out. The best score for label errors when there are several steps.'},
  knn_margin: {name: 'kNN margin',
    help: 'The best other label’s share of the k neighbours minus the point’s own label’s (cleanlab’s normalized margin). '
      + 'Plain and comparable with cleanlab; ties are common.'},
  knn_disagreement: {name: 'kNN disagreement',
    help: 'The share of the k neighbours with another label. Coarse (k + 1 values): use it to count points '
      + 'in the wrong neighbourhood, not to rank them.'},
  centroid_margin: {name: 'centroid margin',
    help: 'How much nearer another label’s centre is than the point’s own. For points between clusters, and '
      + 'for labels whose points are spread too thinly for a k-neighbour vote.'},
};

/** The score the server uses when none is asked for (queries: DEFAULT_HARDNESS_METHOD). */
export const DEFAULT_SCORE = 'cleaned_knn_margin';

/** The name to show for `method` (unknown ones as sent, underscores as spaces). */
export function scoreName(method) {
  return SCORES[method]?.name ?? String(method ?? DEFAULT_SCORE).replace(/_/g, ' ');
}

/** The one-line explanation of `method`, or '' for a score this tab does not know. */
export function scoreHelp(method) {
  return SCORES[method]?.help ?? '';
}
