"""Training: datasets, losses, the LayerNorm-tuning loop and its run folders."""
