"""TensorBoard's own Projector serves what write_embedding wrote: the real ProjectorPlugin on
the writer's logdir, called through TensorBoard's WSGI app and werkzeug's test client.

(The Projector imports TensorFlow when it is installed; this module pays that once.)
"""

import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector import projector_plugin
from werkzeug import test as werkzeug_test

from tb_embedanalysis import write_embedding

N = 30
ROUTE = "/data/plugin/projector"


def _client(logdir: str) -> werkzeug_test.Client:
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=logdir,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir),
    )
    plugin = projector_plugin.ProjectorPlugin(context)
    return werkzeug_test.Client(application.TensorBoardWSGI([plugin]))


def _get(client, path, **args):
    response = client.get(ROUTE + path, query_string=args)
    assert response.status_code == 200, (path, args, response.get_data(as_text=True))
    return response


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("projector")
    rng = np.random.default_rng(0)
    images = rng.random((N, 8, 6)).astype(np.float32)
    labels = [str(i % 3) for i in range(N)]
    labels[4] = ""  # must not shift rows in the Projector
    steps = {}
    for step in (100, 1500):
        vectors = rng.normal(size=(N, 4)).astype(np.float32)
        write_embedding(logdir, vectors, name="digits", step=step, metadata=labels, images=images, invert_images=True)
        steps[f"digits:{step:05d}"] = vectors
    words = rng.normal(size=(7, 3)).astype(np.float32)
    write_embedding(logdir, words, name="words", metadata={"word": list("abcdefg"), "group": list("xxyyzzx")})
    zeros = np.zeros((5, 2), np.float32)  # written as TSV: raw zeros would break the Projector
    write_embedding(logdir, zeros, name="zeros")
    return {"logdir": str(logdir), "client": _client(str(logdir)), "steps": steps, "words": words,
            "zeros": zeros, "labels": labels, "images": images}


def test_runs_and_info_list_every_step_and_the_merged_embedding(written):
    client = written["client"]
    assert json.loads(_get(client, "/runs").get_data()) == ["."]
    info = json.loads(_get(client, "/info", run=".").get_data())
    entries = {e["tensorName"]: e for e in info["embeddings"]}
    assert set(entries) == {"digits:00100", "digits:01500", "words", "zeros"}
    assert entries["digits:00100"]["tensorShape"] == [N, 4]
    assert entries["digits:00100"]["sprite"]["singleImageDim"] == [6, 8]


@pytest.mark.parametrize("name", ["digits:00100", "digits:01500"])
def test_tensor_values_are_bit_equal_at_every_step(written, name):
    body = _get(written["client"], "/tensor", run=".", name=name).get_data()
    np.testing.assert_array_equal(np.frombuffer(body, "<f4").reshape(N, 4), written["steps"][name])


def test_merged_second_embedding_and_tsv_fallback_are_served(written):
    client = written["client"]
    words = np.frombuffer(_get(client, "/tensor", run=".", name="words").get_data(), "<f4")
    np.testing.assert_array_equal(words.reshape(7, 3), written["words"])
    zeros = np.frombuffer(_get(client, "/tensor", run=".", name="zeros").get_data(), "<f4")
    np.testing.assert_array_equal(zeros.reshape(5, 2), written["zeros"])


def test_metadata_rows_align_with_points(written):
    client = written["client"]
    text = _get(client, "/metadata", run=".", name="digits:01500").get_data(as_text=True)
    # Parse like the Projector's frontend: split on \n, skip blank lines; one column = no header.
    rows = [line for line in text.split("\n") if line.strip()]
    expected = ["<empty>" if label == "" else label for label in written["labels"]]
    assert rows == expected
    text = _get(client, "/metadata", run=".", name="words").get_data(as_text=True)
    lines = [line.split("\t") for line in text.split("\n") if line.strip()]
    assert lines[0] == ["word", "group"] and lines[1:] == [list(p) for p in zip("abcdefg", "xxyyzzx")]


def test_sprite_is_served_and_holds_every_thumbnail(written):
    response = _get(written["client"], "/sprite_image", run=".", name="digits:00100")
    assert response.mimetype == "image/png"
    sprite = np.asarray(Image.open(io.BytesIO(response.get_data())))
    columns = math.ceil(math.sqrt(N))
    assert sprite.shape == (columns * 8, columns * 6)
    expected = 255 - np.rint(written["images"] * 255).astype(np.uint8)
    for i in (0, 7, N - 1):
        row, column = divmod(i, columns)
        np.testing.assert_array_equal(sprite[row * 8:(row + 1) * 8, column * 6:(column + 1) * 6], expected[i])


PLANTED = {
    "all zeros": np.zeros((6, 4), np.float32),
    "ascii floats": np.tile(np.array([0.5, 2.0, 3.0], np.float32), (4, 1)),
    "random": np.random.default_rng(3).normal(size=(6, 4)).astype(np.float32),
}


@pytest.mark.parametrize("vectors", PLANTED.values(), ids=PLANTED.keys())
def test_misread_prediction_matches_the_real_projector(tmp_path, vectors):
    """Oracle for `standard_projector_misreads`: hand-write raw .bytes and ask the Projector."""
    from tb_embedanalysis.writer.tensor_file import standard_projector_misreads

    vectors.tofile(tmp_path / "t.bytes")
    (tmp_path / "projector_config.pbtxt").write_text(
        'embeddings { tensor_name: "t" tensor_path: "t.bytes" tensor_shape: [%d, %d] }' % vectors.shape
    )
    client = _client(str(tmp_path))
    try:
        response = client.get(ROUTE + "/tensor", query_string={"run": ".", "name": "t"})
        served = response.status_code == 200 and np.array_equal(
            np.frombuffer(response.get_data(), "<f4").reshape(vectors.shape), vectors)
    except ValueError:  # the plugin's float() on binary garbage escapes the route
        served = False
    assert served is not standard_projector_misreads(vectors)
