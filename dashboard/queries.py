"""Every query the dashboard runs. Marts only, no derivation here: SQL in, DataFrame out.

Each query attaches the warehouse read-only, runs and detaches it, so `psw ingest` and
`psw build` can take the write lock while the dashboard is open. Results are cached with
`st.cache_data` keyed on the DB file's modification time and size, so a rebuild shows up
on the next refresh. While a build holds the lock, the last result of the same query is
served (with a toast), as it is while dbt swaps a mart in; with none to serve,
`WarehouseBusy` says to refresh in a moment.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from warehouse.db import (UserError, WarehouseLocked, check_read_only, connect_user_sql, db_path,
                          describe_sql_error, sql_max_rows, sql_timeout_s, time_limit)
from warehouse.labels import TEMPLATE_LABEL_SQL

CACHE = True  # the benchmark turns this off to time the queries themselves
LOCK_RETRIES = 5
LAST_GOOD_MAX = 128
_last_good: OrderedDict = OrderedDict()

FACTORS = [  # (column, label): the six factors whose product x 100 is the score
    ("factor_strict_pass", "strict pass rate"),
    ("factor_axis", "axis: mean delta / 8"),
    ("factor_off_axis", "off-axis: (7 - mean) / 6"),
    ("factor_style", "style: (6 - mean max) / 6"),
    ("factor_echo", "1 - persona echo rate"),
    ("factor_refusal", "1 - refusal rate"),
]
ACTIVATION_MARTS = ["activation_cell_stats", "steering_summary", "trait_geometry", "imported_vectors",
                    "layer_choice"]


class WarehouseBusy(Exception):
    """The warehouse is locked by a writer (a build) and there is no earlier result to show."""


def db_file() -> Path:
    """The warehouse: PSW_DB (set by `psw dashboard --db`) or data/warehouse.duckdb."""
    return db_path(None)


def db_version(path: Path) -> tuple:
    """Changes whenever a writer touches the file: the cache key for every query."""
    stats = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            st_ = file.stat()
            stats.append((st_.st_mtime_ns, st_.st_size))
        except FileNotFoundError:
            stats.append(None)
    return tuple(stats)


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text


_host: duckdb.DuckDBPyConnection | None = None
_host_lock = threading.Lock()


def _host_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process; the warehouse is attached to it per query.

    Attaching a file to a running instance costs a few ms, where opening a new instance
    costs 25-50 ms, and the file lock is held only while the query runs, as before.
    """
    global _host
    if _host is None:
        _host = duckdb.connect(":memory:")
    return _host


def _fetch(path: str, sql: str, params: tuple) -> pd.DataFrame:
    for attempt in range(LOCK_RETRIES):
        with _host_lock:  # one query at a time: sessions share the host instance
            con = _host_connection()
            try:
                con.execute(f"attach '{path.replace(chr(39), chr(39) * 2)}' as warehouse (read_only)")
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise
            else:
                try:
                    con.execute("use warehouse")
                    return con.execute(sql, list(params)).df()
                finally:
                    con.execute("use memory")
                    con.execute("detach warehouse")
        time.sleep(0.1 * (attempt + 1))
    raise WarehouseBusy("the warehouse is being written (a build or an ingest is running); refresh in a moment")


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(path: str, version: tuple, sql: str, params: tuple) -> pd.DataFrame:
    return _fetch(path, sql, params)


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    return _served(_cached, _fetch, sql, params)


def _served(cached, fetch, sql: str, *args) -> pd.DataFrame:
    """`fetch(path, sql, *args)`, through `cached` (keyed on the file's version) unless CACHE is off;
    while a writer holds the lock, the last result of the same query, if there is one."""
    path = db_file()
    key = (str(path), fetch.__name__, sql, repr(args))
    try:
        if CACHE:
            df = cached(str(path), db_version(path), sql, *args)
        else:
            df = fetch(str(path), sql, *args)
    except (WarehouseBusy, duckdb.CatalogException):
        # locked, or a mart is between dbt's drop and rename: show the last result if there is one
        if key not in _last_good:
            raise
        st.toast("The warehouse is being rebuilt: showing the last results. Refresh when it is done.")
        return _last_good[key]
    _last_good[key] = df
    _last_good.move_to_end(key)
    while len(_last_good) > LAST_GOOD_MAX:
        _last_good.popitem(last=False)
    return df


# ---- the warehouse itself ------------------------------------------------------------

