"""The URL a request goes to, as httpx makes it: relative URLs joined to the base URL, params
merged into the query (a next link's query kept), and the result normalized.

httpx parses and normalizes every URL (about 13 us of CPU, a tenth of what an async request
costs). A plain URL - lowercase http(s) host, no userinfo, no default port, path and query of
characters httpx leaves as they are, no dot segment - is its own normal form, so only the
others are parsed; the params are encoded by httpx's ``QueryParams`` either way. A test
checks the two agree (integrations_tests/framework/http/test_urls.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PLAIN = re.compile(
    r"https?://"
    # a dotted-quad IPv4 address, or a name that does not look like one
    rf"(?:{_OCTET}(?:\.{_OCTET}){{3}}(?=[:/?]|$)|(?![0-9.]+(?:[:/?]|$))[a-z0-9.-]+)"
    r"(?::(?!(?:80|443)(?:[/?]|$))[1-9][0-9]{0,4})?"  # a port, not a default one
    r"(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?"  # the path
    r"(?:\?(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?"  # the query
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


Origin = tuple[str, str, int | None]  # (scheme, host, port): where credentials may go
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: httpx.URL, scheme: str = "") -> Origin:
    """A URL's origin, its default port spelled out; ``scheme`` for a URL without one (``//host``)."""
    scheme = (url.scheme or scheme).lower()
    return scheme, url.host, url.port or _DEFAULT_PORTS.get(scheme)


def is_relative(prefix: str, url: str) -> bool:
    """Whether ``request_url`` appends ``url`` to ``prefix``, so that it stays on its origin."""
    return bool(prefix) and not url.startswith("//") and not _SCHEME.match(url)


def base_prefix(base_url: str) -> str:
    """What a relative URL is appended to: the base URL, normalized, ending in one "/"."""
    base = str(httpx.URL(base_url))
    return base if base.endswith("/") else f"{base}/"


def request_url(prefix: str, url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` (relative to ``prefix``, a ``base_prefix``, if it is relative and a prefix is
    given) with ``params`` merged into its query: ``str(httpx.URL(...).copy_merge_params(params))``."""
    absolute = prefix + url.lstrip("/") if is_relative(prefix, url) else url
    if "/." in absolute or not _PLAIN.fullmatch(absolute):
        parsed = httpx.URL(absolute)
        return str(parsed.copy_merge_params(params) if params else parsed)
    if not params:
        return absolute
    path, mark, query = absolute.partition("?")
    merged = str(httpx.QueryParams(query).merge(params) if mark else httpx.QueryParams(params))
    return f"{path}?{merged}" if merged else path
