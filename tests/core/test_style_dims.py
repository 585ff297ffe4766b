"""Ingest checks and dbt read the same judge panels: the seed table, never a second list."""

import yaml

from ingest.checks import OFF_AXIS_CATEGORIES, STYLE_DIMS
from warehouse.db import DBT_DIR
from warehouse.judge_schema import panel


def test_ingest_reads_the_panels_from_the_seed_and_dbt_has_no_copy():
    assert STYLE_DIMS == list(panel("style")) and len(STYLE_DIMS) == 20
    assert OFF_AXIS_CATEGORIES == list(panel("off_axis")) and len(OFF_AXIS_CATEGORIES) == 21
    project = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())
    assert not {"style_dims", "off_axis_categories"} & set(project["vars"])
