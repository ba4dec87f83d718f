"""Pack the Inception TorchScript into files smaller than the 83 MiB original, for a machine it cannot be copied to
whole (e.g. where a copy is limited to 64 MiB): the module with zeroed tensors (compresses to almost nothing) plus
its tensors in bfloat16.

    python benchmarks/pack_inception.py pack OUT_DIR        # writes inception.pt.xz, inception.bf16.safetensors
    python benchmarks/pack_inception.py unpack OUT_DIR PT   # there: rebuilds a TorchScript file at PT

The rebuilt weights are the originals rounded to bfloat16: good for timing (speed does not depend on the weights'
values), not for FID numbers.
"""

from __future__ import annotations

import io
import lzma
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def pack(out: Path) -> None:
    from gankit.metrics.inception import default_weights_path

    model = torch.jit.load(str(default_weights_path()), map_location="cpu")
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for v in model.state_dict().values():
            v.zero_()
    buffer = io.BytesIO()
    torch.jit.save(model, buffer)
    out.mkdir(parents=True, exist_ok=True)
    (out / "inception.pt.xz").write_bytes(lzma.compress(buffer.getvalue()))
    save_file(state, str(out / "inception.bf16.safetensors"))


def unpack(out: Path, target: Path) -> None:
    model = torch.jit.load(
        io.BytesIO(lzma.decompress((out / "inception.pt.xz").read_bytes())), map_location="cpu"
    )
    state = load_file(str(out / "inception.bf16.safetensors"))
    with torch.no_grad():
        for k, v in model.state_dict().items():
            v.copy_(state[k].float())
    torch.jit.save(model, str(target))


if __name__ == "__main__":
    if sys.argv[1:2] == ["pack"] and len(sys.argv) == 3:
        pack(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["unpack"] and len(sys.argv) == 4:
        unpack(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(__doc__)
