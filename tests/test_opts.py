# The kernel opts of opts.py: on a GPU (tinygrad's PYTHON device emulates one with local threads) threads along XHAT's tiles,
# tensor-core blocks for MHAT and tile-aligned opts for the output transform; register blocking for NEW's MHAT on a CPU. Each
# must fire on NEW's kernel, keep the result, and leave every other kernel, OLD's included, to tinygrad's heuristic: OLD's
# timings are the baseline.
import contextlib, json, os, pathlib, subprocess, sys
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context, nn
from tinygrad_wino import tg, toggle
from tinygrad_wino.opts import cpu_output_opts, cpu_xhat_opts, mhat_opts, output_transform_opts
from helpers import conv_ref, rel_err

# NEW with the opts and without, float32: the opts reorder the transforms' sums (a loop instead of an upcast, clang's contractions),
# which moves the last bits of the outputs
ROUNDING = 2e-6

@contextlib.contextmanager
def _output_transform_opts_seen():
  """The opts output_transform_opts gives each kernel compiled (here: PARALLEL=0) inside the block, one list a kernel it took."""
  seen: list[list] = []
  def spy(k):
    if (mine:=output_transform_opts(k)) is not None: seen.append(mine.applied_opts)
    return toggle.kernel_opts(k)
  tg.install_kernel_opts(spy)
  try: yield seen
  finally: tg.install_kernel_opts(toggle.kernel_opts)

def _assert_output_loads_ungated(compiled):
  # MHAT's loads in the output kernel (the schedule's last) carry no gate: a tile's outputs share them (PADTO alone gates each
  # output's own)
  loads = [u for u in [c.src[0] for c in compiled.src if c.op is tg.Ops.CALL][-1].src[1].src if u.op is tg.Ops.LOAD]
  assert loads and all(len(u.src) == 1 for u in loads), f"{sum(len(u.src) > 1 for u in loads)} of {len(loads)} loads gated"

@pytest.mark.parametrize("xs,kwargs,epilogue,suffix", [((2, 16, 14, 14), dict(padding=1), False, "_4_4_2"),
                                                       ((1, 8, 7, 7), dict(padding=1), True, "_4_4_2"),
                                                       ((1, 4, 13, 30), dict(padding=(0, 2, 1, 0)), False, "_4_4_2"),
                                                       ((2, 4, 12, 12), dict(padding=1), True, "_4_4_2"),
                                                       ((2, 8, 30), dict(padding=1), False, "_4_4"),
                                                       ((1, 4, 21), dict(padding=(0, 2)), True, "_4_4")])
def test_gpu_output_transform_computes_whole_tiles(xs, kwargs, epilogue, suffix):
  # on a GPU-class device the output transform fused into the conv's consumer gets tile-aligned opts (opts.py): its spatial dims
  # padded to whole tiles of 4 and upcast by 4, so the kernel's name ends in those upcasts of 4 and the output channels': 2 for a
  # 2-D conv, 4 for a 1-D one (tinygrad's heuristic gives 14x14 2x2 and 7x7 7x7, and a length of 30 or 21 outputs that select
  # their coefficients). The padded outputs must not be stored, the bias and relu fused after the transform must stay right. MHAT's
  # loads carry no gate: a tile's outputs share them (PADTO alone gates each output's own).
  rng = np.random.default_rng(0)
  nd = len(xs) - 2
  x, w, b = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((8, xs[1], *[3] * nd)) / 5).astype(np.float32), np.arange(8.0) - 4
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4):
    out = Tensor(x, device="PYTHON").conv2d(Tensor(w, device="PYTHON"), Tensor(b.astype(np.float32), device="PYTHON") if epilogue else None, **kwargs)
    if epilogue: out = out.relu()
    linear, var_vals = tg.schedule(out)
    compiled = tg.compile_schedule(linear)
    names = [n for n, _ in tg.run_kernels(compiled, var_vals)]
  assert len(tinygrad_wino.stats.rewritten) == 1 and names[-1].endswith(suffix), names
  _assert_output_loads_ungated(compiled)
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)
  if epilogue: ref = np.maximum(ref + b.reshape(-1, *[1] * nd), 0)
  assert rel_err(out.numpy(), ref) <= 2e-5

