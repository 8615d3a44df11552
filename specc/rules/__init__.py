"""Learning rules, a registry beside the op registry (see registry.py)."""
from . import competitive, hebbian, reward  # noqa: F401  (each registers its rules)
from .registry import RuleDef, RuleValue, all_rules, get

__all__ = ["RuleDef", "RuleValue", "all_rules", "get"]
