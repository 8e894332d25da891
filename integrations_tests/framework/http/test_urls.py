"""The toolkit's URLs are httpx's: joined, merged and normalized as httpx does it, whether
httpx parses them (most URLs) or not (plain ones, see integrations_pipeline/http/urls.py)."""

import random
import re

import httpx
import pytest

from integrations_pipeline.http.urls import base_prefix, request_url

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def httpx_url(base_url: str, url: str, params: dict | None) -> str | type[Exception]:
    """The URL as httpx makes it, or the error it raises: the toolkit's rule for a relative URL,
    then ``httpx.URL`` and ``copy_merge_params``."""
    relative = base_url and not url.startswith("//") and not _SCHEME.match(url)
    try:
        parsed = httpx.URL(base_prefix(base_url) + url.lstrip("/") if relative else url)
        return str(parsed.copy_merge_params(params) if params else parsed)
    except httpx.InvalidURL as error:
        return type(error)


def toolkit_url(base_url: str, url: str, params: dict | None) -> str | type[Exception]:
    try:
        return request_url(base_prefix(base_url) if base_url else "", url, params)
    except httpx.InvalidURL as error:
        return type(error)


@pytest.mark.parametrize(
    ("base_url", "url", "params", "expected"),
    [
        ("http://127.0.0.1:8080", "/pages/7", None, "http://127.0.0.1:8080/pages/7"),
        ("https://api.github.com/", "repos/a/b", {"per_page": 100}, "https://api.github.com/repos/a/b?per_page=100"),
        ("http://h/api", "/x?next=http://e/y", {"k": "a b"}, "http://h/api/x?next=http%3A%2F%2Fe%2Fy&k=a+b"),
        ("http://h:80/", "x", None, "http://h/x"),  # the default port dropped
        ("http://h/", "a/../b/./c", None, "http://h/b/c"),  # dot segments resolved
        ("http://H.example/", "ä b", None, "http://h.example/%C3%A4%20b"),  # lowercased, encoded
        ("http://h/", "x", {"key": "k3y/with+slash=and plus=="}, "http://h/x?key=k3y%2Fwith%2Bslash%3Dand+plus%3D%3D"),
        ("http://h/", "x", {"a": True, "b": None, "c": [1, 2]}, "http://h/x?a=true&b=&c=1&c=2"),
        ("http://h/", "x?", {}, "http://h/x?"),
        ("", "https://other.example/y", None, "https://other.example/y"),
        ("http://h/", "http://256.0.0.1/", None, httpx.InvalidURL),
    ],
)  # fmt: skip
def test_urls_are_joined_merged_and_normalized_as_httpx_does(base_url, url, params, expected):
    assert toolkit_url(base_url, url, params) == httpx_url(base_url, url, params) == expected


def test_any_url_comes_out_as_httpx_makes_it():
    rnd = random.Random(20)
    chars = "abcXYZ019-._~!$&'()*+,;=:@/?%#[]{}|^`\\\" <>é"
    hosts = [
        "127.0.0.1",
        "api.github.com",
        "A.com",
        "999.1.1.1",
        "1.2.3.4.5",
        "01.2.3.4",
        "1.2.3",
        "a..b",
        "0.0.0.0",
    ]
    ports = ["", ":80", ":443", ":8080", ":0", ":65536", ":080"]
    values = ["x", "a b", "k/+=", True, None, 3, ["a", "b"], "é", ""]

    def text(most: int) -> str:
        return "".join(rnd.choice(chars) for _ in range(rnd.randint(0, most)))

    for n in range(20_000):
        scheme = rnd.choice(["http", "https", "HTTP"])
        base_url = f"{scheme}://{rnd.choice(hosts)}{rnd.choice(ports)}{rnd.choice(['', '/', '/api', '/v1/'])}"
        url = rnd.choice(
            ["/" + text(12), text(12), f"/pages/{n}", "/x?" + text(10), "/./a", f"{base_url}/" + text(5)]
        )
        params = {rnd.choice(["a", "page", "q s"]): rnd.choice(values) for _ in range(rnd.randint(0, 2))}
        if isinstance(httpx_url(base_url, "", None), type):
            continue  # not a base URL httpx takes
        assert toolkit_url(base_url, url, params) == httpx_url(base_url, url, params), (base_url, url, params)
