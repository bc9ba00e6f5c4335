"""Customer conversations relayed to an agent room and run by chat commands."""
