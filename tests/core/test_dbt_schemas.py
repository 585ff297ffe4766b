"""dbt's JSON schemas kept across processes (warehouse/dbt_schemas.py): a kept schema is the one dbt
builds, the next process takes it from the file without building, validation accepts and refuses what
it did, and a file from another Python or dbt is ignored."""

from __future__ import annotations

import json

import pytest
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.contracts.project import Project, ProjectFlags
from dbt_common.dataclass_schema import ValidationError, build_json_schema

from tests.conftest import fresh_kept
from warehouse import dbt_schemas

CLASSES = [DuckDBCredentials, ProjectFlags, Project]


@pytest.fixture
def kept(tmp_path, monkeypatch):
    return fresh_kept(dbt_schemas, tmp_path / "json-schemas.json", monkeypatch)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_a_kept_schema_is_the_one_dbt_builds(kept, monkeypatch, cls):
    built = build_json_schema(cls).to_dict()   # what dbt's own json_schema returns
    assert cls.json_schema() == built
    dbt_schemas.save()
    fresh_kept(dbt_schemas, kept, monkeypatch)   # a new process
    assert cls.json_schema() == built and dbt_schemas._state["new"] == 0   # read, not built
    assert json.loads(kept.read_text())["schemas"][f"{cls.__module__}.{cls.__qualname__}"] == built


def test_validation_from_a_kept_schema_accepts_and_refuses_as_dbts(kept, monkeypatch):
    good = {"type": "duckdb", "path": "w.duckdb", "schema": "main", "database": "w", "extensions": ["json"]}
    bad = {**good, "extensions": "two"}
    DuckDBCredentials.validate(good)
    dbt_schemas.save()
    fresh_kept(dbt_schemas, kept, monkeypatch)   # a new process
    DuckDBCredentials.validate(good)
    with pytest.raises(ValidationError, match="two"):
        DuckDBCredentials.validate(bad)
    assert dbt_schemas._state["new"] == 0


@pytest.mark.parametrize("content", ["not json", None])
def test_a_file_from_elsewhere_is_ignored(kept, content):
    if content is None:   # another dbt wrote it: its schemas are not used
        content = json.dumps({"header": [dbt_schemas.FORMAT, "another python"],
                              "schemas": {"dbt.contracts.project.ProjectFlags": {"type": "string"}}})
    kept.write_text(content)
    assert ProjectFlags.json_schema() == build_json_schema(ProjectFlags).to_dict()
    assert dbt_schemas._state["new"] == 1


def test_a_server_takes_in_the_schemas_its_commands_built_since_it_read_the_file(kept, monkeypatch):
    """As warehouse/dbt_jinja.py's refresh: a schema a command's child built and saved is read by the
    server before its next fork; an unchanged file is not read again."""
    dbt_schemas._load_once()                                  # the server's preload: no file yet
    built = ProjectFlags.json_schema()                         # a command's child builds and saves it
    dbt_schemas.save()
    monkeypatch.setattr(dbt_schemas, "_kept", {})              # the server's memory lacks it
    dbt_schemas.refresh()
    assert ProjectFlags.json_schema() == built and dbt_schemas._state["new"] == 0   # read, not built
    monkeypatch.setattr(dbt_schemas, "_read", lambda: pytest.fail("an unchanged file was read again"))
    dbt_schemas.refresh()
