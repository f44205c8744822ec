// Categorical colours for labels. Twenty distinguishable hues (the first ten are the
// familiar Tableau/d3 set, the next ten their lighter/darker partners, reordered so that
// neighbours in the list differ strongly); labels beyond them share the neutral "other".

export const CATEGORICAL = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#3f51b5',
  '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5',
  '#c49c94', '#f7b6d2', '#9edae5', '#dbdb8d', '#393b79',
];
export const OTHER = '#9e9e9e';
export const UNKNOWN = '#cfd8dc';
export const MAX_COLOURED = CATEGORICAL.length;

/**
 * Colour assignment for labels: the most frequent MAX_COLOURED labels get their own colour,
 * in a stable order (by count desc, then label text), the rest map to OTHER.
 * counts: Map(label → count). Returns {colourOf(label), legend: [{label, colour, count}], otherCount, otherLabels}.
 */
export function assignColours(counts) {
  const ordered = [...counts.entries()].sort((a, b) => b[1] - a[1] || naturalCompare(a[0], b[0]));
  const coloured = ordered.slice(0, MAX_COLOURED).sort((a, b) => naturalCompare(a[0], b[0]));
  const byLabel = new Map();
  const legend = coloured.map(([label, count], i) => {
    byLabel.set(label, CATEGORICAL[i]);
    return {label, colour: CATEGORICAL[i], count};
  });
  const rest = ordered.slice(MAX_COLOURED);
  return {
    colourOf: (label) => (label === undefined ? UNKNOWN : byLabel.get(label) ?? OTHER),
    legend,
    otherCount: rest.reduce((sum, [, count]) => sum + count, 0),
    otherLabels: rest.length,
  };
}

/** "2" < "10", "cat" < "Dog": how people expect labels to be ordered. */
export function naturalCompare(a, b) {
  return String(a).localeCompare(String(b), undefined, {numeric: true, sensitivity: 'base'});
}

/** '#rrggbb' → a little-endian RGBA uint32 for ImageData's Uint32Array view. */
export function packColour(hex, alpha = 255) {
  const value = parseInt(hex.slice(1), 16);
  const r = (value >> 16) & 255;
  const g = (value >> 8) & 255;
  const b = value & 255;
  return ((alpha << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/**
 * Sequential scale for heat maps, 0 → faint, 1 → deep orange (TensorBoard's accent): the
 * accent with opacity t, so the cell blends into the card in the light and the dark theme.
 */
export function heat(t) {
  const x = Math.max(0, Math.min(1, t));
  return `rgba(230, 81, 0, ${x.toFixed(3)})`;
}
