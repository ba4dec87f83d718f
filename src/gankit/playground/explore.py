"""``gankit explore RUN``: a page over a trained image generator, served like the playground (loopback, ``Host``
allow-list, a token per start, same-origin requests only; gankit.playground.access).

The page shows G's pictures for pages of seeds, lets one select two, interpolate between them (straight or
spherical, a slider and a strip), pull the noise toward the prior's mean (truncation ψ), pick a class of a
conditional run, move the picture on show along five latent directions (GANSpace: principal components of G's
first features carried back to z), see the training pictures nearest to it, and download it with its z (.npy).
The server draws: ``POST /api/draw`` with ``seeds`` (one z per seed, as ``gankit sample --n 1 --seed S`` draws
it) or ``z`` (rows of z_dim numbers), ``label`` and ``truncation`` → the pictures as PNG data URLs and the z they
came from; ``POST /api/nearest`` with one ``z`` → the four training pictures nearest to its picture in pixels.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import torch
from aiohttp import web

from ..config import from_dict
from ..data import load_dataset, to_uint8
from ..errors import GankitError
from ..models.latent import first_features, principal_directions, truncate
from ..train.restore import load_generator_and_meta
from ..viz.grids import grid_image, png_bytes
from ..viz.images import nearest_neighbours
from ..viz.report import data_uri
from .access import access_for
from .server import ACCESS, STATIC, _error, _refusal, host_allow_list, open_site, run_until_signal

GENERATOR = web.AppKey("generator", object)
MAX_DRAW = 64  # pictures one request may ask for
MIN_SIDE = 128  # pictures are enlarged (nearest) to at least this many pixels a side


def _picture(x: torch.Tensor) -> str:
    """uint8 [C, H, W] → a PNG data URL, enlarged to at least MIN_SIDE pixels a side."""
    scale = max(1, MIN_SIDE // x.shape[-1])
    big = x.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    return data_uri(png_bytes(grid_image(big[None], nrow=1, pad=0)))


def _noise(G, body: dict) -> torch.Tensor:
    """z [n, z_dim] from ``seeds`` or ``z`` in the request (one-line errors for anything else)."""
    if "seeds" in body:
        seeds = body["seeds"]
        if (
            not isinstance(seeds, list)
            or not 0 < len(seeds) <= MAX_DRAW
            or not all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds)
        ):
            raise GankitError(f"seeds: a list of 1 to {MAX_DRAW} integers in [0, 2^31)")
        rows = [
            G.sample_z(1, generator=torch.Generator().manual_seed(s), device="cpu") for s in seeds
        ]
        return torch.cat(rows)
    z = body.get("z")
    ok = isinstance(z, list) and 0 < len(z) <= MAX_DRAW
    ok = ok and all(isinstance(r, list) and len(r) == G.z_dim for r in z)
    ok = ok and all(isinstance(v, (int, float)) and math.isfinite(v) for r in z for v in r)
    if not ok:
        raise GankitError(f"z: a list of 1 to {MAX_DRAW} rows of {G.z_dim} finite numbers")
    return torch.tensor(z, dtype=torch.float32)


def _generate(G, body: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(z [n, z_dim], uint8 pictures [n, C, H, W]) for the request's noise, truncation and label."""
    z = _noise(G, body)
    psi = body.get("truncation", 1.0)
    if not isinstance(psi, (int, float)) or not 0.0 <= psi <= 1.0:
        raise GankitError("truncation: a number in [0, 1]")
    args = [truncate(z, float(psi))]
    if G.num_classes:
        label = body.get("label", 0)
        if not isinstance(label, int) or not 0 <= label < G.num_classes:
            raise GankitError(f"label: an integer in [0, {G.num_classes})")
        args.append(torch.full((len(z),), label, dtype=torch.int64))
    with torch.no_grad():
        return z, to_uint8(G(*args), G.value_range)


