"""Benchmarks of the relay: a customer's message to the agent room and back, against the
PubNub SDK's own ceiling. Run ``make bench`` (or ``python -m benchmarks``); see README.md here.
"""
