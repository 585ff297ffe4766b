"""dbt's Jinja templates compiled once and kept (warehouse/dbt_jinja.py): a kept template renders
as a freshly compiled one, under the environment it was compiled for, in this process and the
next; a text that does not compile is never kept; a file from another Python or Jinja is ignored."""

from __future__ import annotations

import marshal

import pytest
from dbt_common.clients import jinja as dbt_jinja_env

from tests.conftest import fresh_kept
from warehouse import dbt_jinja


@pytest.fixture
def kept(tmp_path, monkeypatch):
    return fresh_kept(dbt_jinja, tmp_path / "jinja-code.marshal", monkeypatch)


def _render(text: str, native: bool = False, **context):
    return dbt_jinja_env.get_template(text, {}, native=native).render(context)


def test_a_kept_template_renders_as_a_fresh_one(kept):
    text = "{% set twice = 2 %}{% for i in items %}{{ i * twice }}-{% endfor %}"
    assert _render(text, items=[1, 2]) == "2-4-"
    assert dbt_jinja._state["new"] == 1
    assert _render(text, items=["a"]) == "aa-"     # the kept code, its own context
    assert dbt_jinja._state["new"] == 1


def test_the_next_process_compiles_nothing_it_finds_kept(kept, monkeypatch):
    texts = ["{{ x | upper }}", "select {{ n + 1 }} as n"]
    first = [_render(texts[0], x="a"), _render(texts[1], n=1)]
    dbt_jinja.save()
    assert kept.is_file() and dbt_jinja._state["new"] == 0
    fresh_kept(dbt_jinja, kept, monkeypatch)           # a new process
    assert [_render(texts[0], x="a"), _render(texts[1], n=1)] == first == ["A", "select 2 as n"]
    assert dbt_jinja._state["new"] == 0
    dbt_jinja.save()                                  # nothing new: the file is not rewritten
    assert len(marshal.loads(kept.read_bytes())[1]) == 2


def _shape(code) -> tuple:
    """A code object as the interpreter runs it: its bytecode, names and constants, nested ones too."""
    return (code.co_code, code.co_names, code.co_varnames,
            tuple(_shape(c) if hasattr(c, "co_code") else c for c in code.co_consts))


@pytest.mark.parametrize("text", ["{{ [a, 1] }}", "select {{ x }} from {% if y %}t{% else %}u{% endif %}"])
def test_each_environment_gets_the_code_jinja_makes_for_it(kept, text):
    # dbt's native environment generates other code from the same text than its text environment
    made = {}
    for native in (False, True):
        env = dbt_jinja_env.get_environment(native=native)
        made[native] = (env.compile(text), compile(env.compile(text, raw=True), "<template>", "exec"))
    assert len(dbt_jinja._kept) == 2
    for kept_code, fresh in made.values():
        assert _shape(kept_code) == _shape(fresh)
    assert _shape(made[False][0]) != _shape(made[True][0])


def test_a_text_that_does_not_compile_is_never_kept(kept):
    for _ in range(2):
        with pytest.raises(dbt_jinja_env.CompilationError, match="unexpected"):
            _render("{{ x ) }}")
    assert dbt_jinja._state["new"] == 0 and dbt_jinja._kept == {}


@pytest.mark.parametrize("content", [b"not marshal", None])
def test_a_file_from_elsewhere_is_ignored(kept, content):
    if content is None:   # another Python or Jinja wrote it: its code objects are not used
        stale = dbt_jinja._header().replace("3.", "2.", 1)
        content = marshal.dumps((stale, [(("x",), compile("1", "<t>", "exec"))]))
    kept.write_bytes(content)
    assert _render("{{ 'ok' }}") == "ok"
    assert dbt_jinja._state["new"] == 1


def test_a_text_already_parsed_is_compiled_as_jinja_does(kept):
    # jinja compiles an AST, or to Python source (raw), without the memo
    env = dbt_jinja_env.get_environment()
    assert "def root" in env.compile("{{ a }}", raw=True)
    assert isinstance(env.compile(env.parse("{{ a }}")), type(compile("1", "<t>", "exec")))
    assert dbt_jinja._kept == {}


def test_a_server_takes_in_what_its_commands_compiled_since_it_read_the_file(kept, monkeypatch):
    """psw's resident server reads the file once, before its first command (a fresh checkout has none);
    each command runs in a fork that compiles and saves. Before the next fork the server reads the file
    again (refresh), so that command compiles nothing; an unchanged file is not read again."""
    dbt_jinja._load_once()                                    # the server's preload: no file yet
    servers_memory = dict(dbt_jinja._kept)
    assert _render("{{ y * 3 }}", y=2) == "6" and dbt_jinja._state["new"] == 1   # a command's child
    dbt_jinja.save()
    monkeypatch.setattr(dbt_jinja, "_kept", servers_memory)    # the server's memory lacks the child's compile
    dbt_jinja.refresh()
    assert _render("{{ y * 3 }}", y=1) == "3" and dbt_jinja._state["new"] == 0   # read, not compiled
    monkeypatch.setattr(dbt_jinja, "_read", lambda: pytest.fail("an unchanged file was read again"))
    dbt_jinja.refresh()
