"""Event ingestion: pure rules (rules.py), the dialect SQL (sql.py) and the per-chunk transactions (run.py)."""
