// Confusion matrix as a heat map: rows = given label, columns = the label the k neighbours
// vote for. A DOM grid (not a canvas) so every cell is a focusable button with a tooltip.
// Off-diagonal cells are coloured relative to the largest confusion, so small errors stay
// visible next to the big diagonal; the diagonal is drawn in a neutral blue-grey.

import {el} from './dom.js';
import {heat} from '../palette.js';

const MAX_LABELS = 40;

/** Indices of the labels to show: all if few, else those involved in the most confusions. */
function chooseLabels(matrix) {
  const n = matrix.length;
  const all = [...Array(n).keys()];
  if (n <= MAX_LABELS) return all;
  const errors = all.map((i) => {
    let sum = 0;
    for (let j = 0; j < n; j++) if (j !== i) sum += matrix[i][j] + matrix[j][i];
    return sum;
  });
  return all.sort((a, b) => errors[b] - errors[a] || a - b).slice(0, MAX_LABELS).sort((a, b) => a - b);
}

/** Width of a cell: room for the largest count, a bit smaller when there are many labels. */
function cellSize(n, matrix) {
  let max = 0;
  for (const row of matrix) for (const v of row) max = Math.max(max, v);
  const digits = String(max).length;
  return Math.max(n > 20 ? 22 : 30, 8 + 7 * digits);
}

/** confusion: {labels, matrix}; onCell(givenLabel, votedLabel, count); selected: {label, predicted}. */
export function confusionMatrix({confusion, onCell, selected, colourOf}) {
  const {labels, matrix} = confusion;
  const shown = chooseLabels(matrix);
  let maxOff = 0;
  for (const i of shown) for (const j of shown) if (i !== j) maxOff = Math.max(maxOff, matrix[i][j]);
  const vertical = shown.some((j) => String(labels[j]).length > 3);
  const grid = el('div', {class: 'confusion-grid' + (vertical ? ' vertical' : ''), role: 'grid', 'aria-label': 'confusion matrix: given label by kNN-vote label',
    style: {gridTemplateColumns: `minmax(2.5em, max-content) repeat(${shown.length}, ${cellSize(shown.length, matrix)}px)`}});
  grid.appendChild(el('div', {class: 'cm-corner', title: 'rows: given label · columns: label voted by the k neighbours'}, 'given ╲ voted'));
  for (const j of shown) {
    grid.appendChild(el('div', {class: 'cm-col-head', title: `voted ${labels[j]}`},
      el('span', {class: 'cm-swatch', style: {background: colourOf(labels[j])}}), el('span', {class: 'cm-head-text'}, labels[j])));
  }
  for (const i of shown) {
    const rowTotal = matrix[i].reduce((a, b) => a + b, 0);
    grid.appendChild(el('div', {class: 'cm-row-head', title: `given ${labels[i]} (${rowTotal} points)`},
      el('span', {class: 'cm-swatch', style: {background: colourOf(labels[i])}}), el('span', {class: 'cm-head-text'}, labels[i])));
    for (const j of shown) {
      const count = matrix[i][j];
      const diagonal = i === j;
      const fraction = rowTotal ? count / rowTotal : 0;
      const background = diagonal
        ? `rgba(84, 110, 122, ${0.12 + 0.5 * fraction})`
        : count ? heat(0.15 + 0.85 * (count / (maxOff || 1))) : null; // empty cells: style.css
      const isSelected = selected && selected.label === labels[i] && selected.predicted === labels[j];
      const cell = el('button', {type: 'button', class: 'cm-cell' + (diagonal ? ' diag' : '') + (count ? '' : ' zero') + (isSelected ? ' selected' : ''),
        style: {background}, role: 'gridcell', disabled: count === 0,
        dataset: {label: labels[i], predicted: labels[j], count: String(count)},
        title: `given “${labels[i]}”, neighbours vote “${labels[j]}”: ${count} point${count === 1 ? '' : 's'} (${(100 * fraction).toFixed(1)}% of the row)`},
      count ? String(count) : '');
      cell.addEventListener('click', () => onCell(labels[i], labels[j], count));
      grid.appendChild(cell);
    }
  }
  return el('div', {class: 'confusion'},
    el('div', {class: 'confusion-scroll'}, grid),
    shown.length < labels.length
      ? el('div', {class: 'muted small'}, `Showing the ${shown.length} of ${labels.length} labels involved in the most confusions.`)
      : null,
    el('div', {class: 'muted small'}, 'Rows: given label · columns: label the k neighbours vote for. Click a cell to list its points.'));
}
