"""Metrics over run directories: the Evaluator contract and its registry."""
