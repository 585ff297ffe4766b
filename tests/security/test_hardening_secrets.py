"""Issue 23, items 1, 3 and 11 (non-ASCII key): a key of any length, echoed in any case, with
spaces, URL- or base64-encoded, is never stored; credentials in --base-url are sent as headers and
never stored; a key HTTP cannot carry is one line before anything is written."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pyarrow.parquet as pq
import pytest

from collect_helpers import KEY_ENV, collect_args, write_candidates
from fakeserver import FakeLLM, FakeServer
from security_helpers import every_text, one_line_error, rows
from tests.conftest import Psw
from warehouse import secrets


def variants(key: str) -> list[str]:
    """How a careless or hostile server may echo a key: as it is, in another case (any key), spaced
    out (a key of 8 characters or more: a shorter one, spaced out, would also take ordinary words),
    URL- and base64-encoded."""
    spaced = [" ".join(key[i:i + 3] for i in range(0, len(key), 3))] if len(key) >= 8 else []
    return [key, key.lower(), key.upper(), key.swapcase(), *spaced, urllib.parse.quote(key, safe=""),
            base64.b64encode(key.encode()).decode(),
            base64.b64encode(f"user:{key}".encode()).decode(), base64.urlsafe_b64encode(f"xy{key}".encode()).decode()]


def leaked(key: str, text: str) -> list[str]:
    return [v for v in variants(key) if v in text or v.rstrip("=") in text or (v == key and key.lower() in text.lower())]


class EchoEveryForm(FakeLLM):
    """Answers with the key it was sent, in every form at once: content, body and error text."""

    def handle(self, body, auth):
        status, headers, payload, delay = super().handle(body, auth)
        data = json.loads(payload)
        key = (auth or "").split(" ", 1)[-1]
        if auth and auth.startswith("Basic "):
            key = base64.b64decode(key).decode().split(":", 1)[1]
        echo = " | ".join(variants(key))
        if status == 200:
            data["choices"][0]["message"]["content"] = f"(echo {echo}) " + data["choices"][0]["message"]["content"]
        data["echo"] = echo
        return status, headers, json.dumps(data).encode(), delay


@pytest.fixture
def echo():
    server = FakeServer(EchoEveryForm()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def forget_keys(monkeypatch):
    """Each test registers its own keys only."""
    monkeypatch.setattr(secrets, "_registered", set())
    monkeypatch.setattr(secrets, "_patterns", {})


@pytest.mark.parametrize("key", ["k7Q2x9a", "Ab3+x/Z", "sk-or-v1-0123456789abcdefABCDEF"])
def test_redact_removes_every_form_of_a_key_at_any_length(key):
    secrets.register(key)
    for text in variants(key):
        redacted = secrets.redact(f"before {text} after")
        assert not leaked(key, redacted), (text, redacted)
        assert redacted.startswith("before ") and redacted.endswith(" after")
    assert secrets.redact("plain words stay as they are") == "plain words stay as they are"


@pytest.mark.parametrize("key", ["a", "Q7", "k7Q2x9a"])
def test_a_short_key_is_redacted_in_any_case_but_not_spaced_out(key):
    secrets.register(key)
    assert secrets.redact(f"{key.upper()} {key.lower()} {key}.") == "*** *** ***."
    spaced = " ".join(key)
    assert secrets.redact(f"<{spaced}>") == (f"<{spaced}>" if len(key) > 1 else "<***>")


def test_a_long_key_is_redacted_spaced_out_in_any_case():
    key = "sk-or-v1-0123456789abcdefABCDEF"
    secrets.register(key)
    for text in (" ".join(key), "  ".join(key[i:i + 4] for i in range(0, len(key), 4)).lower(), key.swapcase()):
        assert secrets.redact(f"[{text}]") == "[***]", text


def test_export_scan_finds_every_form_of_a_registered_key():
    key = "Zx81qWerty0Pl"
    secrets.register(key)
    for text in variants(key):
        assert secrets.find_secret(f"xx {text} yy") == "an API key in use", text


@pytest.mark.parametrize("key", ["k7Q2x9a", "Zx81qWerty0Pl4", "sk-or-v1-0123456789abcdefABCDEF"])
def test_a_key_echoed_in_every_form_is_stored_and_exported_nowhere(echo, tmp_path, capsys, monkeypatch, key):
    """Every form of the key (any case; spaced out when 8 characters or more; URL- and base64-encoded)
    reaches the server's replies; none reaches raw.pairs, raw.api_calls, any model or the export."""
    monkeypatch.setenv(KEY_ENV, key)
    db = tmp_path / "w.duckdb"
    psw = Psw(db, capsys)
    files = write_candidates(tmp_path / "in", n_templates=1, n_pairs=1, n_scenarios=1)
    rc, out, err = psw(*collect_args(db, echo.base_url, files)[2:])
    assert rc == 0, err
    assert echo.llm.auth_headers == {f"Bearer {key}"}
    short = f"is {len(key)} characters long (under 16)"
    assert (short in err) == (len(key) < 16), err
    assert not leaked(key, out + err)
    assert rows(db, "select count(*) from raw.pairs where pos_response like '%(echo ***%'")[0][0] == 1
    for table in ("raw.pairs", "raw.api_calls"):
        text = "\n".join(map(repr, rows(db, f"select * from {table}")))
        assert "(echo ***" in text or table == "raw.api_calls", table
        assert not leaked(key, text), table
    assert psw("build")[0] == 0
    assert not leaked(key, every_text(db))
    monkeypatch.delenv(KEY_ENV)
    rc, out, err = psw("export-hf", "--out", tmp_path / "library")
    assert rc == 0, err
    published = "".join(p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "library").rglob("*")
                        if p.is_file() and p.suffix != ".parquet")
    for path in (tmp_path / "library").rglob("*.parquet"):
        published += repr(pq.read_table(path).to_pylist())
    assert not leaked(key, published)


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_credentials_in_the_base_url_are_sent_as_headers_and_never_stored(echo, tmp_path, capsys, monkeypatch,
                                                                           form):
    password = "pw-0123456789abcdefXYZ"
    monkeypatch.delenv(KEY_ENV, raising=False)
    host = echo.base_url.split("://", 1)[1]
    base_url = f"http://alice:{password}@{host}" if form == "userinfo" else f"{echo.base_url}?api_key={password}"
    db = tmp_path / "w.duckdb"
    files = write_candidates(tmp_path / "in", n_templates=1, n_pairs=1, n_scenarios=1)
    rc, out, err = Psw(db, capsys)(*collect_args(db, base_url, files)[2:])
    assert rc == 0, err
    sent = {"userinfo": "Basic " + base64.b64encode(f"alice:{password}".encode()).decode(),
            "query": f"Bearer {password}"}[form]
    assert echo.llm.auth_headers == {sent}
    stored = every_text(db)
    assert password not in stored and "api_key=" not in stored and "alice:" not in stored
    assert not leaked(password, stored + out + err)
    assert {r[0] for r in rows(db, "select distinct base_url from raw.api_calls")} == {echo.base_url}


def test_a_non_ascii_key_is_one_line_and_nothing_is_written(echo, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-or-v1-0123456789\u2019abcdef")     # a pasted curly quote
    db = tmp_path / "w.duckdb"
    files = write_candidates(tmp_path / "in", n_templates=1, n_pairs=1, n_scenarios=1)
    rc, _, err = Psw(db, capsys)(*collect_args(db, echo.base_url, files)[2:])
    one_line_error(rc, err, f"${KEY_ENV}", "not printable ASCII", "RIGHT SINGLE QUOTATION MARK")
    assert echo.llm.requests == 0 and not db.exists()
