// The computations the tab is waiting for (issue 27.6), as the server names them: every 202
// answer says which computation its question waits on now (`task`: the same id for
// /clusters, /hard_examples and /outliers waiting on one kNN graph), that computation's own
// progress and its ETA (tb_embedanalysis/http_api.md). transport.js reports each poll here; the
// progress line at the top of the tab (views/activity.js) draws one line per computation,
// not one bar per card.

const STALE_MS = 4000; // a poll not heard from for this long is no longer waiting

const queued = (task) => (/\(queued\)$/.test(task.message) ? 1 : 0);

class Activity {
  constructor() {
    this.polls = new Map(); // poll id → {task, message, progress, eta, route, at}
    this.listeners = new Set();
    this.nextId = 1;
  }

  newPoll() {
    return this.nextId++;
  }

  /** A 202 for poll `id` of `route`: state {task, task_progress, task_message, eta_seconds, progress, message}. */
  report(id, route, state) {
    this.polls.set(id, {task: state.task ?? `${route}|${state.message}`, message: state.task_message ?? state.message ?? 'computing',
      progress: typeof state.task_progress === 'number' ? state.task_progress : state.progress,
      eta: typeof state.eta_seconds === 'number' ? state.eta_seconds : null, route, at: Date.now()});
    this._emit();
  }

  done(id) {
    if (this.polls.delete(id)) this._emit();
  }

  /**
   * [{task, message, progress, eta, routes: [...]}], one per computation: running ones
   * before queued ones ("… (queued)", jobs.py), the least advanced first.
   */
  tasks() {
    const now = Date.now();
    const byTask = new Map();
    for (const poll of this.polls.values()) {
      if (now - poll.at > STALE_MS) continue;
      const entry = byTask.get(poll.task) ?? {task: poll.task, message: poll.message, progress: poll.progress, eta: poll.eta, routes: new Set()};
      if (poll.at >= (entry.at ?? 0)) Object.assign(entry, {message: poll.message, progress: poll.progress, eta: poll.eta, at: poll.at});
      entry.routes.add(poll.route);
      byTask.set(poll.task, entry);
    }
    return [...byTask.values()].map((t) => ({...t, routes: [...t.routes]}))
      .sort((a, b) => queued(a) - queued(b) || (a.progress ?? 0) - (b.progress ?? 0));
  }

  on(listener) {
    this.listeners.add(listener);
  }

  _emit() {
    for (const listener of this.listeners) listener();
  }
}

export const activity = new Activity();
