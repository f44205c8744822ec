"""The guard in front of every write (POST /tags): what a cross-site page cannot send.

TensorBoard has no CSRF protection: any page the user opens can make the browser send a
request to http://localhost:6006. A cross-site `<form method=post>` can only send the
content types application/x-www-form-urlencoded, multipart/form-data and text/plain, and
no custom header; a `fetch` from another origin that sets `Content-Type: application/json`
or a custom header first sends a CORS preflight (OPTIONS), which TensorBoard never answers
with Access-Control-Allow-* headers, so the browser never sends the request itself. So a
write must carry both `Content-Type: application/json` and `X-Embedanalysis-Request: 1`
(what frontend/api.js sends); anything else is a 403 that names them, and nothing is
written. The body is read up to MAX_BODY_BYTES, never more.

A page that passes for TensorBoard's own origin (DNS rebinding) can send both headers: the
Host check of plugin/hosts.py refuses it before any route runs. A write must also carry an
Origin that is this server (when the browser sends one, as it does for every POST), checked
after the headers here (plugin/hosts.py, `check_origin`).
"""

import json

from tb_embedanalysis.errors import Forbidden, InvalidArgument
from tb_embedanalysis.plugin.hosts import AllowedHosts

GUARD_HEADER = "X-Embedanalysis-Request"
MAX_BODY_BYTES = 1024 * 1024  # 10,000 row numbers and a label are ~70 kB


def json_body(request, hosts: AllowedHosts):
    """The decoded JSON body of a guarded POST from this server's own page (`hosts` says which
    Origins are); Forbidden (403) or InvalidArgument (400)."""
    if request.method != "POST":
        raise InvalidArgument("this route writes with POST; got %s" % request.method[:20])
    if request.headers.get(GUARD_HEADER) != "1" or request.mimetype != "application/json":
        raise Forbidden("writes need the headers 'Content-Type: application/json' and '%s: 1' (a guard against "
                        "requests from other sites); nothing was written" % GUARD_HEADER)
    hosts.check_origin(request.headers.get("Origin"), request.headers.get("Host"))
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise InvalidArgument("the body is too large (%d bytes, at most %d)" % (declared, MAX_BODY_BYTES))
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise InvalidArgument("the body is too large (more than %d bytes)" % MAX_BODY_BYTES)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise InvalidArgument("the body is not valid JSON (%s)" % str(error)[:100]) from None
