"""Entry script: `psw dashboard` runs `streamlit run dashboard/app.py` with PSW_DB set."""

from __future__ import annotations

import duckdb
import streamlit as st

from dashboard import queries

st.set_page_config(page_title="Persona Steering Warehouse", layout="wide")



def home() -> None:
    """The root URL opens Cells at /cells (the default page itself would be served at / only,
    so a link to /cells found no page), carrying the query string along."""
    st.switch_page("views/cells.py", query_params=[(k, v) for k in st.query_params for v in st.query_params.get_all(k)])


PAGES = [
    st.Page(home, title="Cells", url_path="home", default=True, visibility="hidden"),
    st.Page("views/cells.py", title="Cells", url_path="cells"),
    st.Page("views/cell.py", title="Cell", url_path="cell"),
    st.Page("views/templates.py", title="Templates", url_path="templates"),
    st.Page("views/persona_pairs.py", title="Persona pairs", url_path="persona-pairs"),
    st.Page("views/on_off_axis.py", title="On/off axis", url_path="on-off-axis"),
    st.Page("views/models.py", title="Models", url_path="models"),
    st.Page("views/compare.py", title="Compare", url_path="compare"),
    st.Page("views/reproduce.py", title="Reproduce", url_path="reproduce"),
    st.Page("views/steering.py", title="Steering", url_path="steering"),
    st.Page("views/steered.py", title="Steered texts", url_path="steered"),
    st.Page("views/sql.py", title="SQL", url_path="sql"),
]
HOW_TO_BUILD = """
```
psw --db {db} ingest persona_pairs.jsonl templates.txt scenarios.jsonl run_examples.jsonl
psw --db {db} build
```
then refresh this page. Or try the synthetic demo: `make demo` builds `data/demo.duckdb`, and
`psw --db data/demo.duckdb dashboard` browses it.
"""


def show_no_warehouse(state: str) -> None:
    db = queries.db_file()
    st.title("Persona Steering Warehouse")
    reason = {"missing": f"There is no warehouse at `{db}` yet.",
              "unbuilt": f"The warehouse `{db}` has no marts yet (ingested but not built).",
              "empty": f"The warehouse `{db}` has no measured cells yet."}[state]
    st.info(reason + " Build one:")
    st.markdown(HOW_TO_BUILD.format(db=db))


try:
    state = queries.warehouse_state()
except queries.WarehouseBusy as exc:
    st.warning(f"The warehouse is busy: {exc}.")
    st.stop()
if state != "ok":
    show_no_warehouse(state)
    st.stop()



def label_synthetic() -> None:
    """The bundled demo is made up (generator `demo/...`): say so on every page."""
    demo = list(queries.query("select distinct measurement_id from template_pair_scores "
                              "where generator_model like 'demo/%' order by 1")["measurement_id"])
    if demo:
        st.sidebar.warning(f"DEMO data: `{'`, `'.join(demo)}` is synthetic (made-up completions and ratings), "
                           "not a measurement.")


page = st.navigation(PAGES)
label_synthetic()
try:
    page.run()
except queries.WarehouseBusy as exc:
    st.warning(f"The warehouse is busy: {exc}.")
except duckdb.CatalogException as exc:
    st.warning(f"A mart this page reads is missing: `{str(exc).splitlines()[0]}`. Run `psw build`.")
