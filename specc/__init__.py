"""specc: a compiler for neural-network specs (.net -> checked graph -> PyTorch / ONNX)."""
from .core.diagnostics import SpeccError
from .core.version import __version__
from .network import Network, load, load_all

__all__ = ["Network", "SpeccError", "load", "load_all", "__version__"]
