"""redaction: every form a secret takes in text, and ``redact_value`` on results of any type."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

import pytest

from integrations_pipeline.common import redaction
from integrations_pipeline.common.redaction import (
    REDACTED,
    LineRedactor,
    redact,
    redact_lines,
    redact_value,
    register_secrets,
    secret_forms,
)

# Every character repr() and json.dumps() escape: a backslash and both quotes.
KEY = "sh'ort\"\\k-9f2"


@pytest.mark.parametrize(
    "text",
    [
        repr(KeyError(KEY)),  # raise KeyError(key)
        str({"api_key": KEY}),  # ctx.add_log(str(dict(ctx.config)))
        json.dumps({"api_key": KEY}),  # a webhook payload, the serialized event log
        json.dumps({"error": str(KeyError(KEY))}),  # a repr inside JSON
        repr(repr(KEY)),  # a repr inside a repr
        repr(KEY.encode()),  # bytes
        repr(f"{KEY} and its quote '"),  # the quote Python picks depends on the text around it
        "https://vendor.example/?q=" + quote(repr(KEY)),  # escaped, then percent-encoded
    ],
)
def test_escaped_forms_of_a_secret_are_redacted(text):
    redacted = redact(text, secret_forms(KEY))
    assert REDACTED in redacted
    assert not any(form in redacted for form in secret_forms(KEY))
    for escaped in (KEY, repr(KEY)[1:-1], json.dumps(KEY)[1:-1], "sh\\'ort", 'ort\\"'):
        assert escaped not in redacted


def test_a_plain_secret_has_one_form():
    assert secret_forms("plain-token-123") == {"plain-token-123"}


def test_a_secret_with_non_ascii_characters_is_redacted_in_json_and_bytes():
    key = "clé-secrète\u200b"
    for text in (json.dumps([key]), repr(key.encode()), repr(key)):
        assert REDACTED in redact(text, secret_forms(key))


def test_registering_a_secrets_forms_again_adds_no_forms_of_forms():
    register_secrets([KEY])
    registered = set(redaction._SECRETS)
    register_secrets(secret_forms(KEY))
    assert registered == redaction._SECRETS


def test_an_escaped_secret_in_a_log_record_is_redacted(caplog):
    register_secrets([KEY])
    with caplog.at_level(logging.INFO):
        logging.getLogger("vendor.sdk").info("config %s", {"api_key": KEY})
    assert "***" in caplog.text and "ort" not in caplog.text


TOKEN = "token-5d0c2b9e"


def test_a_secret_split_by_a_line_break_is_redacted_in_both_parts():
    assert redact_lines([f"a {TOKEN[:5]}\n{TOKEN[5:]} b"], {TOKEN}) == ["a ***\n*** b"]
    assert redact_lines([f"a {TOKEN[:5]}", f"{TOKEN[5:]} b", "c"], {TOKEN}) == ["a ***", "*** b", "c"]
    assert redact_lines(["nothing", "here"], {TOKEN}) == ["nothing", "here"]


def test_lines_are_let_out_redacted_with_their_neighbours():
    lines = LineRedactor(lambda: {TOKEN})
    out = lines.push("log", f"one {TOKEN[:4]}")
    assert out == []  # held until the next line shows whether the secret goes on
    out += lines.push("error", f"{TOKEN[4:]} two")
    out += lines.push("log", "three")
    out += lines.flush()
    assert out == [("log", "one ***"), ("error", "*** two"), ("log", "three")]
    assert lines.flush() == []


class _Unpicklable:
    def __reduce__(self):
        raise TypeError("no")

    def __repr__(self):
        return f"<conn {TOKEN}>"


def test_redact_value_redacts_every_type_and_copies_only_what_changes():
    secrets = frozenset(secret_forms(TOKEN))
    clean = {"items": [1, 2.5, None, ("a", b"b")], "tags": {"x"}}
    assert redact_value(clean, secrets) is clean
    value = {"clean": clean, "nested": [{TOKEN: (TOKEN.encode(), {TOKEN})}], "conn": _Unpicklable()}
    redacted = redact_value(value, secrets)
    assert redacted["clean"] is clean
    assert redacted["nested"] == [{"***": (b"***", {"***"})}]
    assert redacted["conn"] == "<conn ***>"


def test_an_exception_in_a_result_is_rebuilt_from_redacted_arguments():
    secrets = frozenset(secret_forms(TOKEN))
    error = OSError(2, f"no {TOKEN}", f"/{TOKEN}")
    error.detail = TOKEN
    redacted = redact_value([error], secrets)[0]
    assert type(redacted) is type(error)
    assert (redacted.strerror, redacted.filename, redacted.detail) == ("no ***", "/***", "***")


def test_a_stream_redacts_a_secret_written_in_pieces_by_the_line():
    register_secrets([TOKEN])
    written = io.StringIO()
    stream = redaction._RedactingStream(written)
    stream.write(f"a {TOKEN[:3]}")
    stream.write(f"{TOKEN[3:]} b\nc ")
    assert written.getvalue() == "a *** b\n"
    stream.write(TOKEN[:4])
    stream.flush()  # a partial line goes out when flushed
    assert written.getvalue() == f"a *** b\nc {TOKEN[:4]}"
