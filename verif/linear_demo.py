"""The hand-written int8 linear layer (``verif/programs/linear.s``) on the chip.

:func:`linear_case` assembles the program for a configuration, draws ``x``,
``W`` and ``b`` from a seed, lays them out in SRAM as the program's header
says, and returns the case with the numpy reference of ``y``;
:func:`read_y` extracts ``y`` from an observation.
"""

from importlib import resources

import numpy as np

from openlpu.asm import assemble

from .lpu_cases import make_case

__all__ = ["PROGRAM", "linear_case", "read_y", "reference"]

ROWS, M, S = 4, 3, 10
PROGRAM = resources.files("openlpu.verif").joinpath("programs/linear.s")


def reference(x, w, b):
    """numpy: ``min(max(((x @ W + b) * M + 2**(S-1)) >> S, 0), 127)`` in wrapping int32."""
    acc = (x.astype(np.int64) @ w.astype(np.int64) + b).astype(np.int32)
    v = (acc.astype(np.int64) * M).astype(np.int32).astype(np.int64) + (1 << (S - 1))
    v = v.astype(np.int32) >> S
    return np.clip(v, 0, 127).astype(np.int8)


def linear_case(cfg, seed=1):
    if cfg.mem_slices < 8 or cfg.mxm_load_rows != 2:
        raise ValueError("the linear-layer program needs 4 MEM slices west of the VXM and mxm_load_rows = 2 "
                         "(the small preset)")
    rng = np.random.default_rng(seed)
    L = cfg.lanes
    x = rng.integers(-128, 128, (ROWS, L)).astype(np.int8)
    w = rng.integers(-128, 128, (L, L)).astype(np.int8)
    b = rng.integers(-4096, 4096, L).astype(np.int32)
    program = assemble(PROGRAM.read_text(), cfg)
    sram = {(k % 2, 64 + k // 2): w[k].view(np.uint8) for k in range(L)}
    sram.update({(1, m): x[m].view(np.uint8) for m in range(ROWS)})
    planes = b.view(np.uint8).reshape(L, 4)
    sram.update({(j, 32): planes[:, j].copy() for j in range(4)})
    case = make_case(cfg, program, sram=sram, windows=[(4, 16, ROWS)])
    return case, reference(x, w, b)


def read_y(cfg, obs):
    data = np.frombuffer(bytes.fromhex(obs["windows"][0]), np.uint8).reshape(ROWS, cfg.lanes)
    return data.view(np.int8)