@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("groups,block", [(16, [2, 16]), (8, [2, 4])])
def test_gpu_output_transform_of_a_grouped_conv_threads_along_the_groups(relu, groups, block):
  # a grouped conv's output channels are a group's: at 4 (2 a thread after the upcast) the block gets no channel threads, and the
  # output transform (tinygrad's GPU-class PYTHON device) takes them along the groups, a block of 16 groups x 2 row tiles (with two
  # threads a block the H100 ran it at up to 0.47 of NEW's time), over the two ranges of the conv alone or the one range a relu on
  # its output makes (rules' group split). At 8 the block keeps its 4 channel threads (the groups' threads ran slower on the H100).
  # The output stays right. At batch 1 the groups are the kernel's first range, which the rule can't tell from an ungrouped conv's
  # batch: it leaves them alone
  rng = np.random.default_rng(5)
  x, w = rng.standard_normal((2, 64, 8, 8)).astype(np.float32), (rng.standard_normal((64, 64 // groups, 3, 3)) / 5).astype(np.float32)
  with _output_transform_opts_seen() as seen, tinygrad_wino.using("new"), Context(WINO_TILE=4, PARALLEL=0, CACHELEVEL=0):
    out = Tensor(x, device="PYTHON").conv2d(Tensor(w, device="PYTHON"), groups=groups, padding=1)
    out = (out.relu() if relu else out).numpy()
  blocks = [sorted(o.arg for o in opts if o.op is tg.OptOps.LOCAL) for opts in seen]
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), groups=groups, padding=1)
  assert blocks == [block] and rel_err(out, np.maximum(ref, 0) if relu else ref) <= 2e-5, blocks

@pytest.mark.parametrize("size,padded", [(28, True), (56, False), (24, False)])
def test_gpu_output_rows_of_an_odd_count_of_tiles_pad_to_four_threads(size, padded):
  # a row of 7 tiles (28x28) would get no threads along it; XHAT pads it to 8 tiles on a GPU (rules), so MHAT holds the padded tiles
  # and the output transform pads the row to 4 threads, MHAT's loads ungated. Rows of 14 tiles (56x56) keep their 2 threads (padded
  # to 16 they ran slower) and so do rows of 6 (24x24, which XHAT leaves unpadded: padding it would gate MHAT's loads). The output
  # stays right
  rng = np.random.default_rng(3)
  x, w = rng.standard_normal((1, 8, size, size)).astype(np.float32), (rng.standard_normal((8, 8, 3, 3)) / 5).astype(np.float32)
  with _output_transform_opts_seen() as found, tinygrad_wino.using("new"), Context(WINO_TILE=4, PARALLEL=0, CACHELEVEL=0):
    out = Tensor(x, device="PYTHON").conv2d(Tensor(w, device="PYTHON"), padding=1)
    linear, var_vals = tg.schedule(out)
    compiled = tg.compile_schedule(linear)
    tg.run_kernels(compiled, var_vals)
  assert len(found) == 1, found
  assert [o.arg for o in found[0] if o.op is tg.OptOps.LOCAL] == ([4, 4] if padded else [4, 2]), found
  assert sum(o.op is tg.OptOps.PADTO for o in found[0]) == padded, found
  _assert_output_loads_ungated(compiled)
  assert rel_err(out.numpy(), conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)) <= 2e-5

def _opts_hits(cases, modes=("new", "old", None), opts=1, device=None, tile=4) -> list[tuple]:
  """(mode, case, which of opts.py's opts) for each kernel that opts.py optimized, compiling here (PARALLEL=0), where the spy is."""
  hits: list[tuple] = []
  def spy(k):
    if (ret:=toggle.kernel_opts(k)) is not None: hits.append((mode, name, next(f.__name__ for f in toggle.KERNEL_OPTS if f(k) is not None)))
    return ret
  tg.install_kernel_opts(spy)
  try:
    for mode in modes:
      for name, make in cases:
        with tinygrad_wino.using(mode), Context(WINO_TILE=tile, WINO_OPTS=opts, PARALLEL=0, CACHELEVEL=0):
          tg.clear_caches()
          tg.compile_schedule(tg.schedule(*make(device))[0])
  finally: tg.install_kernel_opts(toggle.kernel_opts)
  return hits

