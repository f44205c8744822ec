"""Tags through a real `tensorboard` process: they survive a restart (same cache dir), and a
real cross-site style POST (a form's content types, no custom header) is refused with
nothing written."""

import json
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from tb_embedanalysis import write_embedding
from tensorboard_process import running_tensorboard

ROUTE = "/data/plugin/embedanalysis/tags"


def _logs(tmp_path):
    rng = np.random.default_rng(2)
    logdir = tmp_path / "logs"
    write_embedding(str(logdir / "run"), rng.normal(size=(40, 4)).astype(np.float32), name="emb",
                    metadata={"label": [str(i % 4) for i in range(40)], "id": [str(i) for i in range(40)]})
    return logdir


def _send(url, data: bytes, headers: dict):
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _listed(base):
    query = urllib.parse.urlencode({"run": "run", "embedding": "emb"})
    with urllib.request.urlopen("%s%s?%s" % (base, ROUTE, query), timeout=30) as response:
        return json.loads(response.read())


def test_tags_survive_a_restart_and_forms_cannot_write(tmp_path):
    logdir = _logs(tmp_path)
    cache = tmp_path / "cache"
    args = ("--embedanalysis_cache_dir", str(cache))
    body = json.dumps({"run": "run", "embedding": "emb", "indices": [3, 9], "tag": "label error",
                       "corrected_label": "1"}).encode()
    with running_tensorboard(str(logdir), extra_args=args) as base:
        # What a cross-site <form> can send: form-urlencoded, text/plain (even with a JSON body).
        for content_type, data in (("application/x-www-form-urlencoded", b"indices=3&tag=ok&run=run&embedding=emb"),
                                   ("text/plain", body), ("application/json", body)):
            status, answer = _send(base + ROUTE, data, {"Content-Type": content_type,
                                                        "Origin": "http://evil.example"})
            assert status == 403, (content_type, answer)
            assert "X-Embedanalysis-Request" in answer["error"]
        assert _listed(base)["tags"] == []
        status, answer = _send(base + ROUTE, body, {"Content-Type": "application/json",
                                                    "X-Embedanalysis-Request": "1"})
        assert status == 200 and answer["written"] == 2
        before = _listed(base)
    assert (cache / "tags.sqlite3").is_file()
    assert not any(p.name.startswith("tags.sqlite3") for p in logdir.rglob("*"))
    with running_tensorboard(str(logdir), extra_args=args) as base:
        after = _listed(base)
    assert after == before
    assert [(t["index"], t["tag"], t["corrected_label"]) for t in after["tags"]] == [
        (3, "label error", "1"), (9, "label error", "1")]
