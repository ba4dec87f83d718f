"""Shared fixtures: tiny image datasets. Helpers the test modules import live in gankit_testkit.py."""

from __future__ import annotations

import pytest
import torch

from gankit.data import Dataset, Split


@pytest.fixture
def tiny_images() -> Dataset:
    """300 random 1×8×8 uint8 'images' with labels."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (300, 1, 8, 8), generator=gen, dtype=torch.uint8)
    return Dataset("tiny", "image", {"train": Split(x, torch.arange(300) % 10)})
