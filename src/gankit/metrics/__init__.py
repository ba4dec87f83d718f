"""Metrics (DESIGN §4): take tensors or a sample callable; never import models or training."""
