# The kernel opts of opts.py: tile-aligned opts for NEW's output transform on a GPU (tinygrad's PYTHON device emulates one with
# local threads), register blocking for NEW's MHAT on a CPU. Each must fire on NEW's kernel, keep the result, and leave every
# other kernel, OLD's included, to tinygrad's heuristic: OLD's timings are the baseline.
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context, nn
from tinygrad_wino import tg, toggle
from helpers import conv_ref, rel_err

@pytest.mark.parametrize("xs,kwargs,epilogue", [((2, 16, 14, 14), dict(padding=1), False), ((1, 8, 7, 7), dict(padding=1), True),
                                                ((1, 4, 13, 30), dict(padding=(0, 2, 1, 0)), False), ((2, 4, 12, 12), dict(padding=1), True)])
def test_gpu_output_transform_computes_whole_tiles(xs, kwargs, epilogue):
  # on a GPU-class device the output transform fused into the conv's consumer gets tile-aligned opts (opts.py): its two spatial
  # dims padded to whole 4x4 tiles and upcast by 4, so the kernel's name ends in two upcasts of 4 (tinygrad's heuristic gives
  # 14x14 2x2 and 7x7 7x7). The padded outputs must not be stored, the bias and relu fused after the transform must stay right.
  rng = np.random.default_rng(0)
  x, w, b = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((8, xs[1], 3, 3)) / 5).astype(np.float32), np.arange(8.0) - 4
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4):
    out = Tensor(x, device="PYTHON").conv2d(Tensor(w, device="PYTHON"), Tensor(b.astype(np.float32), device="PYTHON") if epilogue else None, **kwargs)
    if epilogue: out = out.relu()
    linear, var_vals = tg.schedule(out)
    names = [n for n, _ in tg.run_kernels(tg.compile_schedule(linear), var_vals)]
  assert len(tinygrad_wino.stats.rewritten) == 1 and names[-1].endswith("_4_4"), names
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)
  if epilogue: ref = np.maximum(ref + b[None, :, None, None], 0)
  assert rel_err(out.numpy(), ref) <= 2e-5

def test_output_transform_opts_touch_only_news_output_kernel():
  # the tile-aligned opts recognize NEW's output kernel by its reads; XHAT (OLD's too) also reads one buffer at 36 places, and
  # OLD's output kernel reads by tiles as well: tinygrad's heuristic must keep optimizing those, OLD's timings are the baseline.
  # WINO_OPTS=0 turns the opts off. PARALLEL=0 compiles here, where the spy is
  hits: list[tuple[str, int, tuple[int, ...]]] = []
  def spy(k):
    if (ret:=toggle.kernel_opts(k)) is not None: hits.append((mode, on, tuple(int(r.vmax + 1) for r in k.rngs)))
    return ret
  tg.install_kernel_opts(spy)
  try:
    for mode, on in (("new", 1), ("old", 1), ("new", 0)):
      for xs in ((2, 8, 14, 14), (1, 64, 112, 112), (3, 8, 28, 28)):
        with tinygrad_wino.using(mode), Context(WINO_TILE=4, WINO_OPTS=on, PARALLEL=0, CACHELEVEL=0):
          tg.clear_caches()
          x, w = Tensor.empty(*xs, device="PYTHON"), Tensor.empty(xs[1], xs[1], 3, 3, device="PYTHON")
          tg.compile_schedule(tg.schedule(x.conv2d(w, padding=1))[0])
  finally: tg.install_kernel_opts(toggle.kernel_opts)
  assert hits == [("new", 1, (2, 8, 14, 14)), ("new", 1, (64, 28, 4, 28, 4)), ("new", 1, (3, 8, 7, 4, 7, 4))], hits

def _opts_hits(cases, modes=("new", "old", None), opts=1) -> list[tuple]:
  """(mode, case) for each kernel that opts.py optimized, compiling here (PARALLEL=0), where the spy is."""
  hits: list[tuple] = []
  def spy(k):
    if (ret:=toggle.kernel_opts(k)) is not None: hits.append((mode, name))
    return ret
  tg.install_kernel_opts(spy)
  try:
    for mode in modes:
      for name, make in cases:
        with tinygrad_wino.using(mode), Context(WINO_TILE=4, WINO_OPTS=opts, PARALLEL=0, CACHELEVEL=0):
          tg.clear_caches()
          tg.compile_schedule(tg.schedule(*make())[0])
  finally: tg.install_kernel_opts(toggle.kernel_opts)
  return hits

def _conv_and_grads():
  x, w = Tensor.empty(4, 32, 16, 16), Tensor.empty(32, 32, 3, 3)
  x.requires_grad = w.requires_grad = True
  return x.conv2d(w, padding=1).square().sum().gradient(x, w)

CPU_CASES = [("conv", lambda: [Tensor.empty(8, 64, 14, 14).conv2d(Tensor.empty(64, 64, 3, 3), padding=1)]),
             ("conv1d", lambda: [Tensor.empty(4, 32, 64).conv2d(Tensor.empty(32, 32, 3), padding=1)]),
             ("grads", _conv_and_grads),
             ("linear", lambda: [nn.Linear(256, 512)(Tensor.empty(64, 256))]),
             ("batched matmul", lambda: [Tensor.empty(36, 128, 256) @ Tensor.empty(36, 256, 256)])]

def test_mhat_opts_touch_only_news_mhat_kernel():
  # on the CPU, NEW's MHAT gets register-blocked opts; OLD's MHAT, a Linear and a batched matmul keep tinygrad's heuristic
  assert _opts_hits(CPU_CASES) == [("new", "conv"), ("new", "conv1d"), ("new", "grads")]
  assert _opts_hits(CPU_CASES, ("new",), opts=0) == []

@pytest.mark.parametrize("xs,ws,kwargs", [((3, 24, 13, 11), (16, 24, 3, 3), dict(padding=1)), ((2, 40, 9), (24, 40, 3), dict(padding=2)),
                                         ((2, 16, 10, 10), (8, 16, 3, 3), dict(padding=(0, 2, 1, 0)))])
def test_mhat_opts_match(xs, ws, kwargs):
  # register blocking changes only the order of MHAT's loops: NEW with the opts and without agree to rounding, and match float64
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal(ws) / 5).astype(np.float32)
  outs = []
  for opts in (1, 0):
    with tinygrad_wino.using("new"), Context(WINO_TILE=4, WINO_OPTS=opts, PARALLEL=0, CACHELEVEL=0):
      tg.clear_caches()
      outs.append(Tensor(x).conv2d(Tensor(w), **kwargs).numpy())
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)
  assert rel_err(outs[0], ref) <= 2e-5 and rel_err(outs[0], outs[1]) <= 1e-6
