"""``gankit explore RUN``: a page over a trained image generator, served like the playground (loopback, ``Host``
allow-list, a token per start, same-origin requests only; gankit.playground.access).

The page shows G's pictures for pages of seeds, lets one select two, interpolate between them (straight or
spherical, a slider and a strip), pull the noise toward the prior's mean (truncation ψ), pick a class of a
conditional run, move the picture on show along five latent directions (GANSpace: principal components of G's
first features carried back to z), see the training pictures nearest to it, and download it with its z (.npy).
The server draws: ``POST /api/draw`` with ``seeds`` (one z per seed, as ``gankit sample --n 1 --seed S`` draws
it) or ``z`` (rows of z_dim numbers), ``label`` and ``truncation`` → the pictures as PNG data URLs and the z they
came from; ``POST /api/nearest`` with one ``z`` → the four training pictures nearest to its picture in pixels.

It starts from the run folder's latest good checkpoint alone (it holds the config); the training pictures load on
the first ``/api/nearest``, and when they cannot (the data set was moved or deleted) that route answers 404 with the
reason while the rest works. A request body is a JSON object of at most 1 MiB (413 past it) with the keys above,
checked by gankit.playground.bodies: anything else is a 400 with a one-line reason; replies are strict JSON.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any, Callable

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
from .bodies import BodyError, error, integer, items, number, one_line, parse, reply
from .server import ACCESS, COMMAND, STATIC, _refusal, host_allow_list, open_site, run_until_signal

log = logging.getLogger(__name__)

GENERATOR = web.AppKey("generator", object)
MAX_DRAW = 64  # pictures one request may ask for
MAX_BODY = 1 << 20  # bytes of a request body
Z_LIMIT = 1e3  # |z| per coordinate, far past any prior
KEYS = frozenset({"seeds", "z", "truncation", "label"})
MIN_SIDE = 128  # pictures are enlarged (nearest) to at least this many pixels a side


class Unavailable(GankitError):
    """The run's training pictures cannot be loaded (its data set was moved or deleted)."""


class TrainingPictures:
    """The run's training pictures (uint8 [N, C, H, W]) for /api/nearest, loaded on first use, so that the
    explorer starts from the checkpoint alone; a failure is remembered (later requests get its reason at once)."""

    def __init__(self, config: dict) -> None:
        self.config, self.x, self.failure, self.lock = config, None, None, threading.Lock()

    def get(self) -> torch.Tensor:
        with self.lock:
            if self.x is None and self.failure is None:
                try:
                    self.x = load_dataset(from_dict(self.config).data).train.x
                except (GankitError, OSError) as e:
                    self.failure = (
                        f"nearest: the training pictures are not available ({one_line(e)})"
                    )
                    log.warning("gankit explore: %s", self.failure)
            if self.failure is not None:
                raise Unavailable(self.failure)
            return self.x


