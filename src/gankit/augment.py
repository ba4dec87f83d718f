"""Differentiable augmentation of what D sees: DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for
Data-Efficient GAN Training", NeurIPS) and the pixel blitting of ADA (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data", NeurIPS).

The same family of transforms is applied to real and generated images before D, and everything is differentiable
w.r.t. the images so that G's gradient flows through the augmentation. Policies (applied in the order given):

- ``color``: brightness x + b, b ~ U[−0.5, 0.5]; saturation (x − m_c)·s + m_c, s ~ U[0, 2], m_c the mean over
  channels at each pixel; contrast (x − m)·c + m, c ~ U[0.5, 1.5], m the mean over the whole image.
- ``translation``: integer shift (ty, tx) each ~ U{−r, …, r}, r = round(size/8), zero padding.
- ``cutout``: zero an (H/2)×(W/2) rectangle placed uniformly at random fully inside the image.
- ``flip``: mirror left-right with probability ½ (ADA's x-flip).
- ``rot90``: rotate by k·90°, k ~ U{0, 1, 2, 3} (ADA's 90° rotations; square images only).

Leaks (Karras et al. 2020, section 2.2): applied to every image, ``flip`` and ``rot90`` make all orientations
equally likely whatever G draws, so D cannot see G's orientation and G's samples may come out mirrored or turned.
Applied with probability p < 1 (train.augment_p; the policy as a whole, one draw per image), the images left alone
keep orientations apart and the augmentation does not leak; the other policies, whose draws are not a uniform choice
in a group, stay non-leaking while p is below about 0.75 (translation by ±1 pixel) to 0.8.

All random draws are per image, come from `generator` on x's device, and are returned so that passing them back
as `params=` repeats exactly the same transform (e.g. on another batch of the same shape).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import AUGMENT_POLICIES as POLICIES
from .errors import ConfigError

__all__ = ["POLICIES", "check_policy", "diff_augment", "draw_params"]

_KEYS = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
    "flip": ("flip",),
    "rot90": ("rot90",),
}
# the pixel blits: a uniform choice among the identity and the group's others
_CHOICES = {"flip": 2, "rot90": 4}


def _parse(policy: str) -> list[str]:
    items = [p.strip() for p in policy.split(",") if p.strip()]
    for p in items:
        if p not in POLICIES:
            raise ConfigError(
                f"augment policy: unknown item {p!r}; choose a comma-separated subset of {POLICIES}"
            )
    return items


def _draw(item: str, x: Tensor, generator: torch.Generator | None, n: int) -> dict[str, Tensor]:
    _, _, h, w = x.shape
    dev = x.device

    def u(lo: float, hi: float) -> Tensor:
        r = torch.rand(n, 1, 1, 1, generator=generator, device=dev, dtype=x.dtype)
        return lo + (hi - lo) * r

    if item == "color":
        return {"brightness": u(-0.5, 0.5), "saturation": u(0.0, 2.0), "contrast": u(0.5, 1.5)}
    if item in _CHOICES:
        return {item: torch.randint(0, _CHOICES[item], (n,), generator=generator, device=dev)}
    if item == "translation":
        ry, rx = int(h / 8 + 0.5), int(w / 8 + 0.5)
        ty = torch.randint(-ry, ry + 1, (n,), generator=generator, device=dev)
        tx = torch.randint(-rx, rx + 1, (n,), generator=generator, device=dev)
        return {"translation": torch.stack([ty, tx], dim=1)}
    ch, cw = _cut_size(h, w)
    oy = torch.randint(0, h - ch + 1, (n,), generator=generator, device=dev)
    ox = torch.randint(0, w - cw + 1, (n,), generator=generator, device=dev)
    return {"cutout": torch.stack([oy, ox], dim=1)}


def _cut_size(h: int, w: int) -> tuple[int, int]:
    return int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)


def _color(x: Tensor, p: dict[str, Tensor]) -> Tensor:
    x = x + p["brightness"]
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * p["saturation"] + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * p["contrast"] + m


def _translate(x: Tensor, t: Tensor) -> Tensor:
    """out[n, :, y, x] = in[n, :, y − ty_n, x − tx_n], zero outside; gather from a zero-padded copy."""
    n, _, h, w = x.shape
    ry, rx = int(h / 8 + 0.5), int(w / 8 + 0.5)
    t = t.to(x.device)
    ty, tx = t[:, 0].clamp(-ry, ry), t[:, 1].clamp(-rx, rx)
    xp = F.pad(x, [rx, rx, ry, ry])
    rows = torch.arange(h, device=x.device)[None, :] - ty[:, None] + ry  # [N, H]
    cols = torch.arange(w, device=x.device)[None, :] - tx[:, None] + rx  # [N, W]
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = xp[batch, :, rows[:, :, None], cols[:, None, :]]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2)


def _cutout(x: Tensor, o: Tensor) -> Tensor:
    _, _, h, w = x.shape
    ch, cw = _cut_size(h, w)
    o = o.to(x.device)
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys >= o[:, :1]) & (ys < o[:, :1] + ch)  # [N, H]
    in_x = (xs >= o[:, 1:]) & (xs < o[:, 1:] + cw)  # [N, W]
    keep = ~(in_y[:, :, None] & in_x[:, None, :])  # [N, H, W]
    return x * keep[:, None].to(x.dtype)


def _flip(x: Tensor, f: Tensor) -> Tensor:
    """Image n mirrored left-right where f_n = 1 (f int64 [N] in {0, 1})."""
    return torch.where(f.to(x.device).view(-1, 1, 1, 1) == 1, x.flip(3), x)


def _rot90(x: Tensor, k: Tensor) -> Tensor:
    """Image n rotated by k_n·90° (k int64 [N] in {0, 1, 2, 3}; square images)."""
    if x.shape[2] != x.shape[3]:
        raise ValueError(f"diff_augment: rot90 needs square images, got {x.shape[2]}×{x.shape[3]}")
    k = k.to(x.device).view(-1, 1, 1, 1)
    out = x
    for turns in (1, 2, 3):
        out = torch.where(k == turns, torch.rot90(x, turns, dims=(2, 3)), out)
    return out


def _apply(item: str, x: Tensor, p: dict[str, Tensor]) -> Tensor:
    """Policy ``item`` with its parameters ``p`` applied to images x [N, C, H, W]."""
    if item == "color":
        return _color(x, {k: v.to(device=x.device, dtype=x.dtype) for k, v in p.items()})
    if item == "translation":
        return _translate(x, p["translation"])
    if item == "cutout":
        return _cutout(x, p["cutout"])
    return _flip(x, p["flip"]) if item == "flip" else _rot90(x, p["rot90"])


def check_policy(policy: str, sample_shape: tuple[int, ...]) -> None:
    """A ConfigError unless ``policy`` can augment samples of ``sample_shape`` ([C, H, W] images; rot90: H = W)."""
    items = _parse(policy)
    if items and len(sample_shape) != 3:
        raise ConfigError(
            f"train.augment needs images [C, H, W]; these samples have shape {list(sample_shape)}"
        )
    if "rot90" in items and sample_shape[1] != sample_shape[2]:
        raise ConfigError(
            f"train.augment: rot90 needs square images, got {sample_shape[1]}×{sample_shape[2]}"
        )


def draw_params(
    policy: str, x: Tensor, *, generator: torch.Generator | None = None, n: int | None = None
) -> dict:
    """The random draws :func:`diff_augment` makes for ``policy``, in the same order, for ``n`` images of ``x``'s
    size (default ``len(x)``); rows i … j of them (``params[k][i:j]``) transform images i … j of such a batch."""
    out: dict[str, Tensor] = {}
    for item in _parse(policy):
        out.update(_draw(item, x, generator, len(x) if n is None else n))
    return out


def diff_augment(
    x: Tensor, policy: str, *, generator: torch.Generator | None = None, params: dict | None = None
) -> tuple[Tensor, dict]:
    """Apply the augmentation `policy` to images `x` (float [N, C, H, W], any range; [-1, 1] in the papers).

    Args:
        x: float images [N, C, H, W]; not modified in place.
        policy: comma-separated subset of "color,translation,cutout,flip,rot90"; "" returns x unchanged.
        generator: source of all random draws (must live on x's device); None uses the global RNG.
        params: the dict returned by an earlier call; when given, its values are reused (no new draws).

    Returns:
        (augmented images [N, C, H, W] with x's dtype/device, differentiable w.r.t. x; params dict with tensors
        brightness/saturation/contrast [N,1,1,1], translation [N,2] (ty, tx) int64, cutout [N,2] (top, left) int64,
        flip [N] int64 in {0, 1}, rot90 [N] int64 in {0, 1, 2, 3}).
    """
    items = _parse(policy)
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(
            f"diff_augment: x must be float [N, C, H, W], got {x.dtype} {tuple(x.shape)}"
        )
    out: dict[str, Tensor] = {}
    for item in items:
        if params is None:
            p = _draw(item, x, generator, len(x))
        else:
            missing = [k for k in _KEYS[item] if k not in params]
            if missing:
                raise ValueError(
                    f"diff_augment: params lack {missing} needed by policy item {item!r}"
                )
            p = {k: params[k] for k in _KEYS[item]}
            for k, v in p.items():
                if v.shape[0] != x.shape[0]:
                    raise ValueError(
                        f"diff_augment: params[{k!r}] is for {v.shape[0]} images, x has {x.shape[0]}"
                    )
        out.update(p)
        x = _apply(item, x, p)
    return x, out
