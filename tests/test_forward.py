# NEW against a float64 numpy reference, tinygrad's direct conv and OLD, over every conv shape the rule must detect.
# Tolerances (max|out - ref| / max|ref|): fp32 <= 2e-5, and no worse than OLD in the worst and the mean of eight input draws
# (one draw can go either way at rounding-noise level).
# fp16 convs multiply in half and accumulate in float (the REDUCE sees a CAST). NEW transforms in float32 and stores XHAT and
# GHAT in half (the matmul then gets tensor cores); that rounding sets its error. Measured on this grid on CPU (max of three
# draws): 1.4e-3 to 4.7e-3 in 1-D and 2-D, 9.4e-3 in 3-D, against 3.4e-4 to 9.1e-4 for direct conv and 1.5e-3 to 1.7e-2 for
# OLD. The bounds: 6e-3 (1-D, 2-D), 1.5e-2 (3-D), and never worse than OLD.
from dataclasses import dataclass, field
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context, dtypes
from tinygrad_wino import rules, tg
from helpers import conv_ref, rel_err, run_conv

@dataclass(frozen=True)
class Case:
  x: tuple[int, ...]
  w: tuple[int, ...]
  kwargs: dict = field(default_factory=dict)
  bias: bool = False
  def draw(self, seed:int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(self.x).astype(np.float32)
    w = (rng.standard_normal(self.w) / np.sqrt(np.prod(self.w[1:]))).astype(np.float32)
    return x, w, rng.standard_normal(self.w[0]).astype(np.float32) if self.bias else None

CASES = {
  "pad1": Case((2, 4, 8, 8), (5, 4, 3, 3), dict(padding=1)),
  "no_padding_odd_size": Case((1, 4, 7, 9), (3, 4, 3, 3)),
  "asymmetric_padding": Case((1, 4, 9, 13), (2, 4, 3, 3), dict(padding=(2, 1, 0, 3))),
  "padding_per_dim": Case((2, 3, 10, 6), (4, 3, 3, 3), dict(padding=(1, 0))),
  "padding_2": Case((3, 4, 6, 6), (4, 4, 3, 3), dict(padding=2)),
  "bias": Case((2, 3, 7, 9), (3, 3, 3, 3), dict(padding=1), bias=True),
  "groups": Case((2, 8, 7, 9), (6, 4, 3, 3), dict(padding=1, groups=2)),
  "groups_4_bias": Case((2, 8, 9, 10), (12, 2, 3, 3), dict(padding=1, groups=4), bias=True),
  "depthwise": Case((2, 8, 11, 5), (8, 1, 3, 3), dict(padding=1, groups=8)),
  "cin_1": Case((1, 1, 5, 6), (3, 1, 3, 3), dict(padding=1)),
  "cout_1": Case((2, 5, 6, 5), (1, 5, 3, 3), dict(padding=1)),
  "cin_3_cout_3": Case((1, 3, 13, 10), (3, 3, 3, 3), dict(padding=1)),
  "non_square_large": Case((1, 16, 21, 34), (8, 16, 3, 3), dict(padding=1), bias=True),
  "conv1d": Case((2, 3, 10), (5, 3, 3), dict(padding=1)),
  "conv1d_asymmetric": Case((3, 2, 17), (4, 2, 3), dict(padding=(0, 2))),
  "conv3d": Case((1, 2, 5, 6, 7), (3, 2, 3, 3, 3), dict(padding=1)),
  # on a CPU, rows that MHAT reads of a multiple of 512 bytes are padded (test_cpu_rows_of_powers_of_two_are_padded): X's (2 x 128
  # tiles) and G's (128 output channels)
  "conv1d_rows_padded": Case((2, 8, 256), (128, 8, 3), dict(padding=1)),
  "conv2d_rows_padded": Case((1, 4, 6, 6), (128, 4, 3, 3), dict(padding=1), bias=True),
}

@pytest.mark.parametrize("name", CASES)
def test_fp32_matches_reference_and_direct(name):
  case = CASES[name]
  x, w, b = case.draw(0)
  ref = conv_ref(x, w, b, **case.kwargs)
  new, rewrites = run_conv("new", x, w, b, **case.kwargs)
  direct, no_rewrites = run_conv(None, x, w, b, **case.kwargs)
  assert len(rewrites) == 1 and not no_rewrites, f"NEW must rewrite exactly this conv, got {rewrites}"
  assert new.shape == direct.shape == ref.shape and new.dtype == direct.dtype
  assert rel_err(new, ref) <= 2e-5 and rel_err(new, direct) <= 2e-5

@pytest.mark.parametrize("name", CASES)
def test_fp32_no_worse_than_old(name):
  case, errs = CASES[name], []
  for seed in range(8):
    x, w, b = case.draw(seed)
    ref = conv_ref(x, w, b, **case.kwargs)
    errs.append((rel_err(run_conv("new", x, w, b, **case.kwargs)[0], ref), rel_err(run_conv("old", x, w, b, **case.kwargs)[0], ref)))
  new, old = np.array(errs).T
  assert new.max() <= old.max() and new.mean() <= old.mean(), f"NEW {new} worse than OLD {old}"

@pytest.mark.parametrize("name", CASES)
def test_fp16_through_cast(name):
  case = CASES[name]
  x, w, b = case.draw(0)
  ref = conv_ref(x, w, b, **case.kwargs)
  new, rewrites = run_conv("new", x, w, b, dtype=dtypes.float16, **case.kwargs)
  direct, _ = run_conv(None, x, w, b, dtype=dtypes.float16, **case.kwargs)
  old, _ = run_conv("old", x, w, b, dtype=dtypes.float16, **case.kwargs)
  assert len(rewrites) == 1, "fp16 convs reach the REDUCE through a CAST: the rule must see through it"
  assert new.dtype == direct.dtype == np.float16
  assert rel_err(new, ref) <= (1.5e-2 if len(case.x) == 5 else 6e-3) and rel_err(new, ref) <= rel_err(old, ref)

storage_dtype = rules.storage_dtype  # the rule's own, which the spy below calls

def test_fp16_where_the_device_emulates_half_keeps_float_buffers(monkeypatch):
  # tinygrad's PYTHON device renders half from Python 3.12 only (below, tinygrad's codegen emulates it): NEW stores XHAT, GHAT and
  # MHAT in half only where the renderer has half (rules.storage_dtype); emulated half buffers failed the last assert there. Either
  # way the output matches
  stored = []
  monkeypatch.setattr(rules, "storage_dtype", lambda *a: stored.append(dt:=storage_dtype(*a)) or dt)
  x, w, _ = Case((1, 8, 16, 16), (8, 8, 3, 3)).draw(3)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4, SCACHE=0):
    new = Tensor(x, device="PYTHON").cast(dtypes.half).conv2d(Tensor(w, device="PYTHON").cast(dtypes.half), padding=1).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1 and new.dtype == np.float16
  assert set(stored) == {dtypes.half if tg.renders("PYTHON", dtypes.half) else dtypes.float32}, stored
  assert rel_err(new, conv_ref(x.astype(np.float64), w.astype(np.float64), padding=1)) <= 6e-3

