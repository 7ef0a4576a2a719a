"""Storage: the database handle, the shared table metadata and the migrations."""
