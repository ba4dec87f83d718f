"""DiffAugment (Zhao et al. 2020)."""

from __future__ import annotations

import pytest
import torch

from gankit.augment import diff_augment


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "policy",
    [
        "color",
        "translation",
        "cutout",
        "flip",
        "rot90",
        "color,translation,cutout",
        "flip,rot90,translation",
    ],
)
def test_shape_and_gradient(policy: str) -> None:
    x = torch.randn(
        4, 3, 16, 16 if "rot90" in policy else 12, generator=_gen(1), requires_grad=True
    )
    x0 = x.detach().clone()
    y, params = diff_augment(x, policy, generator=_gen())
    assert y.shape == x.shape and y.dtype == x.dtype
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    torch.testing.assert_close(x.detach(), x0, rtol=0, atol=0)  # no in-place on the input
    assert params


def test_same_seed_same_output_and_different_seed_differs() -> None:
    x = torch.rand(5, 3, 16, 16, generator=_gen(2))
    policy = "color,translation,cutout"
    a, _ = diff_augment(x, policy, generator=_gen(7))
    b, _ = diff_augment(x, policy, generator=_gen(7))
    c, _ = diff_augment(x, policy, generator=_gen(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_params_reuse_translation_moves_pixel_identically() -> None:
    n, h, w = 16, 16, 16
    one_hot = torch.zeros(n, 1, h, w)
    one_hot[:, 0, 7, 9] = 1.0
    y1, params = diff_augment(one_hot, "translation", generator=_gen(3))
    t = params["translation"]
    assert t.shape == (n, 2) and t.abs().max() <= 2 and t.abs().sum() > 0
    for i in range(n):
        expected = torch.zeros(h, w)
        expected[7 + t[i, 0], 9 + t[i, 1]] = 1.0
        torch.testing.assert_close(y1[i, 0], expected, rtol=0, atol=0)
    other = torch.rand(n, 1, h, w, generator=_gen(4))
    other[:, 0, 7, 9] = 5.0
    y2, params2 = diff_augment(other, "translation", params=params)
    assert torch.equal(params2["translation"], t)
    for i in range(n):
        assert y2[i, 0, 7 + t[i, 0], 9 + t[i, 1]] == 5.0


def test_params_reuse_full_policy() -> None:
    policy = "color,translation,cutout"
    x1, x2 = torch.rand(2, 4, 3, 8, 8, generator=_gen(5))
    y1, p = diff_augment(x1, policy, generator=_gen(6))
    y2, _ = diff_augment(x2, policy, params=p)
    y1b, _ = diff_augment(x1, policy, params=p)
    torch.testing.assert_close(y1b, y1, rtol=0, atol=0)
    assert not torch.equal(y1, y2)
    # geometry shared: on strictly positive images, the zeroed (padded + cut) pixels coincide
    g1, q = diff_augment(x1 + 0.1, "translation,cutout", generator=_gen(12))
    g2, _ = diff_augment(x2 + 0.1, "translation,cutout", params=q)
    assert (g1 == 0).any() and torch.equal(g1 == 0, g2 == 0)


def test_translation_zero_padding() -> None:
    x = torch.ones(32, 1, 8, 8)
    y, p = diff_augment(x, "translation", generator=_gen(9))
    t = p["translation"]
    zeros = (y == 0).flatten(1).sum(1)
    expected = 64 - (8 - t[:, 0].abs()) * (8 - t[:, 1].abs())
    assert torch.equal(zeros, expected)


def test_cutout_zeros_quarter() -> None:
    x = torch.ones(20, 3, 8, 12)
    y, p = diff_augment(x, "cutout", generator=_gen(10))
    assert torch.equal((y[:, 0] == 0).flatten(1).sum(1), torch.full((20,), 4 * 6))
    assert torch.equal(y[:, 0], y[:, 2])  # same square on all channels
    assert (p["cutout"][:, 0] <= 4).all() and (p["cutout"][:, 1] <= 6).all()


def test_color_ranges() -> None:
    x = torch.zeros(200, 3, 4, 4)
    _, p = diff_augment(x, "color", generator=_gen(11))
    assert p["brightness"].min() >= -0.5 and p["brightness"].max() <= 0.5
    assert p["saturation"].min() >= 0 and p["saturation"].max() <= 2
    assert p["contrast"].min() >= 0.5 and p["contrast"].max() <= 1.5
    y, _ = diff_augment(x, "color", params=p)  # constant image: only brightness acts
    torch.testing.assert_close(y, p["brightness"].expand_as(y))


def test_empty_policy_identity_and_unknown_item() -> None:
    x = torch.rand(2, 3, 4, 4)
    y, p = diff_augment(x, "")
    assert y is x and p == {}
    with pytest.raises(ValueError, match="translation"):
        diff_augment(x, "color,shear")


def test_flip_mirrors_the_drawn_images_and_keeps_the_others() -> None:
    x = torch.rand(64, 2, 5, 7, generator=_gen(13))
    y, p = diff_augment(x, "flip", generator=_gen(14))
    f = p["flip"]
    assert f.shape == (64,) and f.dtype == torch.int64 and 16 < f.sum() < 48  # Binomial(64, ½)
    assert torch.equal(y[f == 1], x[f == 1].flip(3)) and torch.equal(y[f == 0], x[f == 0])


def test_rot90_turns_each_image_by_its_drawn_quarter_turns() -> None:
    x = torch.rand(64, 3, 6, 6, generator=_gen(15))
    y, p = diff_augment(x, "rot90", generator=_gen(16))
    k = p["rot90"]
    assert k.shape == (64,) and set(k.tolist()) == {0, 1, 2, 3}
    for i in range(64):
        assert torch.equal(y[i], torch.rot90(x[i], int(k[i]), dims=(1, 2)))
    # reused draws: the same turns on other images
    y2, _ = diff_augment(x.flip(0), "rot90", params=p)
    assert torch.equal(y2[5], torch.rot90(x.flip(0)[5], int(k[5]), dims=(1, 2)))
    with pytest.raises(ValueError, match="diff_augment: rot90 needs square images, got 6×4"):
        diff_augment(x[..., :4], "rot90", generator=_gen(16))


def test_policies_are_checked_against_the_sample_shape() -> None:
    from gankit.augment import check_policy
    from gankit.errors import ConfigError

    check_policy("flip,rot90", (3, 8, 8))
    check_policy("", (2,))
    with pytest.raises(ConfigError, match=r"train.augment: rot90 needs square images, got 8×6"):
        check_policy("color,rot90", (1, 8, 6))
    with pytest.raises(
        ConfigError, match=r"train.augment needs images \[C, H, W\]; these samples have shape \[2\]"
    ):
        check_policy("flip", (2,))


def test_augmentation_probability_picks_images_to_augment():
    """train.augment_p: p = 0 leaves every image as it was; p = 1 augments every one exactly as without a
    probability (the choice is drawn after the transform's own draws); p = ½ augments some and keeps the others."""
    from gankit.config import TrainConfig
    from gankit.train.tricks.augment import augmentation

    x = torch.rand(64, 1, 8, 8) + 0.1
    t = TrainConfig(augment="cutout")

    def run(p):
        fn = augmentation(
            t, torch.Generator().manual_seed(3), None if p is None else torch.tensor(p), (1, 8, 8)
        )
        return fn(x, None)[0]

    assert torch.equal(run(0.0), x) and torch.equal(run(1.0), run(None))
    changed = (run(0.5) != x).flatten(1).any(dim=1)
    assert 10 < changed.sum() < 54  # Binomial(64, ½): outside this range with probability < 1e-7


@pytest.mark.parametrize("shared", [False, True])
def test_ranks_augment_their_rows_of_the_global_batch(shared):
    """Data-parallel training: two ranks, each with its half of the batches and the same seeded generator,
    augment exactly as one process augments the whole batches (the draws are the global batch's, each rank keeps
    its rows), with and without one draw shared by real and generated images; with a probability of ½ too. One
    process's draws are those of ``diff_augment`` itself."""
    from gankit.config import TrainConfig
    from gankit.train.distributed import Ranks
    from gankit.train.tricks.augment import augmentation

    a, b = torch.rand(8, 3, 16, 16), torch.rand(8, 3, 16, 16)
    t = TrainConfig(augment="color,translation,cutout,flip", augment_shared=shared)

    def run(p, x, y, rank=0, world=1):
        probability = None if p is None else torch.tensor(p)
        fn = augmentation(
            t,
            torch.Generator().manual_seed(5),
            probability,
            (3, 16, 16),
            Ranks(rank=rank, world=world),
        )
        return fn(x, y)

    for p in (None, 0.5):
        one = run(p, a, b)
        halves = [run(p, a[r * 4 : r * 4 + 4], b[r * 4 : r * 4 + 4], r, 2) for r in (0, 1)]
        assert torch.equal(torch.cat([h[0] for h in halves]), one[0])
        assert torch.equal(torch.cat([h[1] for h in halves]), one[1])
    plain = diff_augment(a, t.augment, generator=torch.Generator().manual_seed(5))[0]
    assert torch.equal(run(None, a, None)[0], plain)
