"""The testing helpers integration authors use."""

from integrations_pipeline.testing import run_integration, secret_leaks


def test_secret_leaks_names_each_place_a_value_shows_up_but_not_the_value():
    result = run_integration("hello_world", {"api_key": "hello-test-key"})
    leaks = secret_leaks(result, ["", "item_1", "never-there"], "log line about item_1")
    assert "secret #1 in captured text 0" in leaks
    assert "secret #1 in outcome of task 'list_items'" in leaks
    assert any(leak.startswith("secret #1 in event log entry") for leak in leaks)
    assert all(leak.startswith("secret #1 in ") for leak in leaks)
    assert not any("item_1" in leak for leak in leaks)


def test_secret_leaks_finds_nothing_when_the_secret_is_redacted():
    result = run_integration("hello_world", {"api_key": "hello-test-key"})
    assert result.event_log, "the run's event log is kept on the result"
    assert secret_leaks(result, ["hello-test-key"]) == []


def test_secret_leaks_finds_a_secret_percent_encoded_in_a_url():
    result = run_integration("hello_world", {"api_key": "hello-test-key"})
    logged = "GET https://api.example/items?key=abc%2Fdef%2Bghi%3D"
    assert secret_leaks(result, ["abc/def+ghi="], logged) == ["secret #0 in captured text 0"]