def _conv(xs, dtype=None):
  return lambda device: [Tensor.empty(*xs, dtype=dtype, device=device).conv2d(Tensor.empty(xs[1], xs[1], 3, 3, dtype=dtype, device=device),
                                                                              padding=1)]

GPU_CASES = [("14x14", _conv((2, 8, 14, 14))), ("112x112 batch 1", _conv((1, 64, 112, 112))), ("28x28", _conv((3, 8, 28, 28)))]

def test_gpu_opts_touch_only_news_kernels():
  # the output transform's opts recognize NEW's output kernel by its reads, XHAT's by its layout; XHAT (OLD's too) also reads
  # one buffer at 36 places, and OLD's output kernel reads by tiles as well: tinygrad's heuristic must keep optimizing OLD's
  # kernels, OLD's timings are the baseline. A row of 4 tiles (14x14) and a conv of batch 1 keep the heuristic's XHAT
  assert _opts_hits(GPU_CASES, ("new", "old"), device="PYTHON") == [
    ("new", "14x14", "output_transform_opts"), ("new", "112x112 batch 1", "output_transform_opts"),
    ("new", "28x28", "xhat_opts"), ("new", "28x28", "output_transform_opts")]
  assert _opts_hits(GPU_CASES, ("new",), opts=0, device="PYTHON") == []

@pytest.mark.parametrize("xs", [(2, 6, 30, 64), (2, 2, 9, 128)])
def test_gpu_xhat_threads_along_tiles(xs):
  # XHAT with threads along the tiles (xhat_opts: 16 and 2 along channels for a row of 16 tiles, a warp of 32 for 32 tiles): the
  # opts fired and the conv stays right
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((8, xs[1], 3, 3)) / 5).astype(np.float32)
  hits = _opts_hits([("conv", lambda device: [Tensor(x, device=device).conv2d(Tensor(w, device=device), padding=1)])], ("new",), device="PYTHON")
  assert ("new", "conv", "xhat_opts") in hits, hits
  with tinygrad_wino.using("new"), Context(WINO_TILE=4, PARALLEL=0, CACHELEVEL=0):
    tg.clear_caches()
    out = Tensor(x, device="PYTHON").conv2d(Tensor(w, device="PYTHON"), padding=1).numpy()
  assert rel_err(out, conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)) <= 2e-5

def _conv_and_grads(device=None):
  x, w = Tensor.empty(4, 32, 16, 16, device=device), Tensor.empty(32, 32, 3, 3, device=device)
  x.requires_grad = w.requires_grad = True
  return x.conv2d(w, padding=1).square().sum().gradient(x, w)

CPU_CASES = [("conv", _conv((8, 64, 14, 14))),
             ("conv1d", lambda device: [Tensor.empty(4, 32, 64).conv2d(Tensor.empty(32, 32, 3), padding=1)]),
             ("grads", _conv_and_grads),
             ("linear", lambda device: [nn.Linear(256, 512)(Tensor.empty(64, 256))]),
             ("batched matmul", lambda device: [Tensor.empty(36, 128, 256) @ Tensor.empty(36, 256, 256)])]

def test_cpu_opts_touch_only_news_kernels():
  # on the CPU, NEW's MHATs get register-blocked opts (the forward conv's, which the input gradient's shares here, and the weight
  # gradient's) and its input transforms consecutive tiles an iteration (the forward conv's XHAT, the weight gradient's XHAT and
  # its transform of the upstream gradient), the output transforms of 1-D and 2-D convs whole tiles with the channels' loop innermost
  # (the forward conv's and the input gradient's; a weight gradient's keeps the heuristic); OLD's kernels, a Linear and a batched
  # matmul keep tinygrad's heuristic
  assert _opts_hits(CPU_CASES) == [("new", "conv", "cpu_xhat_opts"), ("new", "conv", "mhat_opts"), ("new", "conv", "cpu_output_opts"),
                                   ("new", "conv1d", "cpu_xhat_opts"), ("new", "conv1d", "mhat_opts"), ("new", "conv1d", "cpu_output_opts"),
                                   ("new", "grads", "cpu_xhat_opts"),
                                   ("new", "grads", "mhat_opts"), ("new", "grads", "cpu_output_opts"), ("new", "grads", "cpu_xhat_opts"),
                                   ("new", "grads", "cpu_xhat_opts"), ("new", "grads", "mhat_opts"), ("new", "grads", "cpu_output_opts")]
  assert _opts_hits(CPU_CASES, ("new",), opts=0) == []

