"""Infrastructure the project's packages share, written once: the SQLAlchemy engine factory
(with each database's SQLite settings), the queue with a writer thread that commits in batches,
the backoff, lines of standard input that never block a stop, and a free port for a server told
its port before it listens. It imports none of the project's packages, so any of them may import
it."""