@pytest.mark.parametrize("name,dtype,padded", [("conv1d_rows_padded", dtypes.float32, ("X rows padded to [132] tiles", "GHAT rows padded to 136")),
                                               ("conv1d_rows_padded", dtypes.float16, ("X rows padded to [132] tiles",)),
                                               ("conv2d_rows_padded", dtypes.float32, ("GHAT rows padded to 136",)),
                                               ("conv2d_rows_padded", dtypes.float16, ()), ("pad1", dtypes.float32, ())])
def test_cpu_rows_of_powers_of_two_are_padded(name, dtype, padded):
  # on a CPU MHAT reads X's rows (batch x tiles, one an input channel) and G's (the output channels, one an input channel):
  # rows of a multiple of 512 bytes, in the dtype XHAT and GHAT are stored in (half for a half conv), fall in a few cache sets, so
  # X's get 4 more tiles of the last dim (F(2,3) here: 2 x 128 -> 2 x 132) and G's 8 more channels (128 -> 136). The cases above
  # check these convs' outputs; this that the padding is there, and only there
  case = CASES[name]
  x, w, b = case.draw(0)
  _, rewrites = run_conv("new", x, w, b, dtype=dtype, **case.kwargs)
  assert len(rewrites) == 1 and all(p in rewrites[0] for p in padded) and rewrites[0].count("padded to") == len(padded), rewrites

def _stored_sizes(out:Tensor) -> list[int]:
  linear, _ = tg.schedule(out)
  return [u.src[0].src[0].max_shape[0] for c in linear.src if c.op is tg.Ops.CALL and c.src[0].op is tg.Ops.SINK
          for u in c.src[0].toposort() if u.op is tg.Ops.STORE]

