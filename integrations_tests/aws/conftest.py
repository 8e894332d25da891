"""A real moto server on a free loopback port; each test starts from an empty account."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"  # moto's default account
# moto accepts any keys until authentication is switched on (Moto.enable_auth).
ADMIN_KEY_ID = "AKIAADMINEXAMPLE0001"
ADMIN_SECRET = "admin-secret-key-0123456789abcdef"


@dataclass
class Moto:
    """The running server, admin clients to set up the account, and the integration's config."""

    url: str

    def client(self, service: str, region: str = "us-east-1") -> Any:
        config = Config(s3={"addressing_style": "path"}) if service == "s3" else None
        client = boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=ADMIN_KEY_ID,
            aws_secret_access_key=ADMIN_SECRET,
            config=config,
        )
        if service == "s3control":
            # S3 Control would send to "<account>.127.0.0.1", which does not resolve.
            client.meta.events.register("before-sign.s3-control", self._keep_host)
        return client

    def _keep_host(self, request: Any, **_: Any) -> None:
        request.url = request.url.replace(f"//{ACCOUNT}.", "//", 1)

    def config(self, **fields: Any) -> dict[str, Any]:
        """The aws integration's config for this server."""
        return {
            "access_key_id": ADMIN_KEY_ID,
            "secret_access_key": ADMIN_SECRET,
            "endpoint_url": self.url,
            **fields,
        }

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        requests.post(f"{self.url}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()

    def enable_auth(self) -> None:
        """From now on moto checks signatures and IAM policies, as AWS does."""
        requests.post(f"{self.url}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()

    def create_user(self, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
        """An IAM user with an inline policy of ``statements``; returns its access key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName=f"{name}-policy",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield Moto(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """An empty account with authentication off; no AWS settings of this machine leak in."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    moto_server.reset()
    yield moto_server
    moto_server.reset()
