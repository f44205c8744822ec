"""Tags survive what users do to files (issue 24.1), on real files through the real plugin.

* `tags.sqlite3` alone is complete after every answered write, and after the process
  exits (the -wal and -shm files gone): a user copies or moves that one file.
* The cache directory deleted, or the database replaced, while TensorBoard runs: the file
  now at the path is used (created if missing), so an answered write is in it.
* A damaged database, a read-only or full disk: a 422 naming the file and saying what to do,
  nothing written, and tagging works again once the user has fixed it, without a restart.
* `HEAD /tags` is a read, not a write (issue 24.6).

The same through a real `tensorboard` process stopped with SIGTERM: test_tags_tensorboard.py.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from tb_embedanalysis import tags_file
from tb_embedanalysis.tags import DB_NAME, TagStore, TagStoreUnwritable
from test_tags import GUARD, PREFIX, _client, _plugin, _post, _tags, _write_logs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHERE = {"run": "run", "embedding": "emb"}


@pytest.fixture()
def env(tmp_path):
    logdir = tmp_path / "logs"
    _write_logs(str(logdir / "run"))
    cache = tmp_path / "cache"
    plugin = _plugin(logdir, cache)
    yield {"tmp": tmp_path, "logdir": logdir, "cache": cache, "plugin": plugin, "client": _client(plugin)}
    plugin._workspace.tags.close()


def rows_in_the_main_file_alone(path) -> list:
    """(row, tag) in a copy of `path` made without its -wal and -shm: what a user who copies
    or moves tags.sqlite3 keeps."""
    copy = path.parent.parent / ("copy-of-" + path.name)
    shutil.copyfile(path, copy)
    try:
        connection = sqlite3.connect(copy)
        try:
            return connection.execute("SELECT row, tag FROM tags ORDER BY row").fetchall()
        finally:
            connection.close()
    finally:
        copy.unlink()


def tag(client, indices, value="ok"):
    return _post(client, dict(WHERE, indices=indices, tag=value))


def test_every_answered_write_is_in_tags_sqlite3_alone(env):
    for row in range(12):
        assert tag(env["client"], [row], "ok" if row % 2 else "ambiguous").status_code == 200
        # Before: the main file had no table at all; everything sat in tags.sqlite3-wal.
        assert len(rows_in_the_main_file_alone(env["cache"] / DB_NAME)) == row + 1
    assert (env["cache"] / (DB_NAME + "-wal")).stat().st_size == 0  # truncated by each write's checkpoint


CHILD_EXITS = textwrap.dedent("""
    import sqlite3, sys
    from tb_embedanalysis.tags import TagStore
    cache = sys.argv[1]
    store = TagStore(cache)
    reader = sqlite3.connect(cache + "/tags.sqlite3")
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM tags").fetchone()  # a snapshot: the write's checkpoint cannot finish
    store.write("fp", list(range(50)), tag="ok")
    copy = sqlite3.connect("file:" + cache + "/tags.sqlite3?mode=ro&immutable=1", uri=True)  # the main file alone
    print(copy.execute("SELECT COUNT(*) FROM tags").fetchone()[0], flush=True)
    copy.close()
    reader.rollback()
    reader.close()
    sys.exit(0)  # what TensorBoard's SIGTERM and Ctrl+C handlers call
