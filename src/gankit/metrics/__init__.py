"""Metrics (docs/design.md, 'Metrics'): take tensors or a sample callable; never import models or training."""
