"""Shared fixtures: a cache of the test session's own and tiny image datasets. Helpers the test modules import live
in gankit_testkit.py."""

from __future__ import annotations

import pytest
import torch

from gankit.data import Dataset, Split


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory):
    """``GANKIT_CACHE`` is a folder of the test session (processes the tests start inherit it): decoded folders,
    trained classifiers and reference statistics never land in, nor come from, the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("gankit-cache")))
        yield


@pytest.fixture
def tiny_images() -> Dataset:
    """300 random 1×8×8 uint8 'images' with labels."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (300, 1, 8, 8), generator=gen, dtype=torch.uint8)
    return Dataset("tiny", "image", {"train": Split(x, torch.arange(300) % 10)})
