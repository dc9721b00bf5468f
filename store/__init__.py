"""Storage: the schema, the engine, the migrations, the write path, and the readers that turn rows into DataFrames.

The receiver writes through it, the CLI and the dashboard read through it, the simulator writes through it;
nothing here imports the receiver, the app or the simulator. Modules:
- `models`: the tables (SQLModel), `db`: engines and migrations (`migrations/`, Alembic);
- `records`: the normalized observation every vendor's records become (`Sighting` → row, by `Normalizer`);
- `observations`: the write path (one transaction per POST) and `write_turn`, the SQLite writers' queue;
- `counts` and `count_frames`: the per-minute device counts of count-only mode;
- `queries` and `frames`: reads, as rows and as DataFrames (the one bridge from the database to analytics);
- `visits/`: the stored visits, refreshed incrementally from the observations;
- `retention`: `presence prune` and `presence erase`; `quarantine`: refused authenticated posts.
"""
