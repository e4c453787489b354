"""Floors: the plainest fast way to do a benchmark's job, with no product code.

Each floor reads and writes the product's own tables (a copy of the seeded SQLite file, or
a PostgreSQL database made from the same seed) with polars and the stdlib sqlite3 /
psycopg COPY, in one transaction, and returns counts that the benchmark compares with
the product's. A benchmark prints `ratio product/floor`: what the product's extra promises
(dry run, row results, provenance, audit, undo) and its overheads cost.
"""
