# Gradients of x, w and bias through NEW match direct conv's, and the backward convs go through NEW too: the input gradient as
# a forward-form conv, the weight gradient by the transposed algorithm.
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context
from tinygrad_wino import tg
from helpers import conv_ref, rel_err

CASES = {
  "2d_pad1_bias": ((2, 4, 9, 7), (5, 4, 3, 3), dict(padding=1)),
  "2d_groups_asymmetric": ((1, 6, 8, 10), (4, 3, 3, 3), dict(padding=(1, 0, 2, 1), groups=2)),
  "1d": ((2, 3, 11), (4, 3, 3), dict(padding=1)),
  "3d": ((1, 2, 5, 6, 4), (3, 2, 3, 3, 3), dict(padding=1)),
  # on a CPU the forward conv's and the input gradient's X rows (2 x 128 tiles) are padded, the forward conv's G rows too, and the
  # weight gradient pads X alike (test_weight_gradient_shares_a_padded_xhat)
  "1d_rows_padded": ((2, 4, 256), (128, 4, 3), dict(padding=1)),
}

def grads(mode, xn, wn, bn, kwargs, joint=False):
  x, w, b = Tensor(xn), Tensor(wn), Tensor(bn)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using(mode), Context(SCACHE=0):
    out = x.conv2d(w, b, **kwargs)
    (out * out).sum().backward()  # the gradient reads the forward output, so NEW's forward feeds it
    if joint: Tensor.realize(out, x.grad, w.grad, b.grad)  # one schedule, as a training step realizes them
    ret = [t.numpy() for t in (out, x.grad, w.grad, b.grad)]
  return ret, list(tinygrad_wino.stats.rewritten)

@pytest.mark.parametrize("joint", [False, True], ids=["one_by_one", "joint"])
@pytest.mark.parametrize("name", CASES)
def test_gradients_match_direct(name, joint):
  # the input gradient is tinygrad's conv2d built while tinygrad's WINO flag selects NEW: it must be a direct conv that the rule
  # rewrites, not OLD's tensor-level winograd (which a weaker count let through)
  xs, ws, kwargs = CASES[name]
  rng = np.random.default_rng(0)
  xn, wn, bn = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
  direct, _ = grads(None, xn, wn, bn, kwargs)
  new, rewrites = grads("new", xn, wn, bn, kwargs, joint)
  assert sum("weight gradient" in r for r in rewrites) == 1, f"the weight gradient must go through NEW: {rewrites}"
  # realized one by one, each gradient's schedule recomputes the forward conv; realized together, the forward and dx convs are one each
  convs = sum(f"{len(xs) - 2}-D conv" in r for r in rewrites)
  assert convs == 2 if joint else convs >= 2, f"the forward and input-gradient convs must go through NEW: {rewrites}"
  for what, d, n in zip(("out", "x.grad", "w.grad", "bias.grad"), direct, new):
    assert n.shape == d.shape and rel_err(n, d.astype(np.float64)) <= 2e-5, what

@pytest.mark.parametrize("upstream", ["mean", "arange"])
def test_constant_upstream_gradients_match_direct(upstream):
  # a mean loss's upstream gradient is one value: the input gradient convolves a padded constant (no memory read along the taps,
  # still a conv), and the weight gradient is summed once for all output channels. An arange is deviceless too but varies, and
  # takes the general form. Neither upstream gradient reads the forward output, so the forward conv is not in these schedules.
  rng = np.random.default_rng(0)
  xn, wn = rng.standard_normal((2, 4, 9, 7)).astype(np.float32), rng.standard_normal((6, 2, 3, 3)).astype(np.float32)
  ret = {}
  for mode in (None, "new"):
    x, w = Tensor(xn), Tensor(wn)
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using(mode):
      out = x.conv2d(w, padding=1, groups=2)
      loss = out.mean() if upstream == "mean" else (out * Tensor.arange(out.numel()).reshape(out.shape).float()).sum()
      ret[mode] = [t.numpy() for t in loss.gradient(x, w)]
  rewrites = tinygrad_wino.stats.rewritten
  assert sum("2-D conv" in r for r in rewrites) == 1 and sum("weight gradient" in r for r in rewrites) == (upstream == "arange"), \
    (rewrites, tinygrad_wino.stats.skipped)
  for d, n in zip(ret[None], ret["new"]): assert rel_err(n, d.astype(np.float64)) <= 2e-5

@pytest.mark.parametrize("device", ["CPU", "PYTHON"])
def test_weight_gradient_shares_the_forward_xhat(device):
  # a training step's weight gradient transforms the input at the same tiles as its forward conv (on a GPU-class device too, where
  # both pad the tile row): one XHAT kernel reads the input for both, so the three rewritten convs take 11 kernels, not 12
  rng = np.random.default_rng(0)
  x = Tensor(rng.standard_normal((2, 4, 16, 16)).astype(np.float32), device=device).realize()
  w = Tensor(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), device=device).realize()
  x.requires_grad = w.requires_grad = True
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4):
    gx, gw = x.conv2d(w, padding=1).square().sum().gradient(x, w)
    linear, var_vals = tg.schedule(gx, gw)
    tg.run_kernels(tg.compile_schedule(linear), var_vals)
  calls = [c for c in linear.src if c.op is tg.Ops.CALL]
  assert len(tinygrad_wino.stats.rewritten) == 3 and len(calls) == 11
  assert sum(any(s.base is x.uop.base for s in c.src[1:]) for c in calls) == 1
  assert rel_err(gw.numpy(), weight_grad_ref(x.numpy(), w.numpy())) <= 2e-5

def test_weight_gradient_shares_a_padded_xhat():
  # on a CPU the forward conv pads X's rows (2 x 128 tiles, 1024 bytes a row: 132 tiles) and the weight gradient, which transforms
  # the same input, pads alike: one XHAT kernel still reads the input for both
  rng = np.random.default_rng(1)
  xn, wn = rng.standard_normal((2, 4, 256)).astype(np.float32), (rng.standard_normal((4, 4, 3)) / 4).astype(np.float32)
  def step(mode):
    x, w = Tensor(xn).realize(), Tensor(wn).realize()
    x.requires_grad = w.requires_grad = True
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using(mode), Context(SCACHE=0):
      gx, gw = x.conv2d(w, padding=1).square().sum().gradient(x, w)
      linear, var_vals = tg.schedule(gx, gw)
      tg.run_kernels(tg.compile_schedule(linear), var_vals)
    return [c for c in linear.src if c.op is tg.Ops.CALL], x, gw.numpy(), list(tinygrad_wino.stats.rewritten)
  calls, x, new, rewrites = step("new")
  assert len(rewrites) == 3 and all("X rows padded to [132] tiles" in r for r in rewrites), rewrites
  assert sum(any(s.base is x.uop.base for s in c.src[1:]) for c in calls) == 1
  assert rel_err(new, step(None)[2].astype(np.float64)) <= 2e-5

def weight_grad_ref(xn:np.ndarray, wn:np.ndarray) -> np.ndarray:
  """d/dw sum(conv(x, w)^2) in float64 numpy: 2 * correlation of the input with the conv's output."""
  out = conv_ref(xn.astype(np.float64), wn.astype(np.float64), padding=1)
  xp = np.pad(xn.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
  h, w_ = out.shape[2:]
  return np.stack([np.stack([2 * np.einsum("bohw,bihw->oi", out, xp[:, :, ky:ky + h, kx:kx + w_]) for kx in range(3)], -1) for ky in range(3)], -2)