def _picture(x: torch.Tensor) -> str:
    """uint8 [C, H, W] → a PNG data URL, enlarged to at least MIN_SIDE pixels a side."""
    scale = max(1, MIN_SIDE // x.shape[-1])
    big = x.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    return data_uri(png_bytes(grid_image(big[None], nrow=1, pad=0)))


def _noise(G, body: dict) -> torch.Tensor:
    """z [n, z_dim] from ``seeds`` or ``z`` in the request (one-line BodyErrors for anything else)."""
    if ("seeds" in body) == ("z" in body):
        raise BodyError("give either seeds or z")
    if "seeds" in body:
        seeds = items(body["seeds"], "seeds", MAX_DRAW, "integers in [0, 2^31)")
        seeds = [integer(s, "seeds", 0, 2**31 - 1) for s in seeds]
        rows = [
            G.sample_z(1, generator=torch.Generator().manual_seed(s), device="cpu") for s in seeds
        ]
        return torch.cat(rows)
    what = f"rows of {G.z_dim} numbers in [-{Z_LIMIT:g}, {Z_LIMIT:g}]"
    z = items(body["z"], "z", MAX_DRAW, what)
    if not all(isinstance(r, list) and len(r) == G.z_dim for r in z):
        raise BodyError(f"z: a list of 1 to {MAX_DRAW} {what}")
    return torch.tensor([[number(v, "z", -Z_LIMIT, Z_LIMIT) for v in r] for r in z])


def _label(G, body: dict, n: int) -> list[torch.Tensor]:
    """[int64 [n] labels] for a conditional G (``label``, default 0), [] for an unconditional one."""
    if not G.num_classes:
        if "label" in body:
            raise BodyError("label: this generator is unconditional")
        return []
    label = integer(body.get("label", 0), "label", 0, G.num_classes - 1)
    return [torch.full((n,), label, dtype=torch.int64)]


def _generate(G, body: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(z [n, z_dim], uint8 pictures [n, C, H, W]) for the request's noise, truncation and label."""
    unknown = sorted(set(body) - KEYS)
    if unknown:
        raise BodyError(f"unknown key {unknown[0][:40]!r}; keys are: {', '.join(sorted(KEYS))}")
    z = _noise(G, body)
    psi = number(body.get("truncation", 1.0), "truncation", 0.0, 1.0)
    args = [truncate(z, psi), *_label(G, body, len(z))]
    with torch.no_grad():
        return z, to_uint8(G(*args), G.value_range)


def draw(G, body: dict) -> dict:
    """The response to /api/draw: {"images": [PNG data URLs], "z": [rows]} (see the module docstring)."""
    z, pixels = _generate(G, body)
    return {"images": [_picture(p) for p in pixels], "z": z.tolist()}


def nearest(G, pictures: Callable[[], torch.Tensor], body: dict, k: int = 4) -> dict:
    """The response to /api/nearest: the ``k`` training pictures nearest (Euclidean, in pixels) to the picture of
    the request's single z, as {"images": [...], "distances": [...]} (the paper's Figure 2 check);
    ``pictures()`` (uint8 [N, C, H, W]) is called once the request is known to be good."""
    z, pixels = _generate(G, body)
    if len(z) != 1:
        raise BodyError("nearest: one z at a time")
    train = pictures()
    found = nearest_neighbours(pixels, train, k=min(k, len(train))).reshape(-1)
    distances = (train[found].double() - pixels.double()).flatten(1).norm(dim=1)
    return {
        "images": [_picture(train[i]) for i in found.tolist()],
        "distances": [round(float(d), 2) for d in distances],
    }


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "explore.html", headers={"Cache-Control": "no-store"})


def _object(data: bytes) -> dict[str, Any]:
    """The request body as a JSON object (BodyError for anything else)."""
    body = parse(data)
    if not isinstance(body, dict):
        raise BodyError("the request body must be a JSON object")
    return body


async def _api(request: web.Request) -> web.Response:
    refused = _refusal(request, "request")
    if refused is not None:
        return error(403, refused)
    G, info, pictures = request.app[GENERATOR]
    what = request.match_info["what"]
    if what == "info":
        return reply(info)
    try:
        body = _object(await request.read())
        if what == "nearest":
            return reply(await asyncio.to_thread(nearest, G, pictures.get, body))
        return reply(await asyncio.to_thread(draw, G, body))
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"the request body is larger than {MAX_BODY >> 20} MiB")
    except Unavailable as e:
        return error(404, str(e))
    except GankitError as e:
        return error(400, one_line(e))


DIRECTIONS, DIRECTION_SAMPLES = 5, 2000


def _directions(G) -> tuple[list, list]:
    """The page's latent directions (gankit.models.latent.principal_directions of G's first features over 2,000
    draws of seed 0), as lists for JSON; none when they are not finite."""
    z = G.sample_z(DIRECTION_SAMPLES, generator=torch.Generator().manual_seed(0), device="cpu")
    inputs = [z] + ([torch.arange(len(z)) % G.num_classes] if G.num_classes else [])
    directions, spreads = principal_directions(z, first_features(G, *inputs), DIRECTIONS)
    if not (directions.isfinite().all() and spreads.isfinite().all()):
        return [], []  # G's weights overflow: no directions to offer
    return directions.tolist(), spreads.tolist()


def build_explore_app(run_dir: Path, access) -> web.Application:
    """The explorer's routes over the run's generator (EMA copy when kept), from the run's latest good checkpoint
    alone: the training pictures load on the first /api/nearest. A points run is a GankitError."""
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
    app = web.Application(client_max_size=MAX_BODY, middlewares=[host_allow_list])
    app[ACCESS], app[COMMAND] = access, "gankit explore"
    app[GENERATOR] = G, info, TrainingPictures(meta["config"])
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
