"""The trainer's persistent state: what a checkpoint holds, writing and restoring it, the disk-space check before a
run starts, and the divergence policy that rolls back to the newest good checkpoint. A mixin of
:class:`gankit.train.loop.Trainer` (it uses the trainer's models, optimisers, generators, sampler and counters).
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

import torch

from ..errors import RunDirError, TrainingDiverged
from . import checkpoint as ckpt
from . import distributed
from .cudagraph import make_capturable
from .guard import all_finite

log = logging.getLogger(__name__)


class RunState:
    """Checkpoint, restore and divergence handling for the Trainer."""

    def _check_free_space(self) -> None:
        keep = self.cfg.train.keep_checkpoints
        per_checkpoint = sum(v.numel() * v.element_size() for v in self.state_tensors()[0].values())
        needed = (keep + 2) * per_checkpoint  # the kept ones, the one being written, and a margin
        existing = next(p for p in (self.run_dir.absolute(), *self.run_dir.absolute().parents) if p.exists())
        free = shutil.disk_usage(existing).free
        if free < needed:
            raise RunDirError(f"run folder {self.run_dir}: {free / 2**20:.1f} MiB free, but keeping {keep} "
                              f"checkpoints of {per_checkpoint / 2**20:.1f} MiB needs about {needed / 2**20:.1f} MiB")

    def _checked_checkpoint(self) -> bool:
        """Write a checkpoint if the weights are finite (True); otherwise apply the divergence policy (False)."""
        if not all_finite(list(self.G.parameters()) + list(self.D.parameters())):
            self._on_divergence("non-finite weights")
            return False
        self.save_checkpoint()
        return True

    def _on_divergence(self, what: str) -> None:
        """``train.on_divergence``: roll back to the newest good checkpoint with learning rates × the factor, or
        stop; TrainingDiverged when stopping or after ``max_rollbacks``."""
        t, folder = self.cfg.train, self.run_dir / "checkpoints"
        where = f"{what} at step {self.step}"
        if t.on_divergence == "stop" or self.rollbacks >= t.max_rollbacks:
            why = "train.on_divergence=stop" if t.on_divergence == "stop" else \
                f"gave up after {self.rollbacks} rollbacks (train.max_rollbacks)"
            self._note(self.step, "diverged", f"{where}; stopped: {why}")
            raise TrainingDiverged(f"training diverged: {where}; stopped ({why}); the last good checkpoint is "
                                   f"{ckpt.step_name(self.last_checkpoint_step)} in {folder}")
        good = ckpt.load_latest_good(folder)
        if good is None:
            raise TrainingDiverged(f"training diverged: {where}, and {folder} holds no readable checkpoint")
        rollbacks, scale = self.rollbacks + 1, self.lr_scale * t.rollback_lr_factor
        bad_step = self.step
        self._restore(good)
        self.rollbacks, self.lr_scale = rollbacks, scale
        self._note(bad_step, "rollback", f"{where}: rolled back to step {self.step}, learning rates × {scale:g} "
                                         f"(rollback {rollbacks} of at most {t.max_rollbacks})")
        self._metrics.close()
        self._metrics = self._open_metrics()

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed to continue exactly: (tensors, JSON-able metadata)."""
        tensors = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        tensors.update({f"D.{k}": v for k, v in self.D.state_dict().items()})
        opt_g, meta_g = ckpt.optimizer_to_flat("opt_g", self.players.opt_g)
        opt_d, meta_d = ckpt.optimizer_to_flat("opt_d", self.players.opt_d)
        perm, cursor = self.sampler.state()
        tensors.update(opt_g)
        tensors.update(opt_d)
        tensors.update({"rng.noise": self.noise_gen.get_state(), "rng.data": self.data_gen.get_state(),
                        "rng.aug": self.aug_gen.get_state(), "rng.reg": self.reg_gen.get_state(),
                        "rng.torch": torch.get_rng_state(), "sampler.perm": perm})
        if self.ema is not None:
            tensors.update({f"G_ema.{k}": v for k, v in self.ema.state_dict().items()})
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {"step": self.step, "nimg": self.nimg, "elapsed_s": self.elapsed_s, "sampler_cursor": cursor,
                "opt_g": meta_g, "opt_d": meta_d, "config": self.cfg.to_dict(), "device": str(self.device),
                "kind": self.dataset.kind, "sample_shape": list(self.dataset.sample_shape),
                "num_classes": self.num_classes, "lr_scale": self.lr_scale, "rollbacks": self.rollbacks,
                "own_models": self.own_models}
        return tensors, meta

    def save_checkpoint(self) -> str:
        """Rank 0 writes the checkpoint (with every rank's dropout RNG state); all ranks wait for it."""
        tensors, meta = self.state_tensors()
        if self.dist.active:
            states = distributed.gather_tensor(torch.get_rng_state(), self.dist, self.device)
            tensors.update({f"rng.torch.rank{r}": s for r, s in enumerate(states)})
            meta["world_size"] = self.dist.world
        name = ckpt.step_name(self.step)
        if self.dist.is_main:
            ckpt.save(self.run_dir / "checkpoints", self.step, tensors, meta, self.cfg.train.keep_checkpoints)
            log.info("checkpoint %s written", name)
        distributed.barrier(self.dist)
        self.last_checkpoint_step = self.step
        return name

    def _restore(self, c: ckpt.Checkpoint) -> None:
        def sub(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix):]: v for k, v in c.tensors.items() if k.startswith(prefix)}

        self.G.load_state_dict(sub("G."))
        self.D.load_state_dict(sub("D."))
        ckpt.optimizer_from_flat("opt_g", self.players.opt_g, c.tensors, c.meta["opt_g"])
        ckpt.optimizer_from_flat("opt_d", self.players.opt_d, c.tensors, c.meta["opt_d"])
        self._hyper_written = None
        if self.captured is not None:  # loading replaced the optimiser state tensors the graph had captured
            for opt in (self.players.opt_g, self.players.opt_d):
                make_capturable(opt, self.device)
            self.captured.invalidate()
        self.noise_gen.set_state(c.tensors["rng.noise"])
        self.data_gen.set_state(c.tensors["rng.data"])
        self.aug_gen.set_state(c.tensors["rng.aug"])
        self.reg_gen.set_state(c.tensors["rng.reg"])
        if self.ema is not None:
            self.ema.load_state_dict(sub("G_ema."))
        torch.set_rng_state(c.tensors.get(f"rng.torch.rank{self.dist.rank}", c.tensors["rng.torch"]))
        if self.device.type == "cuda" and "rng.cuda" in c.tensors:
            torch.cuda.set_rng_state(c.tensors["rng.cuda"], self.device)
        self.sampler.restore(c.tensors["sampler.perm"], c.meta["sampler_cursor"])
        self.step, self.nimg, self.elapsed_s = c.meta["step"], c.meta["nimg"], c.meta["elapsed_s"]
        self.lr_scale, self.rollbacks = c.meta.get("lr_scale", 1.0), c.meta.get("rollbacks", 0)
        self.players.d_updates = self.step * self.cfg.train.k
        self.last_checkpoint_step = self.step