def test_cpu_xhat_opts_take_every_tile_size():
  # at batch 1 NEW's F(4,3) XHAT has the layout of OLD's and both keep the heuristic; F(2,3)'s and F(6,3)'s XHATs (alpha 4 and 8) are
  # none of OLD's (F(4,3)), so they get consecutive tiles an iteration there too
  case = [("batch 1", _conv((1, 8, 16, 16)))]
  for tile, modes, hit in ((2, ("new",), True), (4, ("new", "old"), False), (6, ("new",), True)):
    assert [h for h in _opts_hits(case, modes, tile=tile) if h[2] == "cpu_xhat_opts"] == ([("new", "batch 1", "cpu_xhat_opts")] if hit else []), tile

def test_cpu_mhat_opts_take_a_batched_matmul_of_a_weight_gradients_layout():
  # a limitation of recognizing kernels by structure: a batched matmul A @ B^T with a batch of 36 has the exact layout of a weight
  # gradient's MHAT (both operands with k innermost, the output's columns innermost), so it gets the same register blocking in
  # every mode; a batch that is no power of 4, 6 or 8 keeps the heuristic
  cases = [("36", lambda device: [Tensor.empty(36, 128, 256) @ Tensor.empty(36, 256, 256).transpose(1, 2)]),
           ("35", lambda device: [Tensor.empty(35, 128, 256) @ Tensor.empty(35, 256, 256).transpose(1, 2)])]
  assert _opts_hits(cases) == [("new", "36", "mhat_opts"), ("old", "36", "mhat_opts"), (None, "36", "mhat_opts")]

def _new_with_and_without_opts(make, spy=None, tile:int=4) -> list[np.ndarray]:
  """make()'s output under NEW with opts.py's opts and without (WINO_OPTS=1, then 0), compiled afresh here; spy(k), if given, sees
  each kernel before opts.py does."""
  if spy is not None: tg.install_kernel_opts(lambda k: (spy(k), toggle.kernel_opts(k))[1])
  outs = []
  try:
    for use_opts in (1, 0):
      with tinygrad_wino.using("new"), Context(WINO_TILE=tile, WINO_OPTS=use_opts, PARALLEL=0, CACHELEVEL=0):
        tg.clear_caches()
        outs.append(make().numpy())
  finally: tg.install_kernel_opts(toggle.kernel_opts)
  return outs

@pytest.mark.parametrize("xs,ws,kwargs,tile", [((3, 24, 13, 11), (16, 24, 3, 3), dict(padding=1), 4), ((2, 40, 9), (24, 40, 3), dict(padding=2), 4),
                                              ((2, 16, 10, 10), (8, 16, 3, 3), dict(padding=(0, 2, 1, 0)), 4),
                                              ((3, 8, 16, 14), (8, 8, 3, 3), dict(padding=(2, 0, 1, 1)), 4),
                                              ((1, 6, 16, 16), (8, 6, 3, 3), dict(padding=1), 2)])
def test_cpu_opts_match(xs, ws, kwargs, tile):
  # the CPU opts change only the order of MHAT's loops and how many of XHAT's tiles an iteration computes (the fourth case has rows
  # of 4 tiles, the last is F(2,3) at batch 1): NEW with the opts and without agree to rounding, and match float64
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal(ws) / 5).astype(np.float32)
  outs = _new_with_and_without_opts(lambda: Tensor(x).conv2d(Tensor(w), **kwargs), tile=tile)
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)
  assert rel_err(outs[0], ref) <= 2e-5 and rel_err(outs[0], outs[1]) <= ROUNDING

