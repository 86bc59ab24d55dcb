"""Orchestration: generation and evaluation over run directories."""
