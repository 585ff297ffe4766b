"""The CLI as a user types it: global options anywhere, PSW_DB, --version, --help with examples."""

from __future__ import annotations

import pytest

from psw.cli import EXAMPLES, _subcommands, main, make_parser


def run(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_db_after_the_subcommand(pilot_db, capsys):
    rc, out, err = run(capsys, "sql", "--db", pilot_db, "select count(*) as n from template_pair_scores")
    assert rc == 0, err
    assert "16" in out
    rc, out, err = run(capsys, "sql", "select count(*) as n from template_pair_scores", "--db", pilot_db,
                       "--format", "csv")
    assert (rc, out.split()) == (0, ["n", "16"])


def test_db_after_build_is_psws_not_dbts(tmp_path, capsys):
    """`psw build --db W` selects W (here: not built yet) instead of passing --db on to dbt."""
    missing = tmp_path / "none.duckdb"
    rc, _, err = run(capsys, "build", "--db", missing, "--select", "marts")
    assert rc == 2 and f"{missing}: no warehouse here yet" in err and "No such option" not in err


def test_db_after_a_nested_subcommand(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    rc, _, err = run(capsys, "extract", "steer", "--cell", "c", "--layer", "1", "--db", missing)
    assert rc == 2 and str(missing) in err


def test_a_repeated_db_is_warned_about_and_the_last_one_wins(pilot_db, tmp_path, capsys):
    rc, out, err = run(capsys, "--db", tmp_path / "none.duckdb", "sql", "--db", pilot_db, "select 42 as x")
    assert rc == 0 and "42" in out, err
    assert err.splitlines() == [f"warning: --db given 2 times ({tmp_path / 'none.duckdb'}, {pilot_db}); "
                                f"using the last: {pilot_db}"]
    rc, out, err = run(capsys, "--db", pilot_db, "sql", f"--db={pilot_db}", "select 42 as x")
    assert rc == 0 and err == ""  # the same file twice is no ambiguity


def test_psw_db_selects_the_warehouse(pilot_db, monkeypatch, capsys):
    monkeypatch.setenv("PSW_DB", str(pilot_db))
    rc, out, err = run(capsys, "sql", "select count(*) as n from examples", "--format", "csv")
    assert (rc, out.split()) == (0, ["n", "64"]), err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith("psw 0.") and "duckdb" in out


def test_every_command_has_an_example_in_its_help(capsys):
    parser = make_parser()
    names = [name for name, _ in _subcommands(parser)]
    assert {"ingest", "build", "sql", "collect", "runs", "extract vectors", "extract steer", "docs",
            "dashboard", "export-hf", "import-hf"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit):
            main([*name.split(), "--help"])
        out = capsys.readouterr().out
        assert "example:" in out and f"  psw " in out and "--db PATH" in out, name
        assert EXAMPLES.get(name, "psw").split()[1] in out.split("example:")[1], name


def test_every_help_states_its_exit_codes(capsys):
    for name in ["", *(name for name, _ in _subcommands(make_parser()))]:
        with pytest.raises(SystemExit):
            main([*name.split(), "--help"])
        codes = capsys.readouterr().out.split("exit status:\n")[1]
        meaning = dict(line.split(None, 1) for line in codes.splitlines() if line.startswith("  "))
        assert {"0", "2", "130"} <= set(meaning), name
        assert len(codes.strip().splitlines()) == len(meaning), name  # nothing after the codes
    with pytest.raises(SystemExit):
        main(["lint", "--help"])
    assert "  1   findings" in capsys.readouterr().out


def test_top_level_help_lists_one_example_per_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    examples = [line.split() for line in out.split("examples (`psw COMMAND")[1].splitlines()[1:] if line.strip()]
    commands = {words[3] if words[1] == "--db" else words[1] for words in examples}
    assert commands >= {"ingest", "build", "sql", "collect", "runs", "extract", "dashboard", "docs", "export-hf"}
    assert "--version" in out


def test_one_parser_serves_commands_one_after_another(capsys, monkeypatch, tmp_path):
    """A resident server's children share the parser it built (cli.PARSER): what one parse leaves on it
    (argparse shares a default between parses) must not change the next command's arguments."""
    from psw import cli

    monkeypatch.setattr(cli, "PARSER", [make_parser()])
    parser = cli.PARSER[0]
    db = tmp_path / "w.duckdb"
    first = parser.parse_known_args(["--db", str(db), "build", "--", "--select", "x"])
    again = parser.parse_known_args(["--db", str(db), "build"])
    assert first[0].passthrough == [] and first[1] == ["--", "--select", "x"] and again[0].passthrough == []
    seen = []
    monkeypatch.setattr(parser, "parse_known_args", lambda argv: seen.append(argv) or make_parser().parse_known_args(argv))
    argv = ["--db", str(db), "sql", "select 42 as answer"]
    assert main(argv) == 2 and "no warehouse here yet" in capsys.readouterr().err
    assert seen == [argv]   # main() took the kept parser
