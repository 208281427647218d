"""Oracles: implementations of the rule that share no code with the product (``shared``).

``sql_port`` is the rule hand-written as DuckDB SQL (``rule.sql``); ``verbatim_kql`` runs the rule's
own KQL text (tests/data/rule/) with duckdb-kql. ``files`` writes the tiny fixture files the named
cases run on.
"""
