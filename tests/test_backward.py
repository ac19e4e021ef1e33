# Gradients of x, w and bias through NEW match direct conv's, and the backward convs go through NEW too: the input gradient as
# a forward-form conv, the weight gradient by the transposed algorithm.
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context
from helpers import rel_err

CASES = {
  "2d_pad1_bias": ((2, 4, 9, 7), (5, 4, 3, 3), dict(padding=1)),
  "2d_groups_asymmetric": ((1, 6, 8, 10), (4, 3, 3, 3), dict(padding=(1, 0, 2, 1), groups=2)),
  "1d": ((2, 3, 11), (4, 3, 3), dict(padding=1)),
  "3d": ((1, 2, 5, 6, 4), (3, 2, 3, 3, 3), dict(padding=1)),
}

def grads(mode, xn, wn, bn, kwargs):
  x, w, b = Tensor(xn), Tensor(wn), Tensor(bn)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using(mode), Context(SCACHE=0):
    out = x.conv2d(w, b, **kwargs)
    (out * out).sum().backward()  # the gradient reads the forward output, so NEW's forward feeds it
    ret = [t.numpy() for t in (out, x.grad, w.grad, b.grad)]
  return ret, list(tinygrad_wino.stats.rewritten)

@pytest.mark.parametrize("name", CASES)
def test_gradients_match_direct(name):
  xs, ws, kwargs = CASES[name]
  rng = np.random.default_rng(0)
  xn, wn, bn = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
  direct, _ = grads(None, xn, wn, bn, kwargs)
  new, rewrites = grads("new", xn, wn, bn, kwargs)
  assert sum("weight gradient" in r for r in rewrites) == 1, f"the weight gradient must go through NEW: {rewrites}"
  assert sum(f"{len(xs) - 2}-D conv" in r for r in rewrites) >= 2, f"the forward and input-gradient convs must go through NEW: {rewrites}"
  for what, d, n in zip(("out", "x.grad", "w.grad", "bias.grad"), direct, new):
    assert n.shape == d.shape and rel_err(n, d.astype(np.float64)) <= 2e-5, what
