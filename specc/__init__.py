"""specc: a compiler for neural-network specs (.net -> checked graph -> PyTorch / ONNX)."""
from .diagnostics import SpeccError
from .network import Network, load, load_all

__version__ = "0.1.0"
__all__ = ["Network", "SpeccError", "load", "load_all", "__version__"]
