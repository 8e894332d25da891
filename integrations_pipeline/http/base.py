"""What the sync and async clients share: their settings, the URL of a request and the
credentials it carries (only to the base URL's origin), what an attempt's outcome means (done,
retry or give up), the errors they raise, the body cap, the verifying SSL context and the
redaction of every secret they know."""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx

from integrations_pipeline.common.redaction import (
    MIN_SECRET_LENGTH,
    redact,
    register_secrets,
    secret_forms,
)
from integrations_pipeline.http.auth import Auth, basic_authorization
from integrations_pipeline.http.errors import (
    MAX_ERROR_BODY,
    HttpError,
    ResponseTooLarge,
    api_message,
    response_text,
)
from integrations_pipeline.http.policies import (
    RETRY_STATUSES,
    CacheKey,
    RateLimiter,
    ResponseCache,
    RetryPolicy,
    retry_after_seconds,
)
from integrations_pipeline.http.urls import Origin, base_prefix, is_relative, origin, request_url

logger = logging.getLogger("integrations_pipeline.http")

# The largest response body a client reads, unless given ``max_response_bytes``: 100 MiB.
DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024
MAX_CONNECTIONS = 100  # open at once without max_concurrency (httpx's and aiohttp's default)
CROSS_ORIGIN = ("strip", "refuse")  # what a request to another origin than the base URL's gets
# The client's own headers of these names are credentials: never sent to another origin.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once: loading the CA bundle costs 50 ms a client."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR, the cache key


def environment_proxies() -> bool:
    """Whether the environment names a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, any case)."""
    return any(
        os.environ.get(name) or os.environ.get(name.upper())
        for name in ("http_proxy", "https_proxy", "all_proxy")
    )


