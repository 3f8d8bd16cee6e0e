"""Background jobs held in the database, shared by any number of ``flask worker`` processes."""
