"""A PubNub-compatible server for tests, demos and benchmarks."""
