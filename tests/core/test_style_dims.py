"""Ingest checks and dbt read the same list of style dimensions."""

import yaml

from ingest.checks import STYLE_DIMS
from warehouse.db import DBT_DIR


def test_ingest_and_dbt_agree_on_style_dims():
    project = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["style_dims"] == STYLE_DIMS
