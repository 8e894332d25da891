"""docker-compose.yml cannot run here (no Docker engine): keep it in step with what the
end-to-end test proves as plain processes."""

import re

import yaml

from integrations_tests.conftest import PROJECT


def test_compose_starts_the_processes_the_end_to_end_test_starts():
    compose = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "user-code", "webserver", "daemon", "test-worker"}
    assert all(service["profiles"] == ["default"] for service in services.values())
    serve = {
        name: s["command"][:3] for name, s in services.items() if name in ("user-code", "webserver", "daemon")
    }
    assert serve == {
        "user-code": ["integrations", "serve", "code-server"],
        "webserver": ["integrations", "serve", "webserver"],
        "daemon": ["integrations", "serve", "daemon"],
    }
    end_to_end = (PROJECT / "integrations_tests/platform/test_end_to_end.py").read_text()
    for process in ("code-server", "webserver", "daemon"):
        assert re.search(rf'stack\.start\("{process}", "{process}"', end_to_end), process
    environment = services["daemon"]["environment"]
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        assert f"DAGSTER_POSTGRES_{name}" in environment
        assert f'"DAGSTER_POSTGRES_{name}"' in end_to_end
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["postgres"]["volumes"]
    assert services["test-worker"]["command"][0] == "pytest"
    dockerfile = (PROJECT / "Dockerfile").read_text()
    assert 'cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in dockerfile
