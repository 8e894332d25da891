"""The four ways list endpoints hand out their pages, as the clients' ``paginate`` follows them.

A paginator gives the first page's params (``first``), then, from each response, the next
page's URL (None: the same URL) and params, or (None, None) when there is no next page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class LinkHeaderPaginator:
    """Follows ``Link: <...>; rel="next"`` (GitHub and many others)."""

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        link = response.links.get("next", {}).get("url")
        return (link, {}) if link else (None, None)


@dataclass(frozen=True)
class CursorPaginator:
    """A cursor read from the body (``cursor_path``, dotted) sent back as ``param``."""

    cursor_path: str = "next_cursor"
    param: str = "cursor"

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        value: Any = response.json()
        for part in self.cursor_path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return (None, {**params, self.param: value}) if value else (None, None)


@dataclass(frozen=True)
class PageNumberPaginator:
    """``?page=1,2,...`` until a page comes back empty (or shorter than ``page_size``)."""

    param: str = "page"
    start: int = 1
    page_size: int | None = None
    size_param: str = "per_page"

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        sized = {self.size_param: self.page_size} if self.page_size else {}
        return {**params, **sized, self.param: self.start}

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        if not items or (self.page_size and len(items) < self.page_size):
            return None, None
        return None, {**params, self.param: int(params[self.param]) + 1}


@dataclass(frozen=True)
class OffsetPaginator:
    """``?offset=0&limit=N``, advancing by ``limit`` until a page is shorter than it."""

    limit: int = 100
    offset_param: str = "offset"
    limit_param: str = "limit"

    def first(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, self.offset_param: 0, self.limit_param: self.limit}

    def next(
        self, response: httpx.Response, params: dict[str, Any], items: Any
    ) -> tuple[str | None, dict[str, Any] | None]:
        if not items or len(items) < self.limit:
            return None, None
        return None, {**params, self.offset_param: int(params[self.offset_param]) + self.limit}


Paginator = LinkHeaderPaginator | CursorPaginator | PageNumberPaginator | OffsetPaginator


def page_items(response: httpx.Response, items_path: str | None) -> Any:
    """A page's items: the JSON body, or the value at ``items_path`` (dotted) in it."""
    value: Any = response.json()
    if items_path:
        for part in items_path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    return value if value is not None else []
