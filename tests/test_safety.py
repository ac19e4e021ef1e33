# Never break a program: a failing rewrite falls back to direct conv with one warning (WINO_STRICT=1 raises), skipped convs say
# why at DEBUG=2, and zero-size, symbolic-batch, huge fp16, NaN and sharded inputs behave.
import contextlib, io, warnings
import numpy as np
import pytest
import tinygrad_wino
import tinygrad_wino.rules as rules
from tinygrad import Tensor, Context, Variable, dtypes
from helpers import conv_ref, rel_err, run_conv

rng = np.random.default_rng(0)
XN, WN = rng.standard_normal((2, 4, 10, 10)).astype(np.float32), rng.standard_normal((6, 4, 3, 3)).astype(np.float32)

def test_failing_rewrite_falls_back_to_direct_with_one_warning(monkeypatch):
  def broken(ctx, conv): raise ValueError("broken on purpose")
  monkeypatch.setattr(rules, "_rewrite", broken)
  direct, _ = run_conv(None, XN, WN, padding=1)
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out, rewrites = run_conv("new", XN, WN, padding=1)
  assert not rewrites and np.array_equal(out, direct)
  assert [str(w.message) for w in caught if "tinygrad_wino" in str(w.message)] == [
    "tinygrad_wino: the winograd rewrite of a conv failed (ValueError: broken on purpose); it runs as a direct conv. WINO_STRICT=1 raises instead."]
  assert tinygrad_wino.stats.skipped == ["the rewrite failed: ValueError: broken on purpose"]

def test_strict_raises(monkeypatch):
  def broken(ctx, conv): raise ValueError("broken on purpose")
  monkeypatch.setattr(rules, "_rewrite", broken)
  with Context(WINO_STRICT=1), pytest.raises(ValueError, match="broken on purpose"): run_conv("new", XN, WN, padding=1)

def test_rewrite_that_leaks_ranges_is_refused(monkeypatch):
  # an invalid graph (the value reads a range the conv's value does not) must never be handed on
  def leaky(ctx, conv): return conv.red.src[0], "leaky"
  monkeypatch.setattr(rules, "_rewrite", leaky)
  with warnings.catch_warnings(record=True):
    warnings.simplefilter("always")
    out, rewrites = run_conv("new", XN, WN, padding=1)
  assert not rewrites and rel_err(out, conv_ref(XN, WN, padding=1)) <= 1e-5
  assert tinygrad_wino.stats.skipped[0].startswith("the rewrite failed: RuntimeError: the rewrite leaks ranges")

@pytest.mark.parametrize("kwargs,wshape,why", [(dict(stride=2), (6, 4, 3, 3), "a strided or dilated kernel axis"),
                                               (dict(dilation=(1, 2)), (6, 4, 3, 3), "a strided or dilated kernel axis"),
                                               ({}, (6, 4, 5, 5), "kernel size [5, 5], only 3")])
def test_debug_2_says_why_a_conv_is_kept(kwargs, wshape, why):
  stdout, w = io.StringIO(), rng.standard_normal(wshape).astype(np.float32)
  with Context(DEBUG=2), contextlib.redirect_stdout(stdout): _, rewrites = run_conv("new", XN, w, **kwargs)
  assert not rewrites and f"winograd: kept a direct conv: {why}" in stdout.getvalue() and why in tinygrad_wino.stats.skipped

def test_debug_2_names_the_rewrite():
  stdout = io.StringIO()
  with Context(DEBUG=2), contextlib.redirect_stdout(stdout): run_conv("new", XN, WN, padding=1)
  assert "winograd: rewrote 2-D conv, spatial [10, 10], F(2,3), 1 reduced axes; cost model (CPU" in stdout.getvalue()

def test_zero_size_batch():
  with tinygrad_wino.using("new"): out = Tensor.empty(0, 4, 10, 10).conv2d(Tensor(WN), padding=1)
  assert out.shape == (0, 6, 10, 10) and out.numpy().shape == (0, 6, 10, 10)

def test_symbolic_batch():
  x, w = Tensor(np.concatenate([XN, XN[::-1]])).realize(), Tensor(WN).realize()
  ref = conv_ref(x.numpy(), WN, padding=1)
  for b in (3, 4):
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using("new"), Context(SCACHE=0): out = x[:Variable("b", 1, 4).bind(b)].conv2d(w, padding=1).realize()
    assert tinygrad_wino.stats.rewritten and rel_err(out[:b].numpy(), ref[:b]) <= 2e-5

@pytest.mark.parametrize("scale_x,scale_w", [(60000, 1e-3), (1, 1000)])
def test_huge_fp16_magnitudes_make_no_new_inf(scale_x, scale_w):
  # XHAT and GHAT are stored in half scaled by a power of two, so they overflow only where their inputs do
  x = (rng.uniform(-1, 1, (2, 8, 12, 12)) * scale_x).astype(np.float16)
  w = (rng.uniform(-1, 1, (4, 8, 3, 3)) * scale_w).astype(np.float16)
  new, rewrites = run_conv("new", x, w, dtype=dtypes.float16, padding=1)
  direct, _ = run_conv(None, x, w, dtype=dtypes.float16, padding=1)
  assert rewrites and np.isfinite(direct).all() and np.isfinite(new).all()
  assert rel_err(new, conv_ref(x, w, padding=1)) <= 6e-3

def test_nan_spreads_to_the_tiles_that_read_it():
  # a NaN input makes NaN every output of each tile whose 6x6 input window holds it: all of direct conv's NaNs, and more
  x = XN.copy()
  x[0, 0, 5, 5] = np.nan
  new, rewrites = run_conv("new", x, WN, padding=1)
  direct, _ = run_conv(None, x, WN, padding=1)
  nan_new, nan_direct = np.isnan(new), np.isnan(direct)
  assert rewrites and nan_direct.any() and (nan_direct <= nan_new).all() and not nan_new[1].any()
  assert np.array_equal(np.argwhere(nan_new.any(axis=(0, 1))).min(0) // 4, [1, 1])
  assert rel_err(new[~nan_new], direct[~nan_new]) <= 2e-5

@pytest.mark.parametrize("axis", [0, None])
def test_sharded_convs_take_new(axis):
  devices = ("CPU:0", "CPU:1")
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(SCACHE=0): out = Tensor(XN).shard(devices, axis=axis).conv2d(Tensor(WN).shard(devices), padding=1).numpy()
  assert tinygrad_wino.stats.rewritten and rel_err(out, conv_ref(XN, WN, padding=1)) <= 2e-5
