"""`make test` sends the test files that share a costly session fixture to one xdist worker
(tests/conftest.py), so the fixture is made once per run; other files go one by one."""

from __future__ import annotations

from tests.conftest import ROOT, worker_unit


def test_files_sharing_a_costly_fixture_are_one_unit_and_others_their_own():
    screened = [f"tests/beyond/{name}.py" for name in ("test_screening", "test_selection", "test_layer_choice",
                                                          "test_steering_page")]
    assert {worker_unit(ROOT, file) for file in screened} == {"screened"}
    assert worker_unit(ROOT, "tests/hf/test_hf_export.py") == "pilot-export"
    assert worker_unit(ROOT, "tests/security/test_security_hf.py") == "pilot-library"
    assert worker_unit(ROOT, "tests/core/test_records.py") == "tests/core/test_records.py"
    assert worker_unit(ROOT, "tests/no_such_file.py") == "tests/no_such_file.py"