def warehouse_state() -> str:
    """'missing' (no file), 'unbuilt' (no marts), 'empty' (no cells) or 'ok'."""
    path = db_file()
    if not path.exists():
        return "missing"
    try:
        n = query("select count(*) as n from template_pair_scores")["n"].iloc[0]
    except duckdb.CatalogException:
        return "unbuilt"
    return "ok" if n else "empty"


def existing_marts() -> list[str]:
    df = query("select table_name from duckdb_tables() where schema_name = 'main'")
    return sorted(df["table_name"])


def column_descriptions(table: str) -> dict[str, str]:
    """A mart's column descriptions, stored by `psw build` as DuckDB comments (dbt persist_docs)."""
    df = query("select column_name, comment from duckdb_columns() where database_name = current_database() "
               "and schema_name = 'main' and table_name = ? and comment is not null", (table,))
    return dict(zip(df["column_name"], df["comment"]))


# ---- cells ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CellFilters:
    measurements: tuple[str, ...] = ()
    generators: tuple[str, ...] = ()
    judges: tuple[str, ...] = ()
    template: str = ""  # substring of the template text, case-insensitive
    persona_pairs: tuple[str, ...] = ()
    min_n: int = 0
    recommended_only: bool = False
    score_min: float = 0.0
    score_max: float = 100.0

    def where(self) -> tuple[str, tuple]:
        clauses, params = ["true"], []
        for column, values in [("measurement_id", self.measurements), ("generator_model", self.generators),
                               ("judge_model", self.judges), ("persona_pair_id", self.persona_pairs)]:
            if values:
                clauses.append(f"list_contains(?::varchar[], {column})")
                params.append(list(values))
        if self.template:
            clauses.append("contains(lower(template_text), lower(?))")
            params.append(self.template)
        if self.min_n:
            clauses.append("n >= ?")
            params.append(int(self.min_n))
        if self.recommended_only:   # the confident rule: upstream's point rule and the lower bound clears it
            clauses.append("recommended_confident")
        if self.score_min > 0 or self.score_max < 100:
            clauses.append("score between ? and ?")
            params += [float(self.score_min), float(self.score_max)]
        return " and ".join(clauses), tuple(params)


def filter_options() -> dict[str, list[str]]:
    row = query("""
        select
            list(distinct measurement_id order by measurement_id) as measurements,
            list(distinct generator_model order by generator_model) filter (where generator_model is not null)
                as generators,
            list(distinct judge_model order by judge_model) filter (where judge_model is not null) as judges,
            list(distinct persona_pair_id order by persona_pair_id) as persona_pairs,
        from template_pair_scores""").iloc[0]
    return {name: [] if values is None or values is pd.NA else list(values) for name, values in row.items()}


# what a cell's row shows: not the style map (its own chart) nor the build's bookkeeping (the versions
# macros/incremental.sql stores to know what to recompute)
CELL_HIDDEN = "exclude (style_delta_means, measurement_version, context_version)"


def cell_columns() -> list[str]:
    return list(query(f"select * {CELL_HIDDEN} from template_pair_scores limit 0").columns)


FACTOR_LIST = "[" + ", ".join(column for column, _ in FACTORS) + "]"


def cells(filters: CellFilters, sort: str = "score", descending: bool = True, limit: int = 1000) -> pd.DataFrame:
    """The Cells page: filtered template_pair_scores, every column but the style map, and
    `factors`, the six score factors as one list (drawn as a bar chart per row)."""
    if sort not in cell_columns():
        raise UserError(f"unknown sort column {sort!r}")
    where, params = filters.where()
    order = f'"{sort}" {"desc" if descending else "asc"} nulls last, cell_id'
    # the limit is a literal (an int) so DuckDB plans a top-n rather than a full sort
    return query(f"select * {CELL_HIDDEN}, {FACTOR_LIST} as factors from template_pair_scores "
                 f"where {where} order by {order} limit {int(limit)}", params)


def count_cells(filters: CellFilters) -> int:
    where, params = filters.where()
    return int(query(f"select count(*) as n from template_pair_scores where {where}", params)["n"].iloc[0])


def score_grid(filters: CellFilters, measurement: str, max_side: int = 40) -> pd.DataFrame:
    """One measurement's scores for the heatmap: the `max_side` best templates x best persona pairs."""
    where, params = filters.where()
    return query(f"""
        with cells as (
            select cell_id, template_text, persona_pair_id, score, n, recommended from template_pair_scores
            where {where} and measurement_id = ?
        ),
        templates as (
            select template_text from cells group by 1 order by max(score) desc nulls last, 1 limit {int(max_side)}
        ),
        pairs as (
            select persona_pair_id from cells group by 1 order by max(score) desc nulls last, 1 limit {int(max_side)}
        )
        select * from cells semi join templates using (template_text) semi join pairs using (persona_pair_id)
        order by template_text, persona_pair_id""", (*params, measurement))


