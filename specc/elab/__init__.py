"""Elaboration: AST -> Graph IR (constants, blocks, loops, imports, presets, shape rules)."""
from .modules import Loader
from .network import elaborate_network, missing_params

__all__ = ["Loader", "elaborate_network", "missing_params"]