@pytest.mark.parametrize("xs,upcast", [((4, 160, 28, 28), [0, 7]), ((2, 16, 12, 8), [0, 2]), ((2, 16, 16, 16), [0, 4]), ((2, 16, 16, 32), [3, 4])])
def test_cpu_xhat_loops_an_alpha_dim(xs, upcast):
  # a row of 7 tiles whose XHAT outgrows the caches is upcast whole: 7 x 36 outputs an iteration pass opts.XHAT_LANES, so the last
  # alpha dim loops (innermost, tg.loop_innermost) and only the first is upcast. Two or four tiles an iteration (rows of 2 and 4)
  # loop the first alpha dim, which the CPU's XHAT contracts first (kron(first_mode_first=True)), and upcast the last; 4 tiles of a
  # longer row (8) upcast the first by opts.XHAT_SPLIT_PART (3) and loop the last. NEW with the opts and without agree to rounding
  rng = np.random.default_rng(2)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((8, xs[1], 3, 3)) / 20).astype(np.float32)
  upcasts = []
  def spy(k):
    if (mine:=cpu_xhat_opts(k)) is not None: upcasts.append(sorted(o.arg for o in mine.applied_opts if o.op is tg.OptOps.UPCAST))
  outs = _new_with_and_without_opts(lambda: Tensor(x).conv2d(Tensor(w), padding=1), spy)
  # one alpha dim upcast whole (UPCAST 0) or by 3, the row's tiles by 7, 2 or 4
  assert upcasts[:1] == [upcast], upcasts
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)
  assert rel_err(outs[0], ref) <= 2e-5 and rel_err(outs[0], outs[1]) <= ROUNDING

def test_cpu_xhat_loops_in_its_layouts_order():
  # XHAT's loops run in its layout's order (channels, batch, tile rows, the row's tiles innermost: opts.loops_in_store_order), so
  # consecutive iterations store next to each other: the store strides of the loops over its stored ranges fall from the outermost
  # loop to the innermost (the range ids of rules._rewrite looped the row's tiles outside the rows and batch). NEW with the opts and
  # without agree to rounding
  rng = np.random.default_rng(3)
  x, w = rng.standard_normal((2, 8, 32, 30)).astype(np.float32), (rng.standard_normal((8, 8, 3, 3)) / 10).astype(np.float32)
  strides = []
  def spy(k):
    if (mine:=cpu_xhat_opts(k)) is None: return
    store = tinygrad_wino.opts._stores(mine)[0]
    stored = tinygrad_wino.opts._strides(store)
    read = {r for b in mine.bufs if b.src[0] is not store.src[0] for r in b.ranges}
    strides.append([stored[r] for r in mine.rngs if r in stored and r in read and r.arg[-1] not in (tg.AxisType.UPCAST, tg.AxisType.THREAD)])
  outs = _new_with_and_without_opts(lambda: Tensor(x).conv2d(Tensor(w), padding=1), spy)
  assert strides and all(len(s) >= 3 and s == sorted(s, reverse=True) for s in strides), strides
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)
  assert rel_err(outs[0], ref) <= 2e-5 and rel_err(outs[0], outs[1]) <= ROUNDING

@pytest.mark.parametrize("xs,cout,kwargs,epilogue,tile", [((2, 8, 16, 16), 24, dict(padding=1), False, 4),
                                                          ((1, 8, 13, 11), 16, dict(padding=1), True, 4),
                                                          ((2, 4, 12, 10), 8, dict(padding=(0, 2, 1, 0)), True, 4),
                                                          ((1, 8, 15, 16), 16, dict(padding=1), True, 2),
                                                          ((2, 8, 16, 13), 8, dict(padding=1), False, 6),
                                                          ((2, 8, 30), 16, dict(padding=1), True, 4), ((1, 4, 41), 8, dict(padding=2), False, 2),
                                                          ((2, 8, 40), 8, dict(padding=1), True, 6)])
