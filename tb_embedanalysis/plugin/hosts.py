"""Only this TensorBoard's own pages: the Host check against DNS rebinding, the Origin check on writes.

DNS rebinding: a page on http://evil.example:6006 whose name the attacker then points at
127.0.0.1 is, to the browser, the same origin as TensorBoard: it reads every answer and sends
the guard headers of plugin/writes.py. Only the Host header gives it away: it says the name
the page used (evil.example), not one this server answers to. So every request to our data
routes and writes must name, in Host, one of:

* an IP address (127.0.0.1, ::1, 192.168.1.5, ...): a rebinding page always has a name, and a
  page loaded from an address is that server's own;
* ``localhost`` or a name under ``.localhost`` (browsers resolve them to loopback themselves);
* the name TensorBoard was started with (``--host``), this machine's name (and, with
  ``--bind_all``, its fully qualified name, which TensorBoard prints as the tab's address);
* a name added with ``--embedanalysis_allowed_hosts`` (a LAN name, a reverse proxy that keeps
  the browser's Host): ``name``, ``.example.com`` for it and its subdomains, ``*`` for any.

A request without Host (HTTP/1.0, not a browser) is let through. The port is not checked: a
rebinding page must use TensorBoard's own.

Writes also need an Origin (when the browser sends one) that is this server as the Host names
it (same host and port), or a name of the flag (a proxy that rewrites Host), so a page of
another origin can never write even if it got past the guard headers. Both refusals are
403s whose message names the flag that would allow the request.

TensorBoard's own routes (its other tabs, its page) are not ours to change; our static files
are let through too (the same code for everyone, no data), so that a tab opened by a name
not allowed shows this module's message instead of a blank frame.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

from tb_embedanalysis.errors import Forbidden, InvalidArgument
from tb_embedanalysis.quoting import excerpt

logger = logging.getLogger(__name__)

FLAG = "--embedanalysis_allowed_hosts"
_LOGGED_MAX = 100  # distinct refused hosts logged at WARNING (then INFO only): bounded
_WILDCARDS = ("0.0.0.0", "::", "")  # --host values meaning every interface


def _normal(name: str) -> str:
    """A host name as compared: lower case, without the trailing dot of a fully qualified name."""
    return name.strip().lower().rstrip(".")


def split_host(value: str) -> Tuple[str, Optional[int]]:
    """'Example.com:6006' → ('example.com', 6006); '[::1]:6006' → ('::1', 6006); no port → None.
    InvalidArgument for what is no host[:port]."""
    text = value.strip()
    if text.startswith("["):  # an IPv6 address
        end = text.find("]")
        if end < 0:
            raise InvalidArgument("malformed host %s" % excerpt(value))
        name, rest = text[1:end], text[end + 1:]
    elif text.count(":") == 1:
        name, rest = text.split(":")[0], text[text.index(":"):]
    else:
        name, rest = text, ""
    port = None
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
            raise InvalidArgument("malformed host %s" % excerpt(value))
        port = int(rest[1:])
    if not name or any(c.isspace() or c in "/\\@?#" for c in name):
        raise InvalidArgument("malformed host %s" % excerpt(value))
    return _normal(name), port


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is no name
    except ValueError:
        return False
    return True


def check_names(value: str) -> Tuple[str, ...]:
    """The names of --embedanalysis_allowed_hosts 'a,b,.example.com,*'; InvalidArgument for
    an entry that is no host name."""
    names = tuple(_normal(part) for part in value.split(",") if part.strip())
    for name in names:
        bare = name[1:] if name.startswith(".") else name
        if name != "*" and (not bare or not all(c.isalnum() or c in "-._:[]" for c in bare)):
            raise InvalidArgument("%s: %s is not a host name (names, .domain for it and its subdomains, or *)"
                                  % (FLAG, excerpt(name)))
    return tuple(split_host(n)[0] if not n.startswith(".") and n != "*" else n for n in names)


@dataclass(frozen=True)
class AllowedHosts:
    """The names this server answers to besides addresses and localhost (module doc)."""

    names: FrozenSet[str]  # exact names: --host, this machine's names, the flag's
    added: Tuple[str, ...] = ()  # the flag's entries: names, '.domain' suffixes, '*'

    @classmethod
    def from_flags(cls, *, host: Optional[str] = None, bind_all: bool = False, added: str = "") -> "AllowedHosts":
        """From TensorBoard's --host and --bind_all and our --embedanalysis_allowed_hosts."""
        names = {_normal(socket.gethostname())}
        if host and _normal(host) not in _WILDCARDS:
            names.add(_normal(host))
        if bind_all or (host is not None and _normal(host) in _WILDCARDS):
            names.add(_normal(socket.getfqdn()))  # what TensorBoard prints as the address then
        entries = check_names(added)
        names.update(n for n in entries if not n.startswith(".") and n != "*")
        return cls(frozenset(n for n in names if n), entries)

    def _named(self, name: str, *, only_added: bool = False) -> bool:
        """Whether `name` (normalised, no port) is one of ours; only_added: of the flag's."""
        if "*" in self.added:
            return True
        if any(entry.startswith(".") and (name == entry[1:] or name.endswith(entry)) for entry in self.added):
            return True
        return name in self.added if only_added else name in self.names

    def allows(self, name: str) -> bool:
        return _is_address(name) or name == "localhost" or name.endswith(".localhost") or self._named(name)

    def check_host(self, host_header: Optional[str]) -> None:
        """Forbidden unless the Host header names this server (module doc)."""
        if not host_header:
            return
        try:
            name, _ = split_host(host_header)
        except InvalidArgument:
            raise Forbidden("the request's Host header %s is malformed" % excerpt(host_header)) from None
        if self.allows(name):
            return
        _log_refused(name)
        raise Forbidden(
            "this TensorBoard does not answer to the name %s (the request's Host header): the Embedding Analysis tab "
            "refuses names it does not know, since a page of another site that points its own name at this "
            "machine (DNS rebinding) could otherwise read and tag your embeddings. If you reach TensorBoard by that "
            "name, start it with %s %s" % (excerpt(name), FLAG, _suggested(name)))

    def check_origin(self, origin: Optional[str], host_header: Optional[str]) -> None:
        """Forbidden unless `origin` (a write's Origin header; absent: not a browser's
        cross-origin request) is this server as `host_header` names it, or a name of the flag."""
        if origin is None:
            return
        refused = ("the request comes from the page %s, not from this TensorBoard (%s): writes come only from the "
                   "tab's own page; nothing was written. Behind a proxy that changes the Host header, start "
                   "TensorBoard with %s NAME, NAME being the proxy's" % (excerpt(origin), excerpt(host_header or "?"),
                                                                           FLAG))
        parsed = urllib.parse.urlsplit(origin.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:  # 'null': a sandboxed frame, a file
            raise Forbidden(refused)
        try:
            name, port = split_host(parsed.netloc)
            default = 443 if parsed.scheme == "https" else 80
            if self._named(name, only_added=True):
                return
            if host_header:
                host_name, host_port = split_host(host_header)
                if (name, port or default) == (host_name, host_port or default):
                    return
        except InvalidArgument:
            pass
        raise Forbidden(refused)


_logged: set = set()
_logged_lock = threading.Lock()


def _log_refused(name: str) -> None:
    """A WARNING the first time a name is refused (the operator sees which flag to add), INFO after."""
    with _logged_lock:
        first = name not in _logged and len(_logged) < _LOGGED_MAX
        if first:
            _logged.add(name)
    logger.log(logging.WARNING if first else logging.INFO,
               "embedanalysis: refused a request for host %s; if that is how you reach TensorBoard, start it with %s %s",
               excerpt(name), FLAG, _suggested(name))


def _suggested(name: str) -> str:
    """`name` as the flag's value in a message, when it is a plain host name; else NAME."""
    return name if len(name) <= 253 and all(c.isascii() and (c.isalnum() or c in "-._") for c in name) else "NAME"