def on_off_axis(filters: CellFilters) -> pd.DataFrame:
    where, params = filters.where()
    return query(f"""
        select cell_id, template_text, persona_pair_id, measurement_id, score, n, recommended,
            mean_axis_delta, mean_off_axis_problem,
        from template_pair_scores
        where {where} and mean_axis_delta is not null and mean_off_axis_problem is not null
        order by score desc nulls last, cell_id""", params)


# ---- one cell ------------------------------------------------------------------------

def cell_summary(cell_id: str) -> pd.DataFrame:
    return query(f"select * {CELL_HIDDEN} from template_pair_scores where cell_id = ?", (cell_id,))


def cell_factors(cell_id: str) -> pd.DataFrame:
    structs = ", ".join(f"{{'factor': '{label}', 'value': {column}}}" for column, label in FACTORS)
    return query(f"select unnest([{structs}], recursive := true) from template_pair_scores where cell_id = ?",
                 (cell_id,))


def cell_pairs(cell_id: str, limit: int = 20, offset: int = 0) -> pd.DataFrame:
    """The cell's pairs with completions, per-pair metrics and the pair-grain length delta."""
    return query("""
        select
            examples.pair_id, examples.scenario_id, examples.sample_idx, examples.scenario_text,
            examples.pos_persona, examples.neg_persona, examples.pos_response, examples.neg_response,
            examples.is_error, examples.error, examples.partial_judge_error, examples.metrics_origin,
            examples.axis_delta, examples.positive_delta, examples.negative_delta, examples.off_axis_problem,
            examples.max_style_abs_delta, examples.likely_spurious_axis,
            examples.pos_words, examples.neg_words, lengths.word_delta, examples.word_delta_frac,
            examples.has_persona_echo, examples.has_refusal_or_ai_break, examples.is_strict_pass,
            examples.is_usable_for_training,
            -- the anchored protocol: the baseline answer and each side's movement against it
            examples.protocol, examples.base_response, examples.delta_pos_vs_base, examples.delta_base_vs_neg,
            examples.min_side_delta, examples.off_axis_problem_likert_gate, examples.judge_did_not_commit,
            examples.overall_score,
        from examples
        left join length_deltas as lengths
            on lengths.grain = 'pair' and lengths.pair_id = examples.pair_id
        where examples.cell_id = ?
        order by examples.is_error, examples.scenario_id, examples.sample_idx, examples.pair_id
        limit ? offset ?""", (cell_id, int(limit), int(offset)))


def cell_style_deltas(cell_id: str) -> pd.DataFrame:
    return query("""
        select pair_id, unnest(map_keys(style_deltas)) as dimension, unnest(map_values(style_deltas)) as delta,
        from examples where cell_id = ? and style_deltas is not null""", (cell_id,))


def cell_ratings(cell_id: str) -> pd.DataFrame:
    return query("""
        with ratings as (
            select pair_id, unnest(ratings) as rating from examples where cell_id = ?
        )
        select
            pair_id, rating.judge_model, rating.criterion, rating.pos_label,
            coalesce(json_extract_string(rating.output, '$.target_reason'),
                     json_extract_string(rating.output, '$.style_reason'),
                     json_extract_string(rating.output, '$.confound_reason')) as reason,
            rating.output, rating.raw_text, rating.error,
        from ratings
        order by pair_id, rating.judge_model, rating.criterion""", (cell_id,))


def cell_choices(limit: int = 500) -> pd.DataFrame:
    return query("select cell_id, score, template_text, persona_pair_id from template_pair_scores "
                 "order by score desc nulls last, cell_id limit ?", (int(limit),))


# ---- templates and persona pairs -----------------------------------------------------

def templates() -> pd.DataFrame:
    # each protocol's own score: the guide's mean cell score, the anchored mean overall score
    return query("select * from template_scores "
                 "order by mean_score desc nulls last, mean_overall_score desc nulls last, template_id")


def persona_pairs() -> pd.DataFrame:
    return query("select * from persona_pair_review order by best_score desc nulls last, persona_pair_id")


# ---- steering ------------------------------------------------------------------------

