"""The on-disk record format of prox, one module per job, below the refiners, the pipeline and the CLI.

- `metadata`: the prox record each document carries in `metadata["prox"]` (programs, decisions, source).
- `errors`: error documents (bad input records carried through a run) and their `OUT/errors` layout.
- `layouts`: the `prox` and `prox-release` layouts of refined and dropped records, and reading them back.
- `programs`: recorded chunk programs (`chunk_programs`) and their conversion to executable `ChunkProgram`s.
- `files`: which files of an output folder are a run's finished data files.
- `reading`: records of JSONL (plain, gzip, zstd) and Parquet files, each with its `file:line` position.
- `labels`: the gold-label schemas and the scoring protocol's rules (which pages and lines count).
"""
