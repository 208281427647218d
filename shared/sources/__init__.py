"""Data sources: where the three tables' rows come from (fixture files or live Log Analytics)."""
