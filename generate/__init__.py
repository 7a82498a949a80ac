"""Everything in the repository that is generated, and the one entry point that writes it.

`python -m generate` (or `scripts/generate`) rewrites every artefact; `--check` writes nothing
and exits 1 when one is stale or stray. The inputs are the daemon's own tables (the metrics
catalogue, the rule table), the alert scenario table in `scenarios.py`, the dashboard
descriptions in `panels.py` and `config.example.yaml`. Nothing here imports from `tests/`.
"""
