"""Backends: the Graph IR lowered to a PyTorch module and to an ONNX model."""
