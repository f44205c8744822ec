"""Only this TensorBoard's own pages (issue 24.2): the Host check against DNS rebinding, the
Origin check on writes, through the real plugin (TensorBoardWSGI + werkzeug) and a real
`tensorboard` process.

A DNS-rebinding page is, to the browser, TensorBoard's own origin: it sends the guard
headers and a matching Origin. Only its Host header (its own name) gives it away.
"""

import argparse
import json
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest
from tensorboard.plugins import base_plugin

from tb_embedanalysis.plugin.hosts import AllowedHosts, split_host
from tb_embedanalysis.plugin.loader import EmbedAnalysisLoader
from tensorboard_process import running_tensorboard
from test_tags import GUARD, PREFIX, _client, _tags, _write_logs

EVIL = "evil.example:6006"
WHERE = {"run": "run", "embedding": "emb"}
# Every data route of ours, asked what the tab asks (the answers' status is not the point).
DATA_ROUTES = [
    ("/runs", {}), ("/neighbors", dict(WHERE, index=0)), ("/search", dict(WHERE, q="w1")),
    ("/metadata", WHERE), ("/clusters", WHERE), ("/hard_examples", WHERE), ("/projection", dict(WHERE, format="json")),
    ("/thumbnail", dict(WHERE, index=0)), ("/export", dict(WHERE, what="neighbors", index=0)), ("/compare", WHERE),
    ("/history", WHERE), ("/tags", WHERE), ("/churn", WHERE), ("/aligned", WHERE), ("/outliers", WHERE),
    ("/duplicates", WHERE),
]


def _plugin(logdir, cache, **flags):
    namespace = argparse.Namespace(embedanalysis_cache_dir=str(cache), embedanalysis_max_memory_mb=256.0, **flags)
    return EmbedAnalysisLoader().load(base_plugin.TBContext(logdir=str(logdir), flags=namespace))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts")
    _write_logs(str(root / "logs" / "run"))
    return root / "logs"


@pytest.fixture()
def client(logdir, tmp_path):
    plugin = _plugin(logdir, tmp_path / "cache")
    yield _client(plugin)
    plugin._workspace.tags.close()


def _write(client, host, origin, indices=(1,)):
    headers = dict(GUARD, Host=host)
    if origin is not None:
        headers["Origin"] = origin
    return client.post(PREFIX + "/tags", data=json.dumps(dict(WHERE, indices=list(indices), tag="ok")),
                       headers=headers, content_type="application/json")


@pytest.mark.parametrize("route, query", DATA_ROUTES, ids=[r for r, _ in DATA_ROUTES])
def test_a_rebinding_host_is_refused_on_every_data_route(client, route, query):
    for method in (client.get, client.head):
        response = method(PREFIX + route, query_string=query, headers={"Host": EVIL, "Origin": "http://" + EVIL})
        assert response.status_code == 403, (route, response.status_code)  # before: 200 (or 202)
    said = client.get(PREFIX + route, query_string=query, headers={"Host": EVIL}).get_json()["error"]
    assert "does not answer to the name 'evil.example'" in said and "DNS rebinding" in said
    assert said.endswith("start it with --embedanalysis_allowed_hosts evil.example")


def test_a_rebinding_page_cannot_tag(client):
    response = _write(client, EVIL, "http://" + EVIL)  # the guard headers and a matching Origin
    assert response.status_code == 403, response.get_data()[:300]  # before: 200, the rows written
    assert "--embedanalysis_allowed_hosts" in response.get_json()["error"]
    assert _tags(client)["tags"] == []


@pytest.mark.parametrize("host", [
    "localhost:6006", "localhost", "LOCALHOST.:6006", "tab.localhost:6006", "127.0.0.1:6006", "127.3.2.1",
    "[::1]:6006", "192.168.1.5:6006", "[fe80::1]:6006", socket.gethostname() + ":6006",
])
def test_addresses_localhost_and_this_machine_are_served(client, host):
    response = client.get(PREFIX + "/runs", headers={"Host": host})
    assert response.status_code == 200, (host, response.get_data()[:300])
    assert _write(client, host, "http://" + host).status_code == 200


def test_names_added_by_flag_and_the_host_flag(logdir, tmp_path):
    plugin = _plugin(logdir, tmp_path / "cache", host="tensorboard.lan",
                     embedanalysis_allowed_hosts="gpu-box, .corp.example ,proxy.example")
    client = _client(plugin)
    for host in ("tensorboard.lan:6006", "gpu-box:6006", "corp.example", "a.b.corp.example:443", "proxy.example"):
        assert client.get(PREFIX + "/runs", headers={"Host": host}).status_code == 200, host
    for host in (EVIL, "corp.example.evil.example", "xcorp.example", "gpu-box.evil.example"):
        assert client.get(PREFIX + "/runs", headers={"Host": host}).status_code == 403, host
    # A proxy that rewrites Host to localhost: its pages' Origin is a name of the flag.
    assert _write(client, "localhost:6006", "https://proxy.example").status_code == 200
    assert _write(client, "localhost:6006", "https://other.example").status_code == 403
    plugin._workspace.tags.close()
    anything = _plugin(logdir, tmp_path / "cache2", embedanalysis_allowed_hosts="*")
    assert _client(anything).get(PREFIX + "/runs", headers={"Host": EVIL}).status_code == 200
    anything._workspace.tags.close()


