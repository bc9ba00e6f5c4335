"""PubNub channel groups as customer chat for Errbot."""