def activation_row_counts() -> dict[str, int]:
    """Rows in each activation mart that exists (absent marts are left out)."""
    present = [m for m in ACTIVATION_MARTS if m in existing_marts()]
    if not present:
        return {}
    sql = " union all ".join(f"select '{m}' as mart, count(*) as n from {m}" for m in present)
    return dict(zip(*query(sql).to_dict("list").values()))


def steering_cells(marts: tuple[str, ...] = ("steering_summary",)) -> pd.DataFrame:
    """Cells with rows in any of `marts` (activation marts that exist), best score first."""
    union = " union ".join(f"select cell_id from {mart}" for mart in marts if mart in ACTIVATION_MARTS)
    return query(f"""
        select steering.cell_id, any_value(cells.template_text) as template_text,
            any_value(cells.persona_pair_id) as persona_pair_id, any_value(cells.score) as score,
        from ({union}) as steering
        left join template_pair_scores as cells using (cell_id)
        group by steering.cell_id
        order by score desc nulls last, steering.cell_id""")


def layer_choice(cell_id: str | None = None) -> pd.DataFrame:
    """Per layer of the cell's newest extraction run (response-mean vectors): separation, consistency,
    steering effect, and the recommended layer with its reason; every cell's recommended row when
    cell_id is None."""
    return query("""
        with newest as (
            select * from layer_choice
            where reduction = 'response_mean' and (?::varchar is null or cell_id = ?)
            qualify dense_rank() over (partition by cell_id order by created_at desc, run_id desc) = 1
        )
        select newest.cell_id, cells.template_text, cells.persona_pair_id, cells.score, newest.layer,
            newest.is_recommended, newest.recommendation_reason, newest.auroc, newest.d_prime,
            newest.direction_consistency, newest.agreement_rate, newest.n_labelled_pairs, newest.n_flagged,
            newest.trait_per_coef_rel_norm, newest.trait_per_coef_rel_norm_ci_low,
            newest.trait_per_coef_rel_norm_ci_high, newest.steering_positions, newest.model_id,
        from newest
        left join template_pair_scores as cells using (cell_id)
        where ?::varchar is not null or newest.is_recommended
        order by cells.score desc nulls last, newest.cell_id, newest.layer""", (cell_id, cell_id, cell_id))


def dose_response(cell_id: str) -> pd.DataFrame:
    return query("""
        select layer, positions, coeff, n_generations, mean_trait_score, mean_coherence_score,
            mean_projection, std_projection, mean_words,
        from steering_summary where cell_id = ?
        order by layer, positions, coeff""", (cell_id,))


def projection_distribution(cell_id: str) -> pd.DataFrame:
    """Every projection on the cell's vectors, labelled by condition (and coefficient when steered)."""
    return query("""
        select layer, condition, coeff, positions, reduction, projection,
            condition || coalesce(' ' || printf('%+g', coeff), '') || coalesce(' ' || positions, '')
                || ' (' || reduction || ')' as label,
        from projection_distribution where cell_id = ?
        order by layer, condition, coeff""", (cell_id,))


def geometry(layer: int | None = None) -> pd.DataFrame:
    """Cosines at one layer. Cells are labelled `persona pair · template` (else by id); an imported
    vector is named `trait:<name>` (and its reduction when known)."""
    df = query("""
        select geometry.layer, geometry.reduction, geometry.cell_id_a, geometry.cell_id_b, geometry.cosine,
            geometry.cosine_ci_low, geometry.cosine_ci_high,
            coalesce(a.is_control, false) or coalesce(b.is_control, false) as involves_control,
            coalesce(a.persona_pair_id || ' · ' || a.template_text, geometry.label_a, geometry.cell_id_a)
                || case when geometry.vector_kind_a = 'imported' and geometry.reduction <> 'unspecified'
                   then ' (' || geometry.reduction || ')' else '' end as label_a,
            coalesce(b.persona_pair_id || ' · ' || b.template_text, geometry.label_b, geometry.cell_id_b)
                || case when geometry.vector_kind_b = 'imported' and geometry.reduction_b <> 'unspecified'
                   then ' (' || geometry.reduction_b || ')' else '' end as label_b,
        from trait_geometry as geometry
        left join template_pair_scores as a on a.cell_id = geometry.cell_id_a
        left join template_pair_scores as b on b.cell_id = geometry.cell_id_b
        where ?::integer is null or geometry.layer = ?
        order by geometry.layer, geometry.reduction, label_a, label_b""", (layer, layer))
    return unique_labels(unique_labels(df, "cell_id_a", "label_a"), "cell_id_b", "label_b")


