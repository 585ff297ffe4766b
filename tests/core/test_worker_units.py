"""`make test` sends the test files that share a costly session fixture to one xdist worker
(tests/conftest.py), so the fixture is made once per run; other files go one by one."""

from __future__ import annotations

from tests.conftest import ONE_WORKER_FIXTURES, ROOT, SECONDS_A_TEST, UNIT_SECONDS, unit_seconds, worker_unit


def test_files_sharing_a_costly_fixture_are_one_unit_and_others_their_own():
    screened = [f"tests/beyond/{name}.py" for name in ("test_screening", "test_selection", "test_layer_choice",
                                                          "test_steering_page")]
    assert {worker_unit(ROOT, file) for file in screened} == {"screened"}
    assert worker_unit(ROOT, "tests/hf/test_hf_export.py") == "pilot-export"
    assert worker_unit(ROOT, "tests/security/test_security_hf.py") == "pilot-library"
    assert worker_unit(ROOT, "tests/core/test_records.py") == "tests/core/test_records.py"
    assert worker_unit(ROOT, "tests/no_such_file.py") == "tests/no_such_file.py"


def test_the_costly_units_named_exist_and_are_given_out_first():
    """A unit renamed or removed would drop out of the order silently: each one named is a test
    file or a group of ONE_WORKER_FIXTURES."""
    groups = set(ONE_WORKER_FIXTURES.values())
    assert [u for u in UNIT_SECONDS if u not in groups and not (ROOT / "tests" / u).is_file()] == []
    ten_small_tests = {f"tests/core/test_x.py::t{i}": False for i in range(10)}
    assert unit_seconds("tests/core/test_anchored_incremental.py", {"one": False}) > \
        unit_seconds("tests/core/test_x.py", ten_small_tests) == 10 * SECONDS_A_TEST