def test_cpu_output_transform_loops_channels_innermost(xs, cout, kwargs, epilogue, tile):
  # NEW's output transform on the CPU (cpu_output_opts), at every tile size, of a 2-D or a 1-D conv: whole tiles of m a dim upcast
  # (sizes that m doesn't divide padded to whole tiles, the padded outputs not stored) and the output channels' loop the innermost of
  # its loops, so consecutive iterations read consecutive values of MHAT (channels innermost there). A bias and relu fused after the
  # transform stay right; the output with the opts and without agree to rounding and match float64
  rng = np.random.default_rng(4)
  nd = len(xs) - 2
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((cout, xs[1], *[3] * nd)) / 5).astype(np.float32)
  b = np.arange(cout) - cout / 2
  loops = []
  def spy(k):
    if (mine:=cpu_output_opts(k)) is not None:
      loops.append([int(r.vmax + 1) for r in mine.rngs if r.arg[-1] not in (tg.AxisType.UPCAST, tg.AxisType.THREAD)])
      assert sorted(o.arg for o in mine.applied_opts if o.op is tg.OptOps.UPCAST)[-nd:] == [tile] * nd, mine.applied_opts
  def conv():
    out = Tensor(x).conv2d(Tensor(w), Tensor(b.astype(np.float32)) if epilogue else None, **kwargs)
    return out.relu() if epilogue else out
  outs = _new_with_and_without_opts(conv, spy, tile=tile)
  assert loops and all(lp == loops[0] for lp in loops) and loops[0][-1] == cout, loops
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)
  if epilogue: ref = np.maximum(ref + b.reshape(-1, *[1] * nd), 0)
  # F(6,3)'s coefficients (up to 32) move the last bits further where, without the opts, each output selects its coefficients (13 wide)
  assert rel_err(outs[0], ref) <= 2e-5 and rel_err(outs[0], outs[1]) <= ROUNDING * (4 if tile == 6 else 1)

@pytest.mark.parametrize("length,rows", [(1024, True), (1000, False), (256, False)])
def test_cpu_output_of_channels_apart_in_powers_of_two_upcasts_channels(length, rows):
  # a 1-D conv's output channels 4 KB apart (a length of 1024 floats) fall in one cache set with the channels' loop innermost:
  # there the output kernel upcasts 8 channels and loops the tiles innermost; 4000 and 1024 bytes apart (1000, 256) the channels
  # stay innermost. The output with the opts and without agree to rounding and match float64
  rng = np.random.default_rng(5)
  x, w = rng.standard_normal((2, 8, length)).astype(np.float32), (rng.standard_normal((16, 8, 3)) / 5).astype(np.float32)
  found = []
  def spy(k):
    if (mine:=cpu_output_opts(k)) is not None:
      found.append(([int(r.vmax + 1) for r in mine.rngs if r.arg[-1] not in (tg.AxisType.UPCAST, tg.AxisType.THREAD)],
                    sorted(o.arg for o in mine.applied_opts if o.op is tg.OptOps.UPCAST)))
  outs = _new_with_and_without_opts(lambda: Tensor(x).conv2d(Tensor(w), padding=1), spy)
  assert found and all(f == found[0] for f in found), found
  loops, upcasts = found[0]
  assert (loops[-1], upcasts) == ((length // 4, [4, 8]) if rows else (16, [4])), found
  assert rel_err(outs[0], conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)) <= 2e-5 and rel_err(outs[0], outs[1]) <= ROUNDING

def _output_and_grads(x:np.ndarray, w:np.ndarray) -> list[np.ndarray]:
  """The conv's output and the gradients of the sum of its squares, compiled afresh here (call under the mode and Context to test)."""
  tg.clear_caches()
  xt, wt = Tensor(x), Tensor(w)
  xt.requires_grad = wt.requires_grad = True
  out = xt.conv2d(wt, padding=1)
  return [t.numpy() for t in (out, *out.square().sum().gradient(xt, wt))]

@pytest.mark.parametrize("registers", [16, 32])
def test_cpu_mhat_blocks_follow_the_register_file(registers, monkeypatch):
  # MHAT's register blocks are sized to the vector registers clang's native code has (opts.MHAT_BLOCKS, WG_MHAT_BLOCKS): with 16 (x86-64 without
  # AVX-512) 4 n x 8 m, k unrolled by 2, for a forward conv's MHAT and 8 n x 4 m by 4 for a weight gradient's, with 32 4 x 8 by 4
  # and 8 x 4 by 4. The conv and its gradients stay right with either
  monkeypatch.setattr(tinygrad_wino.opts, "cpu_vector_registers", lambda: registers)
  rng = np.random.default_rng(3)
  x, w = rng.standard_normal((2, 16, 16, 16)).astype(np.float32), (rng.standard_normal((16, 16, 3, 3)) / 10).astype(np.float32)
  blocks = []
  def spy(k):
    if (mine:=mhat_opts(k)) is not None: blocks.append(tuple(o.arg for o in mine.applied_opts if o.op in (tg.OptOps.UPCAST, tg.OptOps.UNROLL)))
    return toggle.kernel_opts(k)
  tg.install_kernel_opts(spy)
  try:
    with tinygrad_wino.using("new"), Context(WINO_TILE=4, PARALLEL=0, CACHELEVEL=0): got = _output_and_grads(x, w)
  finally: tg.install_kernel_opts(toggle.kernel_opts)
  forward, weight_grad = ((4, 8, 2), (8, 4, 4)) if registers == 16 else ((4, 8, 4), (8, 4, 4))
  # the forward conv's MHAT first (the input gradient's, a forward conv of the same sizes, is the same kernel), the weight gradient's last
  assert len(blocks) >= 2 and blocks[0] == forward and blocks[-1] == weight_grad and set(blocks) <= {forward, weight_grad}, blocks
  with Context(PARALLEL=0, CACHELEVEL=0): direct = _output_and_grads(x, w)
  assert rel_err(got[0], conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)) <= 2e-5
  for mine, theirs in zip(got, direct): assert rel_err(mine, theirs.astype(np.float64)) <= 5e-5

