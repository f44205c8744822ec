"""The plugin through TensorBoard's real WSGI app (no server, no port), and the one helper
that asks a route again while it answers 202 (the engine computing in the background).

    client = make_client(logdir)                       # cache dir "none", 64 MB of embeddings
    status, body = get(client, "/neighbors", run="a", embedding="emb", index="0")
"""

import argparse
import json
import time

from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

from no_bugs import assert_not_a_bug
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader

PREFIX = "/data/plugin/embedanalysis"
#: How long a route may answer 202 before the test fails: the tests' computations take
#: seconds; this bounds a stuck job, not a slow machine.
POLL_SECONDS = 120.0


def make_client(logdir, cache_dir="none", *, max_memory_mb: float = 64.0, **flags) -> werkzeug_test.Client:
    """A test client of the plugin as TensorBoard's loader builds it for `logdir`; `flags`
    are the other `--embedanalysis_*` flags without the prefix (e.g. work_memory_mb=100)."""
    return plugin_and_client(logdir, cache_dir, max_memory_mb=max_memory_mb, **flags)[1]


def plugin_and_client(logdir, cache_dir="none", *, max_memory_mb: float = 64.0, **flags):
    """(the plugin, a test client of it): make_client's, with the plugin to look into."""
    namespace = argparse.Namespace(embedanalysis_cache_dir=str(cache_dir), embedanalysis_max_memory_mb=max_memory_mb,
                                   **{"embedanalysis_" + name: value for name, value in flags.items()})
    plugin = EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=namespace))
    return plugin, werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def poll(client, route, **query):
    """The first answer of GET `route` (under PREFIX) that is not a 202, asked every 50 ms;
    every answer is checked not to be a bug of ours and to carry `nosniff`."""
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        response = client.get(PREFIX + route, query_string=query)
        assert_not_a_bug(response, (route, query))
        assert response.headers["X-Content-Type-Options"] == "nosniff", (route, query)
        if response.status_code != 202:
            return response
        assert time.monotonic() < deadline, "%s %s still answered 202 after %.0f s" % (route, query, POLL_SECONDS)
        time.sleep(0.05)


def get(client, route, **query):
    """(status, body) of `poll`: the body decoded when it is JSON, else its bytes."""
    response = poll(client, route, **query)
    body = response.get_data()
    if response.headers["Content-Type"].startswith("application/json"):
        body = json.loads(body)
    return response.status_code, body
