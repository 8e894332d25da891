"""AWS access for the aws integration: the boto3 session, its clients, and AWS errors worded for runs."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from integrations_pipeline.sdk import register_secrets

ROLE_SESSION_NAME = "integrations-aws"
# AWS's default. botocore renews the role's credentials 15 minutes before they expire.
ROLE_SESSION_SECONDS = 3600
# The credentials in the raw XML body of an STS AssumeRole response.
ROLE_CREDENTIAL_FIELDS = re.compile(rb"<(AccessKeyId|SecretAccessKey|SessionToken)>([^<]+)</\1>")
CLIENT_CONFIG = Config(
    connect_timeout=10,
    read_timeout=30,
    retries={"mode": "standard", "max_attempts": 5},
    user_agent_extra="integrations-aws",
)
# Error codes that mean the keys themselves are wrong, expired or unknown to AWS.
REJECTED_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)


class AwsError(RuntimeError):
    """An AWS call failed; the message names the call, AWS's error code and its message."""


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def describe(error: Exception) -> str:
    """``(Code): message`` for an AWS error, the text of the error otherwise."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message") or "no message"
        return f"({error_code(error)}): {message}"
    return f"({type(error).__name__}): {error}"


@contextmanager
def aws_errors(call: str) -> Iterator[None]:
    """Turn a boto3 error into an :class:`AwsError` saying ``<call> failed (<Code>): <message>``."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise AwsError(f"{call} failed {describe(error)}") from None


def try_read(
    record_error: Callable[[str], None],
    what: str,
    fetch: Callable[[], Any],
    *,
    absent_codes: frozenset[str] = frozenset(),
    absent: Any = None,
) -> Any:
    """``fetch()``; ``absent`` when AWS answers one of ``absent_codes`` (nothing configured).

    Any other failure is recorded with ``record_error`` (``what`` names the resource and the
    call) and gives None, meaning "could not be read".
    """
    try:
        return fetch()
    except ClientError as error:
        if error_code(error) in absent_codes:
            return absent
        record_error(f"{what} failed {describe(error)}")
    except BotoCoreError as error:
        record_error(f"{what} failed {describe(error)}")
    return None


class Aws:
    """The run's view of one AWS account: who we are, and clients made from one boto3 session."""

    def __init__(self, session: boto3.Session, *, region: str, endpoint_url: str | None) -> None:
        self.session = session
        self.region = region
        self.endpoint_url = endpoint_url
        self.account_id = ""
        self.caller_arn = ""
        self.partition = "aws"
        self._clients: dict[tuple[str, str], BaseClient] = {}
        # boto3 sessions are not thread-safe; the clients they make are.
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of ``service`` in ``region`` (the configured one by default), made once."""
        region = region or self.region
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = self._make_client(service, region)
                self._clients[(service, region)] = client
        return client

    def _make_client(self, service: str, region: str) -> BaseClient:
        config = CLIENT_CONFIG
        if self.endpoint_url and service == "s3":
            # Emulators (moto, LocalStack) on one host have no per-bucket host names.
            config = config.merge(Config(s3={"addressing_style": "path"}))
        client = self.session.client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config
        )
        if self.endpoint_url and service == "s3control":
            # S3 Control prefixes the host with the account id ("123456789012.<host>"). A configured
            # endpoint serves every call on its own host, and a prefixed IP address or localhost
            # would not resolve: send to the host as configured.
            netloc = urlsplit(self.endpoint_url).netloc
            client.meta.events.register("before-sign.s3-control", _keep_host(netloc))
        return client

    def identify(self) -> None:
        """Ask STS who the credentials belong to; a clear error when AWS rejects them."""
        identity = sts_call("sts GetCallerIdentity failed", self.client("sts").get_caller_identity)
        self.account_id = identity["Account"]
        self.caller_arn = identity["Arn"]
        self.partition = self.caller_arn.split(":")[1]

    def arn(self, service: str, resource: str, *, account: bool = True, region: str = "") -> str:
        """An ARN in this account's partition (``account=False`` for S3's account-less ARNs)."""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id if account else ''}:{resource}"


def _keep_host(netloc: str) -> Callable[..., None]:
    def keep_host(request: Any, **_: Any) -> None:
        request.url = urlunsplit(urlsplit(request.url)._replace(netloc=netloc))

    return keep_host


def connect(config: Mapping[str, Any]) -> Aws:
    """The session for ``config``: its keys, or the role they assume; checked with STS."""
    region = config.get("region") or "us-east-1"
    endpoint_url = config.get("endpoint_url") or None
    session = boto3.Session(
        aws_access_key_id=config["access_key_id"],
        aws_secret_access_key=config["secret_access_key"],
        aws_session_token=config.get("session_token") or None,
        region_name=region,
    )
    aws = Aws(session, region=region, endpoint_url=endpoint_url)
    role_arn = config.get("role_arn")
    if role_arn:
        role_session = _role_session(aws, role_arn, config.get("external_id"))
        aws = Aws(role_session, region=region, endpoint_url=endpoint_url)
    aws.identify()
    return aws


def _role_session(source: Aws, role_arn: str, external_id: str | None) -> boto3.Session:
    """A session with the role's temporary credentials, which botocore renews before they expire."""
    sts = source.client("sts")
    # botocore's parser logs the response body at DEBUG before assume_role returns: register the
    # credentials from the raw body first. The hook is on this client only and needs no lock of
    # ours (register_secrets has one); changing logger levels instead would race other threads.
    sts.meta.events.register("before-parse.sts.AssumeRole", _register_response_credentials)
    params: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": ROLE_SESSION_NAME,
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if external_id:
        params["ExternalId"] = external_id

    def fetch() -> dict[str, str]:
        """New credentials of the role: at the start, and on each renewal (on any task's thread)."""
        credentials = sts_call(f"could not assume role {role_arn}", lambda: sts.assume_role(**params))[
            "Credentials"
        ]
        # The values botocore signs with, should the body's format ever escape the hook's pattern.
        register_secrets(
            [credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]]
        )
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method=_RoleCredentials.METHOD
    )
    botocore_session = botocore.session.Session()
    botocore_session.register_component(
        "credential_provider", CredentialResolver([_RoleCredentials(credentials)])
    )
    return boto3.Session(botocore_session=botocore_session, region_name=source.region)


def _register_response_credentials(response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's ``before-parse`` hook: register the credentials an AssumeRole response carries."""
    body = response_dict.get("body") or b""
    register_secrets([match.group(2).decode() for match in ROLE_CREDENTIAL_FIELDS.finditer(body)])


class _RoleCredentials(CredentialProvider):
    """The only credentials of a role's session: no keys of the environment or of ~/.aws."""

    METHOD = "sts-assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def sts_call(failure: str, call: Callable[[], Any]) -> Any:
    """``call()``; its error says whether AWS rejected the credentials, or else ``failure``."""
    try:
        return call()
    except ClientError as error:
        if error_code(error) in REJECTED_CREDENTIALS:
            raise AwsError(f"AWS rejected the credentials {describe(error)}") from None
        raise AwsError(f"{failure} {describe(error)}") from None
    except BotoCoreError as error:
        raise AwsError(f"could not reach AWS STS {describe(error)}") from None
