// The 3-D map (issue 27.4): points rotated by yaw and pitch and projected with a little
// perspective onto the scatter plot's 2-D canvas, so zoom, hover, picking, marks, words and
// thumbnails all work unchanged. The plot is given one Float32Array(2N) of projected
// positions, rewritten in place on every rotation (scatter.js keeps its view for the same
// array); the 3-D coordinates are centred and scaled to the unit sphere first, so every
// rotation fits the same view.

const DISTANCE = 4; // the eye's distance from the centre, in sphere radii: mild perspective
const STEP = Math.PI / 18; // 10° per arrow key

export class Rotation3D {
  /** plot: the ScatterPlot the projection is shown on. */
  constructor(plot) {
    this.plot = plot;
    this.yaw = 0.6;
    this.pitch = 0.35;
    this.unit = null; // Float32Array(3N): centred, radius 1
    this.flat = null; // Float32Array(2N): what the plot draws
    this.rotations = 0; // rotations applied (tests read it)
  }

  /** coords: Float32Array(3N), NaN rows for invalid points. Returns the 2-D array for the plot. */
  setData(coords) {
    const n = coords.length / 3;
    let cx = 0, cy = 0, cz = 0, count = 0;
    for (let i = 0; i < n; i++) {
      const x = coords[3 * i], y = coords[3 * i + 1], z = coords[3 * i + 2];
      if (!(x === x && y === y && z === z)) continue;
      cx += x; cy += y; cz += z; count++;
    }
    [cx, cy, cz] = count ? [cx / count, cy / count, cz / count] : [0, 0, 0];
    let radius = 0;
    for (let i = 0; i < n; i++) {
      const d = (coords[3 * i] - cx) ** 2 + (coords[3 * i + 1] - cy) ** 2 + (coords[3 * i + 2] - cz) ** 2;
      if (d > radius) radius = d; // NaN compares false
    }
    radius = Math.sqrt(radius) || 1;
    this.unit = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      this.unit[3 * i] = (coords[3 * i] - cx) / radius;
      this.unit[3 * i + 1] = (coords[3 * i + 1] - cy) / radius;
      this.unit[3 * i + 2] = (coords[3 * i + 2] - cz) / radius;
    }
    this.flat = new Float32Array(2 * n);
    this._project();
    return this.flat;
  }

  /** Fit the map as it is turned now (the plot's own fit of what it shows): turning it
   * keeps that view, as the sphere's points rarely reach past the fitted box. */
  fit() {
    this.plot.resetView();
  }

  /** Turn by `dYaw` (about the vertical axis) and `dPitch` (about the horizontal), radians. */
  rotate(dYaw, dPitch) {
    if (!this.unit) return;
    this.yaw += dYaw;
    this.pitch = Math.max(-Math.PI / 2, Math.min(Math.PI / 2, this.pitch + dPitch));
    this._project();
    this.rotations += 1;
    this.plot.gridDirty = true;
    this.plot.requestDraw();
  }

  /** Arrow keys: 10° a press. Returns whether the key was one. */
  key(name) {
    const turns = {ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP]};
    if (!(name in turns)) return false;
    this.rotate(...turns[name]);
    return true;
  }

  /** Where the unit axes' ends are drawn (2-D, plot coordinates) for the axes gizmo. */
  axes() {
    return [[1, 0, 0], [0, 1, 0], [0, 0, 1]].map(([x, y, z]) => this._point(x, y, z));
  }

  _point(x, y, z) {
    const cy = Math.cos(this.yaw), sy = Math.sin(this.yaw), cp = Math.cos(this.pitch), sp = Math.sin(this.pitch);
    const x1 = x * cy + z * sy, z1 = -x * sy + z * cy;
    const y2 = y * cp - z1 * sp, z2 = y * sp + z1 * cp;
    const s = DISTANCE / (DISTANCE - z2);
    return [x1 * s, y2 * s];
  }

  _project() {
    const unit = this.unit, flat = this.flat;
    const cy = Math.cos(this.yaw), sy = Math.sin(this.yaw), cp = Math.cos(this.pitch), sp = Math.sin(this.pitch);
    for (let i = 0, n = flat.length / 2; i < n; i++) {
      const x = unit[3 * i], y = unit[3 * i + 1], z = unit[3 * i + 2];
      const x1 = x * cy + z * sy, z1 = -x * sy + z * cy;
      const y2 = y * cp - z1 * sp, z2 = y * sp + z1 * cp;
      const s = DISTANCE / (DISTANCE - z2);
      flat[2 * i] = x1 * s; // NaN stays NaN
      flat[2 * i + 1] = y2 * s;
    }
  }
}

/** A painter (scatter.js `painters`) drawing the three axes from the centre, labelled. */
export function axesPainter(rotation, active) {
  return (ctx, frame, plot) => {
    if (!active() || !plot.view) return;
    const [ox, oy] = plot._toScreen(0, 0);
    ctx.save();
    ctx.globalAlpha = 0.55;
    ctx.lineWidth = 1 * frame.dpr;
    ctx.strokeStyle = frame.colours.ink;
    ctx.fillStyle = frame.colours.ink;
    ctx.font = `${10 * frame.dpr}px Roboto, Arial, sans-serif`;
    rotation.axes().forEach(([x, y], k) => {
      const [ex, ey] = plot._toScreen(x * 0.25, y * 0.25);
      ctx.beginPath();
      ctx.moveTo(ox, oy);
      ctx.lineTo(ex, ey);
      ctx.stroke();
      ctx.fillText('xyz'[k], ex + 3 * frame.dpr, ey);
    });
    ctx.restore();
  };
}