def draw(G, body: dict) -> dict:
    """The response to /api/draw: {"images": [PNG data URLs], "z": [rows]} (see the module docstring)."""
    z, pixels = _generate(G, body)
    return {"images": [_picture(p) for p in pixels], "z": z.tolist()}


def nearest(G, train: torch.Tensor, body: dict, k: int = 4) -> dict:
    """The response to /api/nearest: the ``k`` training pictures nearest (Euclidean, in pixels) to the picture of
    the request's single z, as {"images": [...], "distances": [...]} (the paper's Figure 2 check)."""
    z, pixels = _generate(G, body)
    if len(z) != 1:
        raise GankitError("nearest: one z at a time")
    found = nearest_neighbours(pixels, train, k=min(k, len(train))).reshape(-1)
    distances = (train[found].double() - pixels.double()).flatten(1).norm(dim=1)
    return {
        "images": [_picture(train[i]) for i in found.tolist()],
        "distances": [round(float(d), 2) for d in distances],
    }


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "explore.html", headers={"Cache-Control": "no-store"})


async def _api(request: web.Request) -> web.Response:
    reason = _refusal(request, "request")
    if reason is not None:
        return _error(403, reason)
    G, info, train = request.app[GENERATOR]
    what = request.match_info["what"]
    if what == "info":
        return web.json_response(info)
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise GankitError("the request body must be a JSON object")
        if what == "nearest":
            return web.json_response(await asyncio.to_thread(nearest, G, train, body))
        return web.json_response(await asyncio.to_thread(draw, G, body))
    except (ValueError, GankitError) as e:
        return _error(400, str(e).splitlines()[0])


DIRECTIONS, DIRECTION_SAMPLES = 5, 2000


def _directions(G) -> tuple[list, list]:
    """The page's latent directions (gankit.models.latent.principal_directions of G's first features over 2,000
    draws of seed 0), as lists for JSON."""
    z = G.sample_z(DIRECTION_SAMPLES, generator=torch.Generator().manual_seed(0), device="cpu")
    inputs = [z] + ([torch.arange(len(z)) % G.num_classes] if G.num_classes else [])
    directions, spreads = principal_directions(z, first_features(G, *inputs), DIRECTIONS)
    return directions.tolist(), spreads.tolist()


def build_explore_app(run_dir: Path, access) -> web.Application:
    """The explorer's routes over the run's generator (EMA copy when kept); a points run is a GankitError."""
    G, meta = load_generator_and_meta(Path(run_dir))
    if meta["kind"] != "image":
        raise GankitError(f"{run_dir} is a points run: gankit explore is for image runs")
    info = {
        "run": str(run_dir),
        "z_dim": G.z_dim,
        "prior": G.prior,
        "classes": G.num_classes,
        "shape": list(G.out_shape),
        "step": meta["step"],
        "ema": meta["ema"],
    }
    info["directions"], info["spreads"] = _directions(G)
    # uint8 [N, C, H, W], for the nearest training pictures
    train = load_dataset(from_dict(meta["config"]).data).train.x
    app = web.Application(client_max_size=1 << 20, middlewares=[host_allow_list])
    app[ACCESS], app[GENERATOR] = access, (G, info, train)
    app.router.add_get("/", _index)
    app.router.add_route("*", "/api/{what:info|draw|nearest}", _api)
    app.router.add_static("/static", STATIC)
    return app


async def start_explorer(
    run_dir: Path, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Serve the explorer on host:port (0: a free one); returns (runner, the page's URL with its token)."""
    access = access_for(host, (), True)
    return await open_site(build_explore_app(run_dir, access), access, host, port)


def serve_explorer(run_dir: Path, port: int = 8001, announce=print) -> None:
    """Serve the explorer on 127.0.0.1:port until SIGINT/SIGTERM; ``announce`` gets the URL once it is open."""
    run_until_signal(lambda: start_explorer(run_dir, "127.0.0.1", port), announce)
