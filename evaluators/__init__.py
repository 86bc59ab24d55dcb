"""Metrics over run directories: the Evaluator contract and its registry."""

from evaluators.base import EvalBatch, Evaluator, MetricResult
from evaluators.registry import METRIC_NAMES, create_evaluator, list_evaluators, register_evaluator

__all__ = [
    "METRIC_NAMES",
    "EvalBatch",
    "Evaluator",
    "MetricResult",
    "create_evaluator",
    "list_evaluators",
    "register_evaluator",
]
