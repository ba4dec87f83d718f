"""The playground: watch and steer GAN training live in the browser (``gankit playground``).

A local aiohttp server (:mod:`.server`) trains gankit's own models with gankit's trainer, objectives and metrics, one
worker thread per session (:mod:`.session`), on the built-in 1-D/2-D distributions or the user's uploaded points
(:mod:`.uploads`), and streams pictures of G and D (:mod:`.views`) to a static page over a WebSocket. The page can
save the state as a normal run folder (:mod:`.runs`).
"""

from .server import build_app, serve, start

__all__ = ["build_app", "serve", "start"]