@pytest.mark.parametrize("tile,relu", [(2, True), (4, True), (4, False)])
def test_grouped_conv_is_a_matmul_per_group(tile, relu):
  # tinygrad computes a grouped conv over a range of groups and one of a group's output channels, except where a consumer fused
  # onto the conv's output (a relu, a batchnorm; at times its copy out) reads the channels as one range o: the input's channel is
  # then (o // (cout / groups)) * cin + c, and the rule splits o into the group and the channel in it. Either way XHAT transforms
  # each input tile once (not once for each output channel of its group) and MHAT multiplies a group's tiles by its weights as one
  # matrix: XHAT, GHAT and MHAT are as large as an ungrouped conv's of the group's channels, and the output matches float64
  rng = np.random.default_rng(tile)
  def arrays(cin:int, cout:int, groups:int) -> list[np.ndarray]:
    return [rng.standard_normal((2, cin, 9, 10)), rng.standard_normal((cout, cin // groups, 3, 3)) / 5, rng.standard_normal(cout)]
  def conv(x:np.ndarray, w:np.ndarray, b:np.ndarray, groups:int) -> Tensor:
    out = Tensor(x.astype(np.float32)).conv2d(Tensor(w.astype(np.float32)), Tensor(b.astype(np.float32)), groups=groups, padding=1)
    return out.relu() if relu else out
  (x, w, b), small = arrays(8, 12, 4), arrays(2, 3, 1)
  ref = conv_ref(x, w, b, groups=4, padding=1)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=tile, SCACHE=0):
    assert rel_err(conv(x, w, b, 4).numpy(), np.maximum(ref, 0) if relu else ref) <= 2e-5
    grouped, ungrouped = _stored_sizes(conv(x, w, b, 4)), _stored_sizes(conv(*small, 1))
  rewritten = tinygrad_wino.stats.rewritten
  assert len(rewritten) == 3 and (not relu or all("output channels in groups of [3]" in r for r in rewritten[:2])), rewritten
  tiles = -(-9 // tile) * -(-10 // tile)
  assert grouped[:3] == [4 * n for n in ungrouped[:3]] and grouped[0] == (tile + 2) ** 2 * 2 * 8 * tiles, (grouped, ungrouped)

@pytest.mark.parametrize("dtype", [dtypes.float64, dtypes.bfloat16])
def test_other_float_dtypes(dtype):
  x, w, b = CASES["bias"].draw(1)
  new, rewrites = run_conv("new", x, w, b, dtype=dtype, padding=1)
  direct, _ = run_conv(None, x, w, b, dtype=dtype, padding=1)
  assert len(rewrites) == 1
  assert rel_err(new, conv_ref(x, w, b, padding=1)) <= (1e-12 if dtype == dtypes.float64 else 2 * rel_err(direct, conv_ref(x, w, b, padding=1)))

@pytest.mark.parametrize("stride,padding,output_padding", [(1, 0, 0), (1, 1, 0), (2, 1, 1)])
def test_conv_transpose(stride, padding, output_padding):
  # conv_transpose2d is a stride-1 conv of the zero-stuffed input with the flipped kernel: NEW rewrites it like any other
  rng = np.random.default_rng(stride)
  x, w = rng.standard_normal((2, 4, 7, 6)).astype(np.float32), rng.standard_normal((4, 5, 3, 3)).astype(np.float32)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"):
    new = Tensor(x).conv_transpose2d(Tensor(w), stride=stride, padding=padding, output_padding=output_padding).numpy()
  direct = Tensor(x).conv_transpose2d(Tensor(w), stride=stride, padding=padding, output_padding=output_padding).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1 and rel_err(new, direct.astype(np.float64)) <= 2e-5

def test_outputs_of_padding_only_windows_are_exact_zeros():
  # with padding 3 the border outputs see only zero padding: direct conv gives exact zeros, and so must NEW (not tile noise)
  x, w, _ = Case((2, 3, 10, 10), (2, 3, 3, 3)).draw(4)
  new, rewrites = run_conv("new", x, w, padding=3)
  ref = conv_ref(x, w, padding=3)
  assert len(rewrites) == 1 and (new[ref == 0] == 0).all() and (ref[:, :, 0] == 0).all()
  assert rel_err(new, ref) <= 2e-5

@pytest.mark.parametrize("consumer", ["global pool", "mean square loss"])
def test_conv_fused_into_an_enclosing_reduce(consumer):
  # a conv whose output feeds a reduce over its positions (a global average pool) or everything (a loss) is fused into that
  # reduce: its output, batch and channel ranges are the enclosing reduce's. It is still rewritten, and still exact.
  rng = np.random.default_rng(7)
  x, w = rng.standard_normal((2, 4, 9, 11)), rng.standard_normal((6, 4, 3, 3)) / 6
  ref = conv_ref(x, w, padding=1)
  ref = ref.mean((2, 3)) if consumer == "global pool" else np.square(ref).mean()
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(SCACHE=0):
    out = Tensor(x.astype(np.float32)).conv2d(Tensor(w.astype(np.float32)), padding=1)
    new = (out.mean((2, 3)) if consumer == "global pool" else out.square().mean()).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1 and rel_err(np.asarray(new), np.asarray(ref)) <= 2e-5

def test_beam_search_runs_new_kernels():
  # BEAM=2 searches the optimizations of NEW's XHAT, GHAT, MHAT and output kernels like any other kernel's, and keeps them exact
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal((1, 8, 8, 8)), rng.standard_normal((8, 8, 3, 3)) / 8
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(BEAM=2, SCACHE=0):
    new = Tensor(x.astype(np.float32)).conv2d(Tensor(w.astype(np.float32)), padding=1).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1 and rel_err(new, conv_ref(x, w, padding=1)) <= 2e-5

@pytest.mark.parametrize("xs,ws,kwargs,tiles", [((2, 3, 5, 27), (4, 3, 3, 3), dict(padding=1), [2, 8]),
                                               ((1, 4, 6, 31), (6, 2, 3, 3), dict(padding=(0, 2, 1, 0), groups=2), [2, 8]),
                                               ((2, 3, 57), (5, 3, 3), dict(padding=1), [16])])
def test_gpu_layout_pads_the_tile_row_and_matches(xs, ws, kwargs, tiles):
  # on a GPU-class device XHAT runs its threads along the tiles, the innermost row of tiles padded to a multiple of 8 (tinygrad's
  # PYTHON device emulates a GPU with local threads); the padded tiles must not reach the output. float32 only: below Python 3.12
  # the PYTHON device renders no half, and NEW keeps float32 buffers there (test_fp16_where_the_device_emulates_half_keeps_float_
  # buffers). F(4,3): convs this small would take F(2,3)
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal(ws) / 5).astype(np.float32)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4): new = Tensor(x, device="PYTHON").conv2d(Tensor(w, device="PYTHON"), **kwargs).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1 and f"threads along {tiles} tiles" in tinygrad_wino.stats.rewritten[0]
  assert rel_err(new, conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)) <= 2e-5

