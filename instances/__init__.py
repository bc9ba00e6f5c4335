"""Several bot processes on one PostgreSQL database, acting as one bot.

The pieces, each in a module of its own: which instance is active toward the agents
(:mod:`.election`), which instance takes in which channel groups (:mod:`.assignment`), how the
active instance hears of a new customer message at once (:mod:`.notifications`), what the
instances are doing (:mod:`.status`), and the refusal of a second bot on one SQLite database
(:mod:`.sole`). PostgreSQL is used through ``psycopg`` (the ``postgresql`` extra), imported only
where needed, so the SQLite path runs without it.
"""