@pytest.mark.parametrize("xs,l2,m_outer", [((2, 128, 16, 16), 128 << 10, True), ((2, 128, 16, 16), 0, True), ((2, 128, 16, 16), 1 << 20, False),
                                            ((8, 32, 16, 16), 0, False)])
def test_cpu_mhat_loops_over_output_channel_blocks_outside_tiles_where_there_are_more_channels(xs, l2, m_outer, monkeypatch):
  # 128 output channels over 2 x 16 tiles: G (K x M, 64 KB) is the bigger operand, so where it is at least half the L2 (128 KB, or
  # an L2 of unknown size: 0) MHAT's loop over the output channels' blocks (16 of 8) runs outside the loop over the tiles' (8 of 4)
  # and G is read once; with 1 MB of L2, or 32 channels over 8 x 16 tiles, the tiles stay outside. The output is right either way
  monkeypatch.setattr(tinygrad_wino.opts, "cpu_vector_registers", lambda: 16)
  monkeypatch.setattr(tinygrad_wino.opts, "cpu_l2_bytes", lambda: l2)
  tg.clear_caches()  # the same conv compiled under another L2 size
  rng = np.random.default_rng(4)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((xs[1], xs[1], 3, 3)) / 10).astype(np.float32)
  loops = []
  def spy(k):
    if (mine:=mhat_opts(k)) is not None: loops.append([int(r.vmax + 1) for r in mine.rngs if r.arg[-1] is tg.AxisType.WEAK])
    return toggle.kernel_opts(k)
  tg.install_kernel_opts(spy)
  try:
    with tinygrad_wino.using("new"), Context(WINO_TILE=4, PARALLEL=0, CACHELEVEL=0): out = Tensor(x).conv2d(Tensor(w), padding=1).numpy()
  finally: tg.install_kernel_opts(toggle.kernel_opts)
  n_blocks, m_blocks = xs[0] * (xs[2] // 4) ** 2 // 4, xs[1] // 8
  assert len(loops) == 1 and loops[0][-2:] == ([m_blocks, n_blocks] if m_outer else [n_blocks, m_blocks]), loops
  assert rel_err(out, conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)) <= 2e-5

def test_cpu_opts_match_gradients():
  # the weight gradient's transforms get the CPU opts too (rows of 4 tiles): NEW's gradients with the opts and without agree to
  # rounding, and match direct conv's
  rng = np.random.default_rng(1)
  x, w = rng.standard_normal((3, 8, 12, 16)).astype(np.float32), (rng.standard_normal((8, 8, 3, 3)) / 5).astype(np.float32)
  grads = []
  for mode, opts in (("new", 1), ("new", 0), (None, 1)):
    with tinygrad_wino.using(mode), Context(WINO_TILE=4, WINO_OPTS=opts, PARALLEL=0, CACHELEVEL=0): grads.append(_output_and_grads(x, w)[1:])
  for with_opts, without, direct in zip(*grads):
    assert rel_err(with_opts, without) <= ROUNDING and rel_err(with_opts, direct.astype(np.float64)) <= 5e-5