@pytest.mark.parametrize("xs,kwargs,pool", [((2, 16, 14, 14), dict(padding=1), True), ((1, 8, 13, 30), dict(padding=(0, 2, 1, 0)), True),
                                           ((1, 4, 10, 9, 6), dict(padding=1), False)])
def test_output_transform_over_whole_tiles_matches(xs, kwargs, pool):
  # on a CPU, an output size that 4 doesn't divide gets the output transform as a kernel over whole tiles where no opts pad the
  # fused kernel to whole tiles: a 2-D conv fused into a global pool (relu, mean), a 3-D conv. The partial tile's extra outputs must not
  # reach the conv's output (nor the mean)
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal(xs).astype(np.float32), (rng.standard_normal((12, *xs[1:2], *[3] * (len(xs) - 2))) / 5).astype(np.float32)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4):
    new = Tensor(x).conv2d(Tensor(w), **kwargs)
    new = (new.relu().mean((2, 3)) if pool else new).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1 and "output transform over whole tiles" in tinygrad_wino.stats.rewritten[0]
  ref = conv_ref(x.astype(np.float64), w.astype(np.float64), **kwargs)
  assert rel_err(new, np.maximum(ref, 0).mean((2, 3)) if pool else ref) <= 2e-5

zero_past = rules._zero_past  # the rule's own, which the spy below calls

@pytest.mark.parametrize("device", [None, "PYTHON"])
def test_tiles_past_the_input_read_zeros(device, monkeypatch):
  # the last tile of a row reaches past the conv's input positions (6 outputs: 2 tiles read positions 0-9 of 8). Where the input's
  # padding gate zeroes those positions XHAT reads them as they are (rules._zero_past); a conv of a slice of a larger buffer reads
  # real data there, so those reads are clamped and gated to zero: the rows and columns past the slice hold NaN, which an unclamped
  # read spreads to the tile's outputs
  seen = []
  monkeypatch.setattr(rules, "_zero_past", lambda *a: seen.append(zero:=zero_past(*a)) or zero)
  rng = np.random.default_rng(3)
  x, w = rng.standard_normal((2, 4, 12, 12)).astype(np.float32), (rng.standard_normal((5, 4, 3, 3)) / 6).astype(np.float32)
  x[:, :, 8:], x[:, :, :, 8:] = np.nan, np.nan
  for padding, size, zero in ((1, 6, True), (0, 8, False)):
    seen.clear()
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using("new"), Context(WINO_TILE=4, SCACHE=0):
      new = Tensor(x, device=device).realize()[:, :, :size, :size].conv2d(Tensor(w, device=device), padding=padding).numpy()
    assert len(tinygrad_wino.stats.rewritten) == 1 and seen and all(s is zero for s in seen), seen
    assert rel_err(new, conv_ref(x[:, :, :size, :size], w, padding=padding)) <= 2e-5, "a read past the slice reached the output"
