"""The check every fuzz and hostile test makes on each answer: it is not a bug of ours.

A bug answers 500 with an error id (plugin/http_errors.py), and one describing a single
embedding is that /runs entry's error; a user's mistake or bad logs answer 4xx or a warning.
So "no 500, and no bug message in the body" holds for any input, however hostile, and a
failure here is a bug the fuzzing found (issue 23 item 3).
"""

from tb_embedanalysis.errors import BUG


def assert_not_a_bug(response, context=""):
    """`response`: a werkzeug test response."""
    body = response.get_data()
    assert response.status_code != 500, (context, body[:500])
    assert BUG.encode() not in body, (context, body[:500])
