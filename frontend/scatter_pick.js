// Which point is under the pointer: a screen-space bucket grid over the projected points
// (counting sort into flat Int32Arrays), so a hover costs O(points in 3×3 cells), not O(N).
// Built lazily after each frame by the scatter plot (scatter.js).

/** sx, sy: Float32Array(n) screen positions (device px); cell: bucket size (device px). */
export function buildPickGrid(sx, sy, n, width, height, cell) {
  const cols = Math.max(1, Math.ceil(width / cell));
  const rows = Math.max(1, Math.ceil(height / cell));
  const cellOf = new Int32Array(n);
  const starts = new Int32Array(cols * rows + 1);
  for (let i = 0; i < n; i++) {
    const x = sx[i], y = sy[i];
    if (!(x >= 0 && x < width && y >= 0 && y < height)) { cellOf[i] = -1; continue; }
    const c = ((y / cell) | 0) * cols + ((x / cell) | 0);
    cellOf[i] = c;
    starts[c + 1] += 1;
  }
  for (let c = 0; c < cols * rows; c++) starts[c + 1] += starts[c];
  const fill = starts.slice(0, cols * rows);
  const order = new Int32Array(starts[cols * rows]);
  for (let i = 0; i < n; i++) if (cellOf[i] >= 0) order[fill[cellOf[i]]++] = i;
  return {cell, cols, rows, starts, order};
}

/**
 * The point nearest to (x, y) (device px) within `radius`, or null. Points not in `emphasis`
 * (a Uint8Array, or null for all) lose ties against emphasised ones.
 */
export function nearestPoint(grid, sx, sy, x, y, radius, emphasis) {
  const {cell, cols, rows, starts, order} = grid;
  const col = (x / cell) | 0, row = (y / cell) | 0;
  const limit = radius ** 2;
  let best = null, bestD = Infinity;
  for (let r = row - 1; r <= row + 1; r++) {
    if (r < 0 || r >= rows) continue;
    for (let c = col - 1; c <= col + 1; c++) {
      if (c < 0 || c >= cols) continue;
      const cellIndex = r * cols + c;
      for (let k = starts[cellIndex]; k < starts[cellIndex + 1]; k++) {
        const i = order[k];
        let d = (sx[i] - x) ** 2 + (sy[i] - y) ** 2;
        if (emphasis && !emphasis[i]) d += limit * 0.5; // dimmed points lose ties
        if (d < bestD && d <= limit) { bestD = d; best = i; }
      }
    }
  }
  return best;
}
