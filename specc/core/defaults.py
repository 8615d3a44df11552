"""Defaults that several stages and the command line share, stated once."""

# parameters a spec may declare (`--max-params`): checked before anything is allocated
MAX_PARAMS = 2_000_000_000
# values per sample summed over every tensor the network computes (its input included): what a
# training step holds for the backward pass (`--max-activations`). 10**9 is 4 GB a sample in f32.
MAX_ACTIVATIONS = 1_000_000_000
# the ONNX opset an export targets unless `--opset` says otherwise
ONNX_OPSET = 17