def unique_labels(df: pd.DataFrame, id_column: str, label_column: str) -> pd.DataFrame:
    """Cells sharing a label (two measurements) get their id's end appended: never drawn as one."""
    ids_per_label = df.groupby(label_column)[id_column].transform("nunique")
    df = df.copy()
    ids = df[id_column].fillna("")
    df[label_column] = df[label_column].where(ids_per_label <= 1, df[label_column] + " · " + ids.str[-6:])
    return df


def imported_vectors() -> pd.DataFrame:
    """Vectors imported from other tools: one row per trait, model, reduction and file."""
    return query("""
        select trait, model_id, reduction, source_format, min(layer) as first_layer, max(layer) as last_layer,
            count(*) as n_layers, any_value(layer_offset) as layer_offset, any_value(layer_convention) as convention,
            sum(n_steering_generations) as n_steering_generations, sum(n_projections) as n_projections,
            source_path, any_value(file_sha256) as file_sha256,
        from imported_vectors
        group by trait, model_id, reduction, source_format, source_path
        order by trait, model_id, reduction, source_path""")


def geometry_interval_layers() -> list[int]:
    return [int(x) for x in query("select distinct layer from trait_geometry where cosine_ci_low is not null "
                                  "order by layer")["layer"]]


def geometry_layers() -> list[int]:
    return [int(x) for x in query("select distinct layer from trait_geometry order by layer")["layer"]]


# ---- SQL page ------------------------------------------------------------------------
# A user's query runs on its own sandboxed connection (warehouse.db.connect_user_sql: the
# warehouse only, no files, network or extensions), interrupted after the time limit, so a
# writer waiting for the lock waits at most that long.

def _fetch_user_sql(path: str, sql: str, limit: int, seconds: float) -> pd.DataFrame:
    try:
        con = connect_user_sql(Path(path), wait_s=0.5)
    except WarehouseLocked:
        raise WarehouseBusy("the warehouse is being written (a build or an ingest is running); "
                            "refresh in a moment") from None
    try:
        with time_limit(con, seconds):
            return con.sql(sql).limit(limit).df()
    except duckdb.InterruptException:
        raise UserError(f"stopped after {seconds:g} s, the SQL page's time limit (PSW_SQL_TIMEOUT_S); "
                        "narrow the query or run it with `psw sql`") from None
    except duckdb.Error as exc:
        raise UserError(describe_sql_error(exc)) from None
    finally:
        con.close()


@st.cache_data(show_spinner=False, max_entries=128)
def _cached_user_sql(path: str, version: tuple, sql: str, limit: int, seconds: float) -> pd.DataFrame:
    return _fetch_user_sql(path, sql, limit, seconds)


def run_sql(sql: str, limit: int = 1000) -> pd.DataFrame:
    """One read-only statement, at most `limit` rows (capped by PSW_SQL_MAX_ROWS), within the
    time limit; UserError (one line saying why) for anything else."""
    check_read_only(sql)
    limit = max(1, min(int(limit), sql_max_rows()))
    return _served(_cached_user_sql, _fetch_user_sql, sql.strip().rstrip(";"), limit, sql_timeout_s())


# ---- model matrix --------------------------------------------------------------------

def model_matrix_bases() -> list[str]:
    """The matrices the warehouse holds: measured (from our cells) first, then published (from
    upstream's published cells of generators we hold no pairs for)."""
    df = query("select distinct basis from template_model_scores order by basis = 'published', basis")
    return list(df["basis"])


def model_matrix(basis: str = "measured") -> pd.DataFrame:
    """template_model_scores: one row per template, by its lower bound across models (the
    mart's score_lower_bound: 0 with one model, so a template seen on one model never ranks
    above one that holds up on several), then the mean."""
    return query(f"""
        select * exclude (model_scores),
            {TEMPLATE_LABEL_SQL} as template_label,
        from template_model_scores
        where basis = ?
        order by score_lower_bound desc nulls last, score_mean desc, template_id""", (basis,))


def model_matrix_cells(basis: str = "measured") -> pd.DataFrame:
    """The heatmap: one row per template x generator model with that model's template score."""
    return query(f"""
        select template_id, template_text,
            {TEMPLATE_LABEL_SQL} as template_label,
            unnest(map_keys(model_scores)) as generator_model, unnest(map_values(model_scores)) as score,
        from template_model_scores
        where basis = ?
        order by template_id, generator_model""", (basis,))