class ClientBase:
    def __init__(
        self,
        base_url: str = "",
        *,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        max_concurrency: int | None = None,
        cache_ttl: float | None = None,
        secrets: Iterable[str] = (),
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        cross_origin: Literal["strip", "refuse"] = "strip",
    ) -> None:
        if max_response_bytes is not None and max_response_bytes < 0:
            raise ValueError(f"max_response_bytes must be at least 0 (or None), not {max_response_bytes}")
        if cross_origin not in CROSS_ORIGIN:
            raise ValueError(f"cross_origin must be 'strip' or 'refuse', not {cross_origin!r}")
        self.auth = auth
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self.max_concurrency = max_concurrency
        self.cache = ResponseCache(cache_ttl) if cache_ttl else None
        self.max_response_bytes = max_response_bytes
        self.cross_origin = cross_origin
        self._base = httpx.URL(base_url)
        given = [*secrets, *(auth.secrets() if auth else ())]
        if self._base.password:  # in every URL a request log line shows
            given.append(self._base.password)
        self.secrets = frozenset(form for secret in given if secret for form in secret_forms(secret))
        self.requests = 0
        # Credentials in the base URL are sent as Basic auth (as httpx sends them), to its origin only.
        self._url_credentials = (
            basic_authorization(self._base.username, self._base.password)
            if self._base.username or self._base.password
            else None
        )
        if self._url_credentials:
            self._base = self._base.copy_with(userinfo=b"")
            base_url = str(self._base)
        self.base_url = base_url
        # httpx's own rule for a relative URL: appended to the base URL's path with one "/".
        self._prefix = base_prefix(base_url) if base_url else ""
        self._origin: Origin | None = origin(self._base) if base_url else None
        # A URL that starts with this is on the origin, no parsing needed (a next link, say).
        self._root = f"{self._base.scheme}://{self._base.netloc.decode('ascii')}/" if base_url else "\0"
        # The client's headers that are no credentials: what a request to another origin gets.
        self._public_headers = {
            key: value
            for key, value in self.headers.items()
            if key.lower() not in CREDENTIAL_HEADERS and not self._carries_secret(value)
        }
        if self._origin is None and (auth or self._public_headers != self.headers):
            raise ValueError(
                "a client with credentials (auth, or credential headers) needs a base_url: "
                "they are sent only to its origin"
            )
        register_secrets(self.secrets)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _carries_secret(self, value: str) -> bool:
        return any(form in value for form in self.secrets if len(form) >= MIN_SECRET_LENGTH)

    def on_origin(self, url: str) -> bool:
        """Whether ``url`` (relative to the base URL, or absolute) is on the base URL's origin:
        its scheme, host and port. Without a base URL every URL is."""
        if self._origin is None or is_relative(self._prefix, url) or url.startswith(self._root):
            return True
        try:
            return origin(httpx.URL(url), self._origin[0]) == self._origin
        except httpx.InvalidURL:
            return False  # and request_url refuses it

    def _prepare(
        self, method: str, url: str, headers: Mapping[str, str] | None, params: Mapping[str, Any] | None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """A request's headers and params: with the client's credentials on the base URL's
        origin only. Headers given to the request itself are sent as given, anywhere."""
        merged_params = dict(params or {})
        if not self.on_origin(url):
            if self.cross_origin == "refuse":
                raise HttpError(
                    self.redact(
                        f"{method} {url} refused: not on the origin of the client's base URL "
                        f"{self.base_url} (cross_origin='refuse')"
                    )
                )
            return {**self._public_headers, **(headers or {})}, merged_params
        merged_headers = {**self.headers, **(headers or {})}
        if self.auth:
            self.auth.apply(merged_headers, merged_params)
        if self._url_credentials:
            merged_headers["Authorization"] = self._url_credentials
        return merged_headers, merged_params

    def _start(
        self, method: str, url: str, headers: Mapping[str, str] | None, params: Mapping[str, Any] | None
    ) -> tuple[str, dict[str, str], CacheKey | None, httpx.Response | None]:
        """(target URL, headers, cache key, cached response) of a request about to be sent.

        The URL is joined and its params merged here, once, as httpx would (see urls.py):
        a next link's query is kept, and the cache key is the URL actually requested.
        """
        headers_, params_ = self._prepare(method, url, headers, params)
        target = request_url(self._prefix, url, params_)
        cache_key = self.cache.key(target, {}) if self.cache and method == "GET" else None
        cached = self.cache.get(cache_key) if self.cache and cache_key else None
        return target, headers_, cache_key, cached

    def _after(
        self,
        method: str,
        url: str,
        attempt: int,
        response: httpx.Response | None,
        error: str | None,
        cache_key: CacheKey | None,
    ) -> float | None:
        """What an attempt's outcome means: None = done (return it), a delay = retry, or raise.

        ``error`` describes a connection error (``ConnectError: ...``) when there is no response.
        """
        if response is not None and response.status_code < 400:
            offered = response.next_request
            if offered is not None and not self.on_origin(str(offered.url)):
                self._strip_credentials(offered.headers)
            if self.cache and cache_key:
                self.cache.put(cache_key, response)
            return None
        if response is None:
            what, retry_after = (error or "no response").split(":", 1)[0], None
            detail = error or "no response"
        else:
            what = detail = f"HTTP {response.status_code}"
            retry_after = retry_after_seconds(response)
            if retry_after is not None and retry_after > self.retry.max_backoff:
                detail += f" (asked to wait {retry_after:.0f} s, more than max_backoff)"
                raise self._give_up(method, url, detail, response)
        if not self._should_retry(attempt, response, retry_after):
            raise self._give_up(method, url, detail, response)
        delay = self.retry.delay(attempt, retry_after)
        self._log_retry(method, url, what, delay, attempt, asked=retry_after is not None)
        return delay

    def _strip_credentials(self, headers: httpx.Headers) -> None:
        """Take the client's credentials out of a redirect's offered request to another origin
        (httpx takes out Authorization only)."""
        for key, value in list(headers.items()):
            if key == "host":
                continue
            # The Cookie header is the client's cookies for the new URL (the cookie jar's rules).
            if key in CREDENTIAL_HEADERS - {"cookie"} or self._carries_secret(value):
                del headers[key]

    def _give_up(self, method: str, url: str, error: str, response: httpx.Response | None) -> HttpError:
        if response is None:
            return HttpError(self.redact(f"{method} {url} failed: {error}"))
        body = self.redact(response_text(response))[:MAX_ERROR_BODY]
        said = api_message(body)
        if said:
            error += f" ({said[:200]})"
        return HttpError(
            self.redact(f"{method} {url} failed: {error}"),
            status_code=response.status_code,
            body=body,
            headers={key: self.redact(value) for key, value in response.headers.items()},
        )

    def _should_retry(self, attempt: int, response: httpx.Response | None, retry_after: float | None) -> bool:
        if attempt + 1 >= self.retry.attempts:
            return False
        if response is None or response.status_code in RETRY_STATUSES:
            return True
        # A 403 that says when to come back is a rate limit (GitHub's primary and secondary).
        return response.status_code == 403 and retry_after is not None

    def _log_retry(
        self, method: str, url: str, what: str, delay: float, attempt: int, *, asked: bool
    ) -> None:
        # While a task runs, this line also goes to its log (the run's event log): see
        # integrations_pipeline.execution.task_log.
        why = " as the server asked (Retry-After or rate-limit reset)" if asked else ""
        logger.warning(self.redact(f"{method} {url}: {what}; retry {attempt + 1} in {delay:.2f} s{why}"))

    # --- the body cap ----------------------------------------------------------------------

    def _check_length(self, method: str, url: str, status: int, headers: Iterable[tuple[str, str]]) -> None:
        """Refuse, before reading a byte of it, a body whose Content-Length is over the cap."""
        cap = self.max_response_bytes
        if cap is None or method == "HEAD" or status in (204, 304):  # no body, whatever it says
            return
        for key, value in headers:
            if key.lower() == "content-length" and value.strip().isdigit() and int(value) > cap:
                raise self._too_large(method, url, status, headers, f"its Content-Length is {int(value):,}")

    def _too_large(
        self, method: str, url: str, status: int, headers: Iterable[tuple[str, str]], detail: str
    ) -> ResponseTooLarge:
        return ResponseTooLarge(
            self.redact(
                f"{method} {url} failed: HTTP {status} response body over the client's "
                f"max_response_bytes ({self.max_response_bytes:,} bytes): {detail}"
            ),
            status_code=status,
            headers={key.lower(): self.redact(value) for key, value in headers},
        )
