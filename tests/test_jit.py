# NEW under TinyJit, the way programs run inference: the captured kernels replay on new inputs and read the weight buffer on every
# call, and TinyJit(prune=True) leaves the weight transform (GHAT: it reads only the weight) out of the replays, so it runs once per
# weight buffer (tinygrad's contract for prune: the buffers of a pruned kernel do not change between calls).
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, TinyJit, Context
from tinygrad_wino.tg import replay_jit
from helpers import conv_ref, rel_err

def _jit(w:Tensor, prune:bool) -> TinyJit:
  return TinyJit(lambda x: x.conv2d(w, padding=1).realize(), prune=prune)

def _inputs(n:int) -> list[np.ndarray]:
  rng = np.random.default_rng(0)
  return [rng.standard_normal((2, 4, 10, 9), dtype=np.float32) for _ in range(n)]

def test_new_conv_replays_new_inputs_and_reads_the_weight_on_every_call():
  rng = np.random.default_rng(1)
  wn, wn2 = (rng.standard_normal((6, 4, 3, 3), dtype=np.float32) for _ in range(2))
  w = Tensor(wn).realize()
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(JIT=2):
    jit = _jit(w, prune=False)
    xs = _inputs(4)
    for xn in xs[:2]: jit(Tensor(xn).realize())  # a plain run, then the capture
    assert tinygrad_wino.stats.rewritten and len(jit.captured.linear.src) == 4  # XHAT, GHAT, MHAT, output transform
    for xn in xs[2:]: assert rel_err(jit(Tensor(xn).realize()).numpy(), conv_ref(xn, wn, padding=1)) < 1e-5
    # a weight written in place between calls: the replay transforms it again
    w.assign(Tensor(wn2)).realize()
    assert rel_err(jit(Tensor(xs[0]).realize()).numpy(), conv_ref(xs[0], wn2, padding=1)) < 1e-5

@pytest.mark.parametrize("mode", ["new", "old"])
def test_prune_leaves_the_weight_transform_out_of_the_replays(mode):
  wn = np.random.default_rng(2).standard_normal((6, 4, 3, 3), dtype=np.float32)
  w, xs = Tensor(wn).realize(), _inputs(3)
  with tinygrad_wino.using(mode), Context(JIT=2):
    tinygrad_wino.stats.reset()
    full, pruned = _jit(w, prune=False), _jit(w, prune=True)
    for jit in (full, pruned):
      for xn in xs[:2]: jit(Tensor(xn).realize())
    assert bool(tinygrad_wino.stats.rewritten) == (mode == "new")
    x = Tensor(xs[2]).realize()
    names, pruned_names = [n for n, _ in replay_jit(full, x)], [n for n, _ in replay_jit(pruned, x)]
    # the replay runs the transforms of the input, the product and the output transform; GHAT ran once, at the capture
    assert len(names) == 4 and len(pruned_names) == 3 and set(pruned_names) < set(names)
    assert rel_err(pruned(x).numpy(), conv_ref(xs[2], wn, padding=1)) < 1e-5
