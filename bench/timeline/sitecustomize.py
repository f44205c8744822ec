"""Bench-only instrumentation (bench_tab_paint.py --timeline): when the tensorboard process
starts with this directory on PYTHONPATH and EMBEDANALYSIS_TIMELINE=<file>, every request to
our routes and every analysis job appends a JSON line (epoch seconds) to that file:

  {"ev": "request", "route", "query", "start", "end", "status"}
  {"ev": "job-submit" | "job-start" | "job-end", "kind", "t", "thread"}

so the tab's paint can be laid next to what the server did. Nothing here is imported by
the package; without the environment variable this module does nothing.
"""

import json
import os
import threading
import time

PATH = os.environ.get("EMBEDANALYSIS_TIMELINE", "")
_lock = threading.Lock()


def _log(**event):
    with _lock, open(PATH, "a") as f:
        f.write(json.dumps(event) + "\n")


def _install():
    from tb_embedanalysis.analysis import jobs
    from tb_embedanalysis.plugin import plugin

    run, execute = jobs.Jobs.run, jobs.Jobs._execute

    def logged_run(self, key, fn, **kwargs):
        if self.running(key) is None:
            _log(ev="job-submit", kind=getattr(key, "kind", str(key)), t=time.time(), thread=threading.current_thread().name)
        return run(self, key, fn, **kwargs)

    def logged_execute(self, job, fn, *args):  # *args: Jobs._execute's need_permit
        kind = getattr(job.key, "kind", str(job.key))
        if job.started:
            return execute(self, job, fn, *args)
        _log(ev="job-start", kind=kind, t=time.time(), thread=threading.current_thread().name)
        try:
            return execute(self, job, fn, *args)
        finally:
            _log(ev="job-end", kind=kind, t=time.time(), thread=threading.current_thread().name)

    # Instrumentation replaces these methods on purpose (mypy refuses assigning to methods).
    jobs.Jobs.run = logged_run  # type: ignore[method-assign]
    jobs.Jobs._execute = logged_execute  # type: ignore[method-assign]
    apps = plugin.EmbedAnalysisPlugin.get_plugin_apps

    def logged_apps(self):
        def wrap(route, app):
            def timed(environ, start_response):
                started, status = time.time(), []

                def start(code, headers, *rest):
                    status.append(code.split()[0])
                    return start_response(code, headers, *rest)

                body = list(app(environ, start))  # the answer is computed inside the call
                _log(ev="request", route=route, query=environ.get("QUERY_STRING", "")[:120], start=started,
                     end=time.time(), status=status[0] if status else "?")
                return body
            return timed
        return {route: wrap(route, app) for route, app in apps(self).items()}

    plugin.EmbedAnalysisPlugin.get_plugin_apps = logged_apps  # type: ignore[method-assign]  # on purpose, as above

    from tb_embedanalysis.analysis import kernel_warmup

    warm = kernel_warmup._warm

    def logged_warm(*args):  # the start-up compile (or cache load) on the same clock as the requests
        _log(ev="job-start", kind="kernel-warmup", t=time.time(), thread=threading.current_thread().name)
        try:
            warm(*args)
        finally:
            _log(ev="job-end", kind="kernel-warmup", t=time.time(), thread=threading.current_thread().name)

    kernel_warmup._warm = logged_warm  # before the plugin starts it


if PATH:
    _install()
