"""The postgres password never reaches a log, an error or the Dagster event log."""

from typing import Any

import pytest

from integrations_pipeline.testing import run_integration, secret_leaks


@pytest.mark.parametrize("given", ["literal", "env"])
def test_the_password_is_in_no_log_error_or_event(
    hardened: dict,
    given: str,
    capfd: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: Any,
):
    password = hardened["password"]
    config = dict(hardened)
    if given == "env":
        monkeypatch.setenv("IT_POSTGRES_PASSWORD", password)
        config["password"] = {"env": "IT_POSTGRES_PASSWORD"}
    result = run_integration("postgres", config)
    assert result.success, result.errors
    assert result["list_roles"].status == "succeeded"  # the password was used
    assert not secret_leaks(result, [password], caplog.text, *capfd.readouterr())


def test_a_rejected_password_is_in_no_log_error_or_event(
    hardened: dict, capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
):
    wrong = "wrong-pg-password-5b1e"
    result = run_integration("postgres", {**hardened, "password": wrong})
    assert not result.success
    assert any("password authentication failed" in e for e in result.errors)
    assert not secret_leaks(result, [wrong, hardened["password"]], caplog.text, *capfd.readouterr())
