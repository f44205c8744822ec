// Pointer input of the scatter plot (scatter.js): wheel zoom about the pointer, drag to pan
// (a press that moves under 3 px is a click), hover picking, double-click to fit.

/** Bind the canvas of `plot` (a ScatterPlot) to its view, marks and callbacks. */
export function bindPointer(plot) {
  const canvas = plot.canvas;
  let drag = null;
  const local = (event) => {
    const rect = canvas.getBoundingClientRect();
    return {x: event.clientX - rect.left, y: event.clientY - rect.top};
  };
  canvas.addEventListener('wheel', (event) => {
    if (!plot.view) return;
    event.preventDefault();
    const {x, y} = local(event);
    const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
    plot.zoomAt(x, y, factor);
  }, {passive: false});
  canvas.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    drag = {x: event.clientX, y: event.clientY, moved: false};
  });
  canvas.addEventListener('pointermove', (event) => {
    if (drag) {
      if (!plot.view) return; // dragging an empty canvas
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
        drag.moved = true;
        canvas.classList.add('dragging');
        plot.view.cx -= (dx * plot.dpr) / plot.view.scale;
        plot.view.cy += (dy * plot.dpr) / plot.view.scale;
        drag.x = event.clientX;
        drag.y = event.clientY;
        plot.setMarks({hovered: null});
        plot.onHover(null);
      }
      return;
    }
    const {x, y} = local(event);
    const index = plot.pick(x, y);
    if (index !== plot.marks.hovered) plot.setMarks({hovered: index});
    plot.onHover(index, event.clientX, event.clientY);
  });
  canvas.addEventListener('pointerup', (event) => {
    if (!drag) return;
    const moved = drag.moved;
    drag = null;
    canvas.classList.remove('dragging');
    if (!moved) {
      const {x, y} = local(event);
      plot.onClick(plot.pick(x, y));
    }
  });
  canvas.addEventListener('pointerleave', () => {
    if (drag) return;
    plot.setMarks({hovered: null});
    plot.onHover(null);
  });
  canvas.addEventListener('dblclick', () => plot.resetView());
}
