"""{env: VAR} is read by the process that resolves the config (the run's), from
INTEGRATIONS_SECRETS_DIR (one file per variable) before the environment: a secret added or
rotated there needs no restart. Deployments whose variables are not visible are reported."""

from integrations_pipeline.testing import run_integration, secret_leaks
from integrations_tests.framework.cli.command import integrations

SCHEMA = {"type": "object", "properties": {"api_key": {"type": "string", "writeOnly": True}}}
COLLECTOR = """
from integrations_pipeline.sdk import task


@task(name="key_length")
def key_length(self, ctx):
    return {"data": {"length": len(ctx.config["api_key"])}}
"""


def test_a_secret_in_the_secrets_dir_is_read_at_each_run(make_project, tmp_path, monkeypatch, capfd):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    monkeypatch.setenv("INTEGRATIONS_SECRETS_DIR", str(secrets))
    monkeypatch.delenv("ACME_SECRET", raising=False)
    project = make_project({"weather": {"schema": SCHEMA, "files": {"collectors/key.py": COLLECTOR}}})
    config = {"api_key": {"env": "ACME_SECRET"}}
    missing = run_integration("weather", config, project=project)
    assert not missing.success
    assert (
        "ACME_SECRET, which is not set" in missing.errors[0]
        and "INTEGRATIONS_SECRETS_DIR" in missing.errors[0]
    )
    (secrets / "ACME_SECRET").write_text("acme-key-0123\n")  # as `kubectl create secret` mounts it
    first = run_integration("weather", config, project=project)
    assert first.success, first.errors
    assert first["key_length"].data == {"length": len("acme-key-0123")}
    (secrets / "ACME_SECRET").write_text("rotated-acme-key-4567")  # no restart in between
    second = run_integration("weather", config, project=project)
    assert second["key_length"].data == {"length": len("rotated-acme-key-4567")}
    assert not secret_leaks(second, ["rotated-acme-key-4567", "acme-key-0123"], *capfd.readouterr())


def test_deployments_say_which_variables_they_cannot_see(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    env = {"INTEGRATIONS_SECRETS_DIR": str(secrets)}
    config = tmp_path / "acme.yaml"
    config.write_text("api_key: {env: ACME_HELLO_KEY}\n")
    added = integrations(
        "deployments", "add", "acme-hello", "--integration", "hello_world", "--config", str(config), env=env
    )
    assert added.returncode == 0, added.stderr
    assert added.stderr.strip().splitlines() == [
        "warning: deployment 'acme-hello': variable ACME_HELLO_KEY is not set here; its runs need it in "
        "the environment of the process that runs it, "
        f"or a file ACME_HELLO_KEY in INTEGRATIONS_SECRETS_DIR ({secrets})"
    ]
    checked = integrations("deployments", "check", "acme-hello", env=env)
    assert checked.returncode == 1 and "variable ACME_HELLO_KEY is not set here" in checked.stderr
    (secrets / "ACME_HELLO_KEY").write_text("acme-hello-key-01")
    fine = integrations("deployments", "check", "acme-hello", env=env)
    assert fine.returncode == 0, fine.stderr
    assert "its config fits and every variable is set here" in fine.stdout


def test_a_deployments_error_hides_the_escaped_form_of_a_variables_value(make_project, tmp_path):
    # Python's repr escapes \\, ' and ": an error quoting the value must not show that form either.
    schema = {"type": "object", "properties": {"region": {"type": "string", "pattern": "^x"}}}
    project = make_project({"weather": {"schema": schema, "files": {"collectors/key.py": COLLECTOR}}})
    config = tmp_path / "odd.yaml"
    config.write_text("region: {env: ODD_REGION}\n")
    value = "sh'ort\"\\region-value"
    add = ["deployments", "add", "odd", "--integration", "weather", "--config", str(config)]
    added = integrations("--project", str(project), *add, env={"ODD_REGION": value})
    assert added.returncode == 1
    assert "config field 'region'" in added.stderr and "does not match" in added.stderr
    assert "region-value" not in added.stderr, added.stderr
