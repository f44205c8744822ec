// Whole-tab explanations: an empty log directory, an embedding that cannot be loaded, an
// embedding without labels. Each says what is missing and how to write it.

import {el} from './dom.js';
import {errorBox, howToWrite, notice} from './feedback.js';

const README_METADATA = 'The README describes the metadata format (one label per row; a header row when there are ' +
  'several columns), sprites and logging several steps.';

/** problems: /runs `problems` (config files that could not be read). */
export function emptyLogdir(problems) {
  return el('div', {class: 'card wide empty'}, el('div', {class: 'card-body'},
    notice('No embeddings in this log directory',
      'This tab reads embeddings written for TensorBoard’s projector (a projector_config.pbtxt with a tensor, ' +
      'a metadata.tsv with labels and optionally a sprite image).',
      'Write one from Python with tb_embedanalysis’s writer, then reload:',
      howToWrite(),
      'The README describes every argument, the Keras callback and how to log several training steps.'),
    problems.length ? el('div', null, el('h3', null, 'Files that could not be read'),
      el('ul', {class: 'problems'}, problems.map((p) => el('li', null, el('code', null, p.config || p.run || ''), ': ', p.error)))) : null));
}

/** entry: a /runs embedding whose `error` is set. */
export function brokenEmbedding(entry) {
  return el('div', {class: 'card wide'}, el('div', {class: 'card-body'},
    errorBox({message: entry.error}, {title: `Embedding “${entry.name}” cannot be loaded`}),
    el('p', {class: 'muted'}, 'Fix the files named above (or rewrite them with write_embedding from tb_embedanalysis, ' +
      'see the README) and reload; other embeddings are listed in the selector above.')));
}

/** What is missing when the embedding has no label column, and how to write one. */
export function noLabels(entry) {
  if (!entry.columns?.length) {
    return notice('No labels for this embedding',
      `“${entry.name}” was written without metadata, so there is nothing to group the points by. Neighbours and the map still work.`,
      'To get cluster statistics, the confusion matrix and hard examples, write a label for every row, e.g. with ' +
      'write_embedding from tb_embedanalysis:',
      howToWrite(), README_METADATA);
  }
  return notice('No label column',
    `The metadata of “${entry.name}” has ${entry.columns.length === 1 ? 'one column' : 'the columns'} (${entry.columns.join(', ')}) ` +
    'but none looks like a label (a label repeats across rows; a word or an id does not). Neighbours, search and the map still work.',
    'Pick a column in “Label column” above, or write a label column next to the tokens with write_embedding from tb_embedanalysis:',
    howToWrite({withLabels: false}), README_METADATA);
}