""")


def test_the_exit_checkpoints_and_closes(tmp_path):
    cache = tmp_path / "cache"
    done = subprocess.run([sys.executable, "-c", CHILD_EXITS, str(cache)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"  # the reader kept the rows in the log while the process ran
    assert rows_in_the_main_file_alone(cache / DB_NAME) == [(row, "ok") for row in range(50)]
    assert sorted(os.listdir(cache)) == [DB_NAME]  # no -wal, no -shm: one file is the database


def test_the_cache_directory_deleted_while_running(env):
    client, cache = env["client"], env["cache"]
    assert tag(client, [1, 2]).status_code == 200
    shutil.rmtree(cache)
    answer = tag(client, [3], "ambiguous")
    assert answer.status_code == 200
    assert answer.get_json()["counts"]["ambiguous"] == 1 and answer.get_json()["counts"]["ok"] == 0
    # Before: 200 with the row counted, and no file anywhere (the rows went to the deleted one).
    assert rows_in_the_main_file_alone(cache / DB_NAME) == [(3, "ambiguous")]
    assert (cache.stat().st_mode & 0o077) == 0 and ((cache / DB_NAME).stat().st_mode & 0o077) == 0
    assert [(t["index"], t["tag"]) for t in _tags(client)["tags"]] == [(3, "ambiguous")]
    again = _client(_plugin(env["logdir"], cache))  # what a restart finds
    assert [(t["index"], t["tag"]) for t in _tags(again)["tags"]] == [(3, "ambiguous")]


def test_the_database_replaced_while_running(env):
    client, cache = env["client"], env["cache"]
    assert tag(client, [1]).status_code == 200
    fingerprint = env["plugin"]._workspace.load("run", "emb").fingerprint
    backup = TagStore(str(env["tmp"] / "backup"))  # a copy the user restores over the running one
    backup.write(fingerprint, [7, 8], tag="label error")
    backup.close()
    os.replace(env["tmp"] / "backup" / DB_NAME, cache / DB_NAME)
    assert [(t["index"], t["tag"]) for t in _tags(client)["tags"]] == [(7, "label error"), (8, "label error")]
    assert tag(client, [9]).status_code == 200
    assert rows_in_the_main_file_alone(cache / DB_NAME) == [(7, "label error"), (8, "label error"), (9, "ok")]


def test_a_file_replaced_during_a_write_is_written_again(tmp_path, monkeypatch):
    store = TagStore(str(tmp_path))
    store.write("fp", [1], tag="ok")
    checkpoint = tags_file.checkpoint
    replaced: list = []

    def replace_once(connection):  # between the commit and the check: the user's `mv`
        done = checkpoint(connection)
        if not replaced:
            replaced.append(True)
            os.rename(tmp_path / DB_NAME, tmp_path / "moved.sqlite3")
        return done

    monkeypatch.setattr("tb_embedanalysis.tags.checkpoint", replace_once)
    assert store.write("fp", [2], tag="ambiguous") == 1
    assert rows_in_the_main_file_alone(tmp_path / DB_NAME) == [(2, "ambiguous")]
    store.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_refuses_writes_naming_the_files_until_moved_away(env, damage):
    client, cache = env["client"], env["cache"]
    env["plugin"]._workspace.tags.close()
    path = cache / DB_NAME
    data = path.read_bytes()
    path.write_bytes(b"no database here\n" * 500 if damage == "garbage" else data[:len(data) // 2])
    plugin = _plugin(env["logdir"], cache)  # TensorBoard starts anyway
    client = _client(plugin)
    for response in (client.get(PREFIX + "/tags", query_string=WHERE), tag(client, [4])):
        assert response.status_code == 422, response.get_data()[:300]
        said = response.get_json()["error"]
        assert "the tag database tags.sqlite3 in the cache directory (--embedanalysis_cache_dir) is damaged" in said
        assert "move tags.sqlite3 away together with any tags.sqlite3-wal and tags.sqlite3-shm" in said
    # Before: the plugin kept tags in memory behind a 200 (persistent: false), lost at the next start.
    for name in os.listdir(cache):
        if name.startswith(DB_NAME):
            os.rename(cache / name, env["tmp"] / name)  # what the message says, while TensorBoard runs
    assert tag(client, [4]).status_code == 200
    assert rows_in_the_main_file_alone(path) == [(4, "ok")]
    plugin._workspace.tags.close()


def test_head_is_a_read(env):
    client = env["client"]
    tag(client, [5])
    response = client.head(PREFIX + "/tags", query_string=WHERE, headers=GUARD)
    assert response.status_code == 200, response.get_data()[:300]  # before: 400 "this route writes with POST"
    assert response.get_data() == b""
    assert [t["index"] for t in _tags(client)["tags"]] == [5]


def test_after_close_tags_answer_503(env):
    env["plugin"]._workspace.tags.close()  # what the exit does
    for response in (env["client"].get(PREFIX + "/tags", query_string=WHERE), tag(env["client"], [1])):
        assert response.status_code == 503 and "TensorBoard is stopping" in response.get_json()["error"]


def test_a_write_that_cannot_reach_the_directory_says_so(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    store = TagStore(str(tmp_path / "file" / "cache"))  # TensorBoard starts; tagging says why not
    with pytest.raises(TagStoreUnwritable, match=r"tags.sqlite3 in .*file/cache cannot be opened \(Not a directory\)"):
        store.write("fp", [1], tag="ok")


# -- read-only and full disks: a tmpfs of our own in a user and mount namespace -----------------------
DISK_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tags_disk_child.py")


def _in_own_tmpfs(tmp_path, scenario):
    """Run tags_disk_child.py with a 1 MB tmpfs mounted at tmp_path/disk; its JSON report."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-Urm", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -Urm (user and mount namespaces) for a disk of its own")
    disk = tmp_path / "disk"
    disk.mkdir()
    _write_logs(str(tmp_path / "logs" / "run"))
    script = 'mount -t tmpfs -o size=1m tmpfs "$1" && exec "$2" "$3" "$1" "$4" "$5"'
    done = subprocess.run([unshare, "-Urm", "sh", "-c", script, "sh", str(disk), sys.executable, DISK_CHILD,
                           str(tmp_path / "logs"), scenario], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "tests")])),
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_full_disk_says_so_and_tagging_resumes_when_space_is_freed(tmp_path):
    report = _in_own_tmpfs(tmp_path, "full")
    status, said = report["full"]
    assert status == 422, said
    assert said.startswith("the disk holding the tag database tags.sqlite3 in ") and "is full" in said
    assert "free space on it, or start TensorBoard with --embedanalysis_cache_dir on another disk" in said
    assert "nothing was written" in said and "move" not in said  # before: "cannot be read ...; move it away"
    assert report["after_freeing"] == 200
    assert report["on_disk"] == [[1, "ok"], [2, "ambiguous"]]


def test_a_read_only_disk_says_so_and_the_cli_still_reads(tmp_path):
    report = _in_own_tmpfs(tmp_path, "readonly")
    for what in ("write", "read"):
        status, said = report[what]
        assert status == 422, said
        assert "the tag database tags.sqlite3 in " in said and "is on a read-only disk (Read-only file system)" in said
        assert "start TensorBoard with --embedanalysis_cache_dir set to a writable directory" in said
    assert "nothing was written" in report["write"][1] and "nothing was written" not in report["read"][1]
    # The CLI only reads: a read-only disk is no reason to fail (before: exit 2, "cannot be opened").
    assert report["cli"][0] == 0, report["cli"]
    assert [t["index"] for t in json.loads(report["cli"][1])["tags"]] == [1]
