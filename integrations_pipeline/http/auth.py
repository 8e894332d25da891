"""How the toolkit's clients authenticate: a bearer token, an API key (header or query), Basic.

Each scheme adds itself to a request's headers or query (``apply``) and names the values to
keep out of logs and errors (``secrets``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BearerAuth:
    token: str

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        headers["Authorization"] = f"Bearer {self.token}"

    def secrets(self) -> list[str]:
        return [self.token]


@dataclass(frozen=True)
class ApiKeyAuth:
    """An API key in a header (default ``X-API-Key``) or, with ``query=``, a query parameter."""

    key: str
    header: str | None = "X-API-Key"
    query: str | None = None

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        if self.query:
            params[self.query] = self.key
        elif self.header:
            headers[self.header] = self.key

    def secrets(self) -> list[str]:
        return [self.key]


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        headers["Authorization"] = basic_authorization(self.username, self.password)

    def secrets(self) -> list[str]:
        return [self.password, basic_authorization(self.username, self.password).removeprefix("Basic ")]


Auth = BearerAuth | ApiKeyAuth | BasicAuth


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP Basic auth."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