@pytest.mark.parametrize("xs,cout", [((2, 32, 4, 8), 128), ((2, 32, 8, 12), 32)])
def test_gpu_weight_gradient_mhat_opts_keep_the_gradients(xs, cout):
  # a weight gradient's float32 MHAT on a GPU gets wg_mhat_opts (8 output channels a thread from 128 on, else 4); OLD's kernels and
  # direct conv's keep the heuristic (at batch 2: at batch 1 OLD's weight gradient holds a batched matmul of this very layout and
  # gets the opts too, a limitation of recognizing kernels by structure); NEW's weight gradient with the opts matches direct conv's.
  # The weight gradient alone: the PYTHON device emulates every thread, and the input gradient (a conv) has no such MHAT
  rng = np.random.default_rng(2)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((cout, xs[1], 3, 3)) / 5).astype(np.float32)
  def grad_w(device=None):
    xt, wt = Tensor(x, device=device), Tensor(w, device=device)
    wt.requires_grad = True
    return list(xt.conv2d(wt, padding=1).square().sum().gradient(wt))
  assert [h for h in _opts_hits([("grads", grad_w)], device="PYTHON") if h[2] == "wg_mhat_opts"] == [("new", "grads", "wg_mhat_opts")]
  out = []
  # direct conv's on the default device
  for mode, device in (("new", "PYTHON"), (None, None)):
    with tinygrad_wino.using(mode), Context(WINO_TILE=4, PARALLEL=0, CACHELEVEL=0):
      tg.clear_caches()
      out.append(grad_w(device)[0].numpy())
  assert rel_err(out[0], out[1].astype(np.float64)) <= 5e-5

TC_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tinygrad import Tensor, dtypes
from tinygrad_wino import tg
from test_opts import _opts_hits, _conv
tg.without_device_compiler()
half = lambda *s: Tensor.empty(*s, dtype=dtypes.half)
cases = [("conv", _conv((2, 32, 14, 14), dtypes.half)), ("float conv", _conv((2, 32, 14, 14), dtypes.float)),
         ("batched matmul", lambda device: [half(36, 64, 128) @ half(36, 128, 64)]),
         ("transposed batched matmul", lambda device: [half(36, 128, 64).transpose(1, 2) @ half(36, 64, 128).transpose(1, 2)])]
print(json.dumps(_opts_hits(cases, ("new", "old"))))
"""

def test_gpu_tensor_core_opts_touch_only_news_mhat_kernel():
  # on a GPU with tensor cores (CUDA's renderer for an sm_80 on tinygrad's NULL device, chosen by DEV: a subprocess; the kernels are
  # only compiled, no CUDA compiler called: tg.without_device_compiler), NEW's half MHAT gets tensor-core opts with a bigger block
  # of output channels a warp (mhat_tensor_core_opts); OLD's MHAT and a batched matmul keep tinygrad's heuristic. A batched matmul
  # with MHAT's layouts and a batch of 36 can't be told from MHAT: it gets the opts too. A float32 conv's MHAT gets none, as on the
  # GPU: TF32 is off (ALLOW_TF32), which tinygrad checks only on a CUDA or NV device, and tg.without_device_compiler on NULL too.
  # (tinygrad's PYTHON device renders half from Python 3.12 only; below, NEW's buffers stay float32 there, rules.storage_dtype, and
  # its MHAT has no tensor cores)
  r = subprocess.run([sys.executable, "-c", TC_SCRIPT, str(pathlib.Path(__file__).parent)], capture_output=True, text=True, timeout=600,
                     env=os.environ | {"DEV": "NULL:CUDA:sm_80"})
  assert r.returncode == 0, r.stderr
  assert json.loads(r.stdout.splitlines()[-1]) == [["new", "conv", "mhat_tensor_core_opts"], ["new", "conv", "output_transform_opts"],
                                                   ["new", "float conv", "output_transform_opts"],
                                                   ["new", "transposed batched matmul", "mhat_tensor_core_opts"],
                                                   ["old", "transposed batched matmul", "mhat_tensor_core_opts"]]
