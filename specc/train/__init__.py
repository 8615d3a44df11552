"""Training: `specc train` (recipe + flags, checkpoints, metrics, resume, DDP)."""
