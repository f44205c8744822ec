"""The plugin as users get it: the real `tensorboard` command finds it through the entry point."""

import json
import time
import urllib.request

import numpy as np

from tb_embedanalysis import write_embedding
from tensorboard_process import running_tensorboard


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers, response.read()


def test_real_tensorboard_lists_and_serves_the_tab(tmp_path):
    logdir = tmp_path / "logs"
    vectors = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    write_embedding(str(logdir / "run1"), vectors, name="emb", metadata=[str(i % 3) for i in range(50)])
    with running_tensorboard(logdir, extra_args=["--embedanalysis_cache_dir", str(tmp_path / "cache")]) as base:
        deadline = time.monotonic() + 20
        while True:  # is_active is refreshed in the background: wait for it, briefly
            listing = json.loads(fetch(base + "/data/plugins_listing")[2])
            if listing["embedanalysis"]["enabled"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        entry = listing["embedanalysis"]
        assert entry["enabled"] is True
        assert entry["tab_name"] == "Embedding Analysis"
        assert entry["loading_mechanism"] == {"type": "IFRAME", "module_path": "/data/plugin/embedanalysis/index.js"}
        status, headers, body = fetch(base + "/data/plugin/embedanalysis/index.js")
        assert status == 200 and headers["Content-Type"].startswith("text/javascript") and b"render" in body
        runs = json.loads(fetch(base + "/data/plugin/embedanalysis/runs")[2])
        assert runs["runs"][0]["embeddings"][0]["shape"] == [50, 8]


def test_tab_is_inactive_on_a_logdir_without_projector_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with running_tensorboard(tmp_path / "empty") as base:
        time.sleep(1.0)
        listing = json.loads(fetch(base + "/data/plugins_listing")[2])
        assert listing["embedanalysis"]["enabled"] is False
