// The map's Projector-style options (issue 27.4), kept in the URL beside the rest of the
// selection: colour by a column, words by a column, 3-D, PCA's components, t-SNE and UMAP
// settings, the custom projection's queries. Pure data: the store holds one MapOptions
// object (store.map), panels/map_projector.js edits it through store.setMap().
//
// Absent values mean "the default": the label column's colours, the text column's words,
// 2-D, the server's defaults (/projection_settings) for every setting.

/** URL key per option (state.js merges these into its own). */
export const MAP_KEYS = {
  colourBy: 'colour', labelBy: 'words', dims: 'dims', components: 'pc', perplexity: 'perp',
  learningRate: 'lr', nNeighbors: 'nn', minDist: 'md', epochs: 'ep', left: 'xl', right: 'xr', down: 'yd', up: 'yu',
  customColumn: 'xcol', customMatch: 'xmatch',
};
export const MAP_NUMERIC = new Set(['dims']);
export const MAP_FIELDS = Object.keys(MAP_KEYS);

/** The options read from the saved state (unknown or malformed values dropped). */
export function readMapOptions(saved) {
  const map = {};
  for (const field of MAP_FIELDS) map[field] = saved[field] ?? null;
  if (map.dims !== 3) map.dims = null;
  if (map.components !== null && !/^\d{1,2}(,\d{1,2}){1,2}$/.test(map.components)) map.components = null;
  return map;
}

/** The /projection (or /custom_projection) parameters of `method` under options `map`. */
export function projectionParams(method, map) {
  if (method === 'custom') {
    return {left: map.left, right: map.right, down: map.down, up: map.up, column: map.customColumn,
      match: map.customMatch};
  }
  const params = {dims: map.dims === 3 ? 3 : null};
  if (method === 'pca') {
    const components = map.components ? map.components.split(',') : null;
    // The chosen components, as many as the dimensions (a third one added for 3-D).
    if (components || map.dims === 3) {
      const dims = map.dims === 3 ? 3 : 2;
      const chosen = (components || ['1', '2']).slice(0, dims);
      for (let c = 1; chosen.length < dims; c++) if (!chosen.includes(String(c))) chosen.push(String(c));
      return {components: chosen.join(',')};
    }
    return {};
  }
  if (method === 'tsne') return {...params, perplexity: map.perplexity, learning_rate: map.learningRate};
  if (method === 'umap') return {...params, n_neighbors: map.nNeighbors, min_dist: map.minDist, n_epochs: map.epochs};
  return params;
}

/** Whether the custom projection has the queries it needs (left and right). */
export function customReady(map) {
  return Boolean(map.left && map.right);
}
