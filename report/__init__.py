"""`psw report`: a static results page (markdown, HTML and plots) read from the marts.

It reads `template_pair_scores`, `template_model_scores` and `steering_summary` as built and
derives no score of its own. Same warehouse, same bytes: no timestamps, no absolute paths,
rows in a fixed order, plots rendered by Vega-Lite in-process (vl-convert) with SVG ids
renumbered, since vl-convert numbers them per process.
"""
