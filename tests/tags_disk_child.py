"""Child of test_tags_files.py, run inside `unshare -Urm` with a 1 MB tmpfs at DISK: the tag
database on a disk that fills up under the real plugin, or turns read-only between two
starts (a disk with files open for writing cannot be remounted read-only).

    python tags_disk_child.py DISK LOGDIR full|readonly

Prints one JSON line: what the routes answered (status, error) and what is on disk.
"""

import contextlib
import errno
import io
import json
import os
import sqlite3
import subprocess
import sys

from test_tags import _client, _plugin, _post

WHERE = {"run": "run", "embedding": "emb"}


def post(client, indices, value):
    response = _post(client, dict(WHERE, indices=indices, tag=value))
    return response.status_code, (response.get_json() or {}).get("error", "")


def fill(path) -> None:
    """Write zeros to `path` until the disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def main(disk, logdir, scenario):
    cache = os.path.join(disk, "cache")
    plugin = _plugin(logdir, cache)
    client = _client(plugin)
    report = {"first": post(client, [1], "ok")}
    if scenario == "full":
        fill(os.path.join(disk, "filler"))
        report["full"] = post(client, list(range(2, 90)), "ambiguous")
        os.unlink(os.path.join(disk, "filler"))
        report["after_freeing"] = post(client, [2], "ambiguous")[0]
        plugin._workspace.tags.close()
        connection = sqlite3.connect(os.path.join(cache, "tags.sqlite3"))
        report["on_disk"] = connection.execute("SELECT row, tag FROM tags ORDER BY row").fetchall()
        connection.close()
    else:
        plugin._workspace.tags.close()  # TensorBoard stopped; the disk turns read-only; it starts again
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        client = _client(_plugin(logdir, cache))
        report["write"] = post(client, [2], "ambiguous")
        response = client.get("/data/plugin/embedanalysis/tags", query_string=WHERE)
        report["read"] = [response.status_code, response.get_json().get("error", "")]
        from tb_embedanalysis import cli

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["tags", logdir, "--run", "run", "--embedding", "emb", "--cache-dir", cache])
        report["cli"] = [status, out.getvalue(), err.getvalue()]
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
