"""Defaults that several stages and the command line share, stated once."""

# parameters a spec may declare (`--max-params`): checked before anything is allocated
MAX_PARAMS = 2_000_000_000
# values per sample summed over every tensor the network computes (its input included): what a
# training step holds for the backward pass (`--max-activations`). 10**9 is 4 GB a sample in f32.
MAX_ACTIVATIONS = 1_000_000_000
# the ONNX opset an export targets unless `--opset` says otherwise
ONNX_OPSET = 17

# Upper bounds of the resource flags and of what a data set may ask for, checked before anything
# is allocated (a flag beyond one is a usage error; a file asking for more is refused):
MAX_THREADS = 1024  # --threads: intra-op threads of one process
MAX_WORKERS = 64  # --workers: DataLoader worker processes of one process
MAX_PROCESSES = 256  # --nproc: training processes on one machine
MAX_BATCH = 65_536  # --batch-size and a recipe's batch_size: samples in one global batch
MAX_SAMPLES = 10_000_000  # samples a generated in-memory data set may hold (synthetic:N)
MAX_DATA_BYTES = 2 ** 31  # bytes a data set held in memory may take (2 GiB of float32)
MAX_CLASSES = 1_000_000  # class indices read from data files lie in [0, MAX_CLASSES)
