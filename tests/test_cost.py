# The cost model (WINO_COST=1): winograd only where it pays, each decision logged at DEBUG>=2
import contextlib, io, json, math, pathlib
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context, dtypes
from tinygrad_wino import tg
from tinygrad_wino.cost import CPU, GPU, SMALL_CONV_MACS, Work, decide, device_class
from helpers import conv_ref, rel_err

pytestmark = pytest.mark.cost_model
RESULTS = pathlib.Path(__file__).parent.parent / "bench" / "results"

def work_2d(b:int, cin:int, cout:int, h:int, groups:int=1, m:int=4, half:bool=False) -> Work:
  # a padding-1 3x3 conv's sizes, written out independently of rules.conv_work
  tiles, a2, cg = b * math.ceil(h / m) ** 2, (m + 2) ** 2, cin // groups
  return Work(b * cout * h * h * cg * 9, cg * 9, a2 * tiles * cout * cg, a2 * tiles * cin, tiles * m * m * cin, a2 * cout * cg, b * cout * h * h,
              half, h)

def schedule_conv(b:int, cin:int, cout:int, h:int, groups:int=1) -> tuple[list[str], list[str], str]:
  x, w = Tensor.empty(b, cin, h, h), Tensor.empty(cout, cin // groups, 3, 3)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"), Context(DEBUG=2), contextlib.redirect_stdout(io.StringIO()) as log:
    x.conv2d(w, groups=groups, padding=1).schedule_linear()
  return list(tinygrad_wino.stats.rewritten), list(tinygrad_wino.stats.skipped), log.getvalue()

def test_small_conv_stays_direct_and_the_log_says_why():
  # four kernels of ~4 us against one of 11 us (bench/results/cpu-crossover-2026-12-07.md)
  rewritten, skipped, log = schedule_conv(1, 4, 4, 16)
  assert not rewritten and len(skipped) == 1 and skipped[0].startswith("cost model (CPU")
  assert f"winograd: kept a direct conv: {skipped[0]}" in log

def test_large_conv_is_rewritten_and_the_log_gives_the_estimate():
  rewritten, skipped, log = schedule_conv(8, 64, 64, 56)
  assert not skipped and len(rewritten) == 1 and "F(4,3)" in rewritten[0] and "cost model (CPU" in rewritten[0]
  assert "winograd: rewrote 2-D conv" in log and "cost model (CPU" in log

def test_depthwise_and_three_channel_convs_stay_direct():
  # a transform element costs more than the multiply-adds it saves when a tile is used by one channel, or made from three
  for args in ((8, 64, 64, 56, 64), (8, 3, 64, 56), (8, 64, 3, 56)):
    rewritten, skipped, _ = schedule_conv(*args)
    assert not rewritten and skipped[0].startswith("cost model"), args

def test_a_conv_the_model_rewrites_matches_direct():
  rng = np.random.default_rng(0)
  xn, wn = rng.standard_normal((2, 64, 32, 32)).astype(np.float32), rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"): out = Tensor(xn).conv2d(Tensor(wn), padding=1).numpy()
  assert len(tinygrad_wino.stats.rewritten) == 1
  assert rel_err(out, conv_ref(xn, wn, padding=1)) <= 2e-5

def test_wino_cost_0_rewrites_every_eligible_conv_a_small_one_at_f23():
  # a conv under cost.SMALL_CONV_MACS multiply-adds takes F(2,3), whose error is below direct conv's
  with Context(WINO_COST=0): rewritten, skipped, _ = schedule_conv(1, 4, 4, 9)
  assert len(rewritten) == 1 and not skipped and "F(2,3)" in rewritten[0]

def test_the_cpu_output_transform_runs_over_whole_tiles_where_no_opts_pad_it():
  # tinygrad splits an output range into whole tiles itself only where 4 divides its size. A 1-D or 2-D conv's output stored by an
  # elementwise kernel gets whole tiles from opts.cpu_output_opts (its sizes padded); a 3-D conv's, or one fused into a reduce (a
  # global pool's mean), gets a kernel of its own over whole tiles on a CPU
  assert "output transform over whole tiles" not in schedule_conv(8, 64, 64, 30)[0][0]
  assert "output transform over whole tiles" not in schedule_conv(8, 64, 64, 28)[0][0]
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"): Tensor.empty(8, 64, 31).conv2d(Tensor.empty(64, 64, 3), padding=1).schedule_linear()
  assert len(tinygrad_wino.stats.rewritten) == 1 and "output transform over whole tiles" not in tinygrad_wino.stats.rewritten[0]
  for make in (lambda: Tensor.empty(8, 64, 30, 30).conv2d(Tensor.empty(64, 64, 3, 3), padding=1).mean((2, 3)),
               lambda: Tensor.empty(2, 16, 10, 9, 10).conv2d(Tensor.empty(16, 16, 3, 3, 3), padding=1)):
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using("new"): make().schedule_linear()
    assert len(tinygrad_wino.stats.rewritten) == 1 and "output transform over whole tiles" in tinygrad_wino.stats.rewritten[0]
  # not on a GPU-class device (tinygrad's PYTHON device emulates one): on the H100 the extra buffer cost more than it saved
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new"):
    x, w = Tensor.empty(8, 64, 30, 30, device="PYTHON"), Tensor.empty(64, 64, 3, 3, device="PYTHON")
    x.conv2d(w, padding=1).mean((2, 3)).schedule_linear()
  assert len(tinygrad_wino.stats.rewritten) == 1 and "output transform over whole tiles" not in tinygrad_wino.stats.rewritten[0]

def test_device_classes():
  assert device_class("CPU") is CPU and device_class(("CPU:0", "CPU:1")) is CPU
  assert device_class("CUDA") is GPU and device_class("NV:1") is GPU and device_class("AMD") is GPU

@pytest.mark.parametrize("name,device", [("h100-2026-11-25.json", "CUDA"), ("h100-2026-12-06.json", "CUDA"), ("h100-2026-12-08.json", "CUDA"),
                                         ("h100-crossover-2026-11-24.json", "CUDA"), ("h100-compile-split-float32-2026-12-06.json", "CUDA"),
                                         ("h100-compile-split-float16-2026-12-06.json", "CUDA"), ("h100-grouped32-2026-12-07.json", "CUDA"),
                                         ("h100-grouped4-2026-12-07.json", "CUDA"),
                                         ("cpu-2026-12-07.json", "CPU"), ("cpu-crossover-2026-12-07.json", "CPU"),
                                         ("cpu-crossover-cost-2026-12-07.json", "CPU"), ("cpu-grouped32-cost-2026-12-07.json", "CPU"),
                                         ("cpu-grouped32-2026-12-07.json", "CPU"), ("cpu-grouped4-2026-12-07.json", "CPU"),
                                         ("cpu-crossover-2026-11-25.json", "CPU")])
def test_decisions_agree_with_the_committed_sweeps(name, device):
  # each measured shape: the model picks winograd where the complete winograd conv measured faster than direct conv, and direct
  # where it measured slower. Measured within 10% of each other (the run-to-run noise of the smallest shapes), or estimated within
  # 5% (a tie for the model: (4,64,64,32) fp32 read 0.063 ms against direct's 0.067 in one run and 0.081 against 0.069 in the
  # next), either choice is right
  sweep = json.loads((RESULTS / name).read_text())
  groups = sweep["meta"].get("groups", 1)
  for res in sweep["results"]:
    t = {r["impl"]: r["kernel_ms"] for r in res["rows"] if r["phase"] == 4 and r["impl"] in ("direct", "NEW")}
    b, cin, cout, h = res["shape"]
    m = 2 if b * cin * cout * h * h * 9 // groups < SMALL_CONV_MACS else 4  # the tile NEW's rows ran at
    work, dev = work_2d(b, cin, cout, h, groups, m=m, half=res["dtype"] == str(dtypes.half)), device_class(device)
    pays, why = decide(work, device)
    if abs(t["NEW"] / t["direct"] - 1) <= 0.1 or abs(dev.winograd_s(work) / dev.direct_s(work) - 1) <= 0.05: continue
    assert pays == (t["NEW"] < t["direct"]), f"{res['shape']} {res['dtype']}: {why}, measured NEW {t['NEW']:.3f} ms, direct {t['direct']:.3f} ms"

def test_a_grouped_conv_kept_direct_compiles_direct_convs_kernel():
  # NEW's conv2d is a CALL (backward.py) returning the output as tinygrad's conv computes it, (batch, groups, cout / groups, ...):
  # returned as (batch, cout, ...) its buffer gave a grouped conv one range over the output channels, and tinygrad's direct conv
  # of that graph is another kernel than plain direct conv's (2.2x slower at (8,128,128,56) with 32 groups)
  def kernels(mode) -> list[bytes]:
    with tinygrad_wino.using(mode):
      return tg.kernel_keys(tg.schedule(Tensor.empty(2, 64, 14, 14).conv2d(Tensor.empty(64, 2, 3, 3), groups=32, padding=1))[0])
  tinygrad_wino.stats.reset()
  new = kernels("new")
  assert len(tinygrad_wino.stats.skipped) == 1 and tinygrad_wino.stats.skipped[0].startswith("cost model")
  assert new == kernels(None)
