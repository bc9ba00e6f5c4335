"""Several Errbot backends in one bot."""
