// Thumbnails on the map when zoomed in (issue 27.4, as the Projector draws sprites): the
// points in view nearest the centre get their sprite cell (the /thumbnail route, cached by
// the browser for a day) drawn over their dot. Bounded: from ZOOM × the fitted scale on, at
// most MAX_DRAWN thumbnails a frame, chosen among at most CONSIDER_MAX points in view (more:
// zoom in further), and at most CACHED images kept, each framed in its point's colour. A
// painter of scatter.js's `painters`.

export const ZOOM = 3;
export const MAX_DRAWN = 120;
const CONSIDER_MAX = 4000;
const CACHED = 600;
const SIZE_PX = 28; // CSS px

export class SpriteLayer {
  /** urlOf(index) → the thumbnail's URL, or null when the embedding has no sprite. */
  constructor(plot, urlOf) {
    this.plot = plot;
    this.urlOf = urlOf;
    this.enabled = true;
    this.images = new Map(); // index → HTMLImageElement, oldest first
    this.drawn = 0; // thumbnails on the last frame (tests read it)
  }

  /** Another embedding: forget its images. */
  reset() {
    this.images.clear();
    this.drawn = 0;
  }

  _image(index) {
    let image = this.images.get(index);
    if (image) {
      this.images.delete(index); // most recently used last
      this.images.set(index, image);
      return image;
    }
    const src = this.urlOf(index);
    if (!src) return null;
    image = new Image();
    image.decoding = 'async';
    image.onload = () => this.plot.requestDraw();
    image.src = src;
    this.images.set(index, image);
    if (this.images.size > CACHED) this.images.delete(this.images.keys().next().value);
    return image;
  }

  /** The painter: (ctx, frame, plot). */
  paint(ctx, frame, plot) {
    this.drawn = 0;
    plot.textGap = null; // the words beside points: next to the dot, unless a thumbnail covers it
    if (!this.enabled || !plot.view || plot.view.scale < ZOOM * plot.fitScale || !this.urlOf(0)) return;
    const {sx, sy, n, width, height, emphasis, dpr} = frame;
    const size = SIZE_PX * dpr, half = size / 2;
    const found = [];
    for (let i = 0; i < n; i++) {
      if (!(sx[i] >= -half && sx[i] <= width + half && sy[i] >= -half && sy[i] <= height + half)) continue;
      if (emphasis && !emphasis[i]) continue;
      if (found.length === CONSIDER_MAX) return; // too many in view: zoom in further
      found.push(i);
    }
    const cx = width / 2, cy = height / 2;
    found.sort((a, b) => ((sx[a] - cx) ** 2 + (sy[a] - cy) ** 2) - ((sx[b] - cx) ** 2 + (sy[b] - cy) ** 2) || a - b);
    ctx.save();
    ctx.imageSmoothingEnabled = false; // small sprites stay crisp
    ctx.lineWidth = 2 * dpr;
    const {classes, palette} = frame;
    for (const i of found.slice(0, MAX_DRAWN)) {
      const image = this._image(i);
      if (!image || !image.complete || !image.naturalWidth) continue;
      ctx.drawImage(image, sx[i] - half, sy[i] - half, size, size);
      // Framed in the point's colour, so the colouring (labels, a column) still shows.
      ctx.strokeStyle = palette[classes ? classes[i] : 0] || frame.colours.ink;
      ctx.strokeRect(sx[i] - half, sy[i] - half, size, size);
      this.drawn += 1;
    }
    ctx.restore();
    if (this.drawn) plot.textGap = SIZE_PX / 2 + 3;
  }
}
