// The progress line at the top of the tab (issue 27.6): the computation the view waits on,
// with its own percentage and an ETA, above the fold at any window size (it sticks to the
// top while the cards scroll). One line per computation, however many cards wait on it
// (activity.js groups the polls by the server's task id); further ones are counted.

import {activity} from '../activity.js';
import {el, replace} from './dom.js';

const FOR = {clusters: 'statistics', hard_examples: 'hard examples', projection: 'map', outliers: 'outliers',
  duplicates: 'near-duplicates', history: 'history', compare: 'steps', churn: 'neighbourhood changes',
  aligned: 'moved points', neighbors: 'neighbours'};

/** 42.5 s → "about 45 s left"; 130 s → "about 2 min left"; null → ''. */
export function etaText(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  if (seconds < 5) return 'a few seconds left';
  if (seconds < 90) return `about ${Math.ceil(seconds / 5) * 5} s left`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${(seconds / 3600).toFixed(1)} h left`;
}

export class ProgressLine {
  constructor() {
    this.fill = el('div', {class: 'activity-fill'});
    this.text = el('span', {class: 'activity-text'});
    this.node = el('div', {class: 'activity-line', role: 'status', 'aria-live': 'polite', hidden: true},
      el('div', {class: 'activity-track'}, this.fill), this.text);
    activity.on(() => this.render());
  }

  render() {
    const tasks = activity.tasks();
    this.node.hidden = !tasks.length;
    if (!tasks.length) return;
    const [first, ...rest] = tasks; // the least advanced: what the view waits on longest
    const value = typeof first.progress === 'number' ? Math.round(100 * Math.max(0, Math.min(1, first.progress))) : null;
    this.fill.style.width = `${value ?? 0}%`;
    this.node.dataset.task = first.task;
    this.node.dataset.progress = value === null ? '' : String(value);
    const waiting = [...new Set(first.routes.map((r) => FOR[r] || r))].join(', ');
    const eta = etaText(first.eta);
    replace(this.text,
      el('strong', null, `Computing ${first.message}`),
      value === null ? '' : ` — ${value} %`,
      eta ? ` · ${eta}` : '',
      waiting ? el('span', {class: 'muted'}, ` · for the ${waiting}`) : null,
      rest.length ? el('span', {class: 'muted'}, ` · ${rest.length} more computation${rest.length === 1 ? '' : 's'}`) : null);
  }
}
