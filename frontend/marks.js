// Paint timestamps for bench/bench_tab_paint.py, and the handle tests and the console use.
//
// window.__embedanalysis = {marks: {name: ms since the epoch}, app: {store, panels}}; a mark
// is taken once per page (the first paint of that kind), one animation frame after the
// DOM/canvas update where the caller says so.

export const debug = (window.__embedanalysis = {marks: {}});

export function mark(name) {
  if (!(name in debug.marks)) debug.marks[name] = performance.timeOrigin + performance.now();
}
