"""The ground floor every layer imports downward: the record, stages and shards, settings, atomic files,
folder locks, executors and lazy imports. Nothing here imports from the rest of the project."""
