# The README's commands. `make demo` and `make test` each set up the environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= data/warehouse.duckdb
# the synthetic demo gets its own warehouse, so it never mixes with real measurements
DEMO_DB ?= data/demo.duckdb
DEMO := data/demo
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: setup demo test bench bench-collect bench-extract bench-dashboard dashboard docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: this machine carries the CPU wheel; an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# dbt's caches for this checkout's project (its parse, compiled Jinja, the record of the models that
# read only empty tables: psw/warm.py), made again when a file under dbt/ changes, so that a
# first `psw build` runs as a later one does (a pilot's: ~10 s -> ~2.5 s)
DBT_FILES := $(shell find dbt -type f -not -path 'dbt/target/*' -not -path 'dbt/logs/*' 2>/dev/null)

$(BIN)/.warmed: $(BIN)/.installed $(DBT_FILES)
	$(BIN)/python -m psw.warm
	touch $@

setup: $(BIN)/.installed $(BIN)/.warmed

demo: setup
	$(BIN)/psw --db $(DEMO_DB) ingest $(DEMO)/persona_pairs.jsonl $(DEMO)/templates.txt $(DEMO)/scenarios.jsonl $(DEMO)/demo_run_artifact.json
	$(BIN)/psw --db $(DEMO_DB) build --quiet
	$(BIN)/psw --db $(DEMO_DB) sql "select score, score_se, template_text, persona_pair_id, n, n_errors, \
		round(strict_pass_rate, 2) as pass_rate, \
		round(mean_axis_delta, 2) as axis, round(mean_off_axis_problem, 2) as off_axis, \
		round(mean_max_style_abs_delta, 2) as style, persona_echo_rate as echo, refusal_or_ai_break_rate as refusal, \
		round(mean_abs_word_delta_frac, 2) as abs_len, recommended \
		from template_pair_scores order by score desc nulls last limit 10"
	@echo "DEMO (synthetic data) in $(DEMO_DB); browse it: $(BIN)/psw --db $(DEMO_DB) dashboard"

test: setup
	$(BIN)/python -m pytest -q tests -n auto --dist loadfile   # one worker per core; a file's tests stay on one worker, and so do files sharing a costly fixture (tests/conftest.py)

bench: setup
	$(BIN)/python bench/bench_warehouse.py

bench-collect: setup
	$(BIN)/python bench/bench_collect.py

bench-extract: setup
	$(BIN)/python bench/bench_extract.py

bench-dashboard: setup
	$(BIN)/python bench/bench_dashboard.py

dashboard: setup
	$(BIN)/psw --db $(DB) dashboard

docs: setup
	$(BIN)/psw --db $(DB) docs

clean:
	rm -rf $(VENV) $(DB) $(DEMO_DB) data/.warehouse.duckdb.dbt data/.demo.duckdb.dbt