def test_bind_all_adds_the_name_tensorboard_prints(monkeypatch):
    monkeypatch.setattr(socket, "getfqdn", lambda *args: "gpu-box.corp.example")
    assert AllowedHosts.from_flags(bind_all=True).allows("gpu-box.corp.example")
    assert AllowedHosts.from_flags(host="0.0.0.0").allows("gpu-box.corp.example")
    assert not AllowedHosts.from_flags(host="localhost").allows("gpu-box.corp.example")


@pytest.mark.parametrize("origin, allowed", [
    (None, True),  # not a browser's cross-origin request
    ("http://localhost:6006", True),
    ("http://localhost:6007", False),  # another local server's page
    ("https://localhost:6006", True),  # a TLS proxy on the same host and port
    ("http://127.0.0.1:6006", False),  # another name: another origin
    ("http://evil.example", False),
    ("null", False),  # a sandboxed frame, a file:// page
    ("http://localhost:6006@evil.example", False),
])
def test_writes_need_the_servers_own_origin(client, origin, allowed):
    response = _write(client, "localhost:6006", origin)
    assert (response.status_code == 200) == allowed, (origin, response.get_data()[:300])
    if not allowed:
        assert response.status_code == 403 and "nothing was written" in response.get_json()["error"]


def test_a_form_without_the_guard_headers_still_hears_about_them(client):
    response = client.post(PREFIX + "/tags", data="indices=1", headers={"Origin": "http://evil.example"},
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403 and "X-Embedanalysis-Request" in response.get_json()["error"]


def test_static_files_are_served_to_any_name(client):
    # The tab's code is the same for everyone; a tab opened by a refused name then shows the 403's words.
    assert client.get(PREFIX + "/index.js", headers={"Host": EVIL}).status_code == 200


def test_malformed_hosts_are_refused(client):
    for host in ("localhost:x", "[::1", "a b:6006", "localhost:99999999"):
        assert client.get(PREFIX + "/runs", headers={"Host": host}).status_code == 403, host


def test_split_host():
    assert split_host("Example.COM.:6006") == ("example.com", 6006)
    assert split_host("[::1]:80") == ("::1", 80)
    assert split_host("::1") == ("::1", None)


def test_bad_flag_values_stop_tensorboard_with_the_flag_named():
    flags = argparse.Namespace(embedanalysis_max_memory_mb=1.0, embedanalysis_result_cache_mb=1.0,
                               embedanalysis_disk_cache_mb=1.0, embedanalysis_allowed_hosts="ok.example,bad/name")
    with pytest.raises(base_plugin.FlagsError, match=r"--embedanalysis_allowed_hosts: 'bad/name' is not a host name"):
        EmbedAnalysisLoader().fix_flags(flags)


# -- a real TensorBoard ----------------------------------------------------------------------------
def _ask(base, path, *, host, origin=None, body=None):
    headers = {"Host": host}
    if origin:
        headers["Origin"] = origin
    if body is not None:
        headers.update(GUARD)
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + PREFIX + path, data=body, headers=headers,
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_real_tensorboard_refuses_a_rebinding_page_and_serves_an_added_name(logdir, tmp_path):
    body = json.dumps(dict(WHERE, indices=[3], tag="ok")).encode()
    query = "/tags?" + urllib.parse.urlencode(WHERE)
    with running_tensorboard(str(logdir), extra_args=("--embedanalysis_cache_dir", str(tmp_path / "cache"))) as base:
        port = urllib.parse.urlsplit(base).port
        evil = "evil.example:%d" % port
        assert _ask(base, "/runs", host=evil, origin="http://" + evil)[0] == 403
        status, answer = _ask(base, "/tags", host=evil, origin="http://" + evil, body=body)
        assert status == 403 and "--embedanalysis_allowed_hosts evil.example" in answer["error"]
        assert _ask(base, query, host="127.0.0.1:%d" % port)[1]["tags"] == []  # nothing written
        own = "127.0.0.1:%d" % port
        assert _ask(base, "/tags", host=own, origin="http://" + own, body=body)[0] == 200
    with running_tensorboard(str(logdir), extra_args=("--embedanalysis_cache_dir", str(tmp_path / "cache"),
                                                      "--embedanalysis_allowed_hosts", "evil.example")) as base:
        evil = "evil.example:%d" % urllib.parse.urlsplit(base).port
        status, answer = _ask(base, query, host=evil)
        assert status == 200 and [t["index"] for t in answer["tags"]] == [3]
