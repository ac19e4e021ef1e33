# The mode switch: environment flags, the Python API, tinygrad's Context(WINO=1), schedule-cache isolation and the autoload.
import os, pathlib, subprocess, sys, sysconfig
import numpy as np
import pytest
import tinygrad_wino
from tinygrad import Tensor, Context, GlobalCounters, dtypes
from helpers import conv_ref, rel_err
from tinygrad.helpers import WINO

REPO = pathlib.Path(__file__).resolve().parents[1]
rng = np.random.default_rng(0)
X = Tensor(rng.standard_normal((1, 4, 12, 12)).astype(np.float32)).realize()
W = Tensor(rng.standard_normal((6, 4, 3, 3)).astype(np.float32)).realize()
DIRECT = X.conv2d(W, padding=1).numpy()

def conv_run(**ctx) -> tuple[np.ndarray, int, int]:
  """Output, kernels run, NEW rewrites, with the schedule cache on (unlike the other tests)."""
  tinygrad_wino.stats.reset()
  GlobalCounters.reset()
  out = X.conv2d(W, padding=1).numpy()
  return out, GlobalCounters.kernel_count, len(tinygrad_wino.stats.rewritten)

def path(kernel_count:int, rewrites:int) -> str:
  # direct conv is one kernel; OLD and NEW are four (transforms, batched matmul, output), only NEW counts a rewrite
  return "new" if rewrites else "old" if kernel_count > 2 else "direct"

@pytest.mark.parametrize("mode", ["new", "old", None])
def test_using_selects_the_path(mode):
  with Context(SCACHE=0), tinygrad_wino.using(mode):
    out, kernels, rewrites = conv_run()
  assert path(kernels, rewrites) == (mode or "direct")
  assert np.abs(out - DIRECT).max() <= 2e-5 * np.abs(DIRECT).max()

@pytest.mark.parametrize("mode", ["new", "old", None])
def test_enable_selects_the_path_until_changed(mode):
  try:
    tinygrad_wino.enable(mode)
    assert tinygrad_wino.mode() == mode
    with Context(SCACHE=0): assert path(*conv_run()[1:]) == (mode or "direct")
  finally: tinygrad_wino.enable(None)
  assert tinygrad_wino.mode() is None

def test_tinygrad_context_wino_takes_new():
  with Context(WINO=1, SCACHE=0): assert path(*conv_run()[1:]) == "new"
  old = WINO.value
  try:
    WINO.value = 1
    with Context(SCACHE=0): assert path(*conv_run()[1:]) == "new"
  finally: WINO.value = old

def test_bad_mode_and_both_flags_raise():
  with pytest.raises(ValueError, match="mode"): tinygrad_wino.enable("fast")
  with Context(WINO=1, WINO_OLD=1), pytest.raises(ValueError, match="WINO_OLD"): X.conv2d(W).realize()
  with Context(WINO_TILE=5), tinygrad_wino.using("new"), pytest.raises(ValueError, match="WINO_TILE"): X.conv2d(W).realize()

def test_modes_never_share_a_schedule():
  # the tensor graphs of direct and NEW are identical; the schedule cache is keyed on them, so the mode must be in the key
  for expected in ["direct", "new", "direct", "old", "new", "old", "direct"]:
    with tinygrad_wino.using(None if expected == "direct" else expected):
      out, kernels, rewrites = conv_run()
      again = conv_run()
    assert path(kernels, rewrites) == expected or (expected == "new" and kernels == 4), expected
    assert again[1] == kernels, "the second call of a mode reuses that mode's schedule"
    assert np.abs(out - DIRECT).max() <= 2e-5 * np.abs(DIRECT).max()

def test_a_repeated_new_conv_is_scheduled_once():
  # tinygrad's schedule cache serves NEW's later calls of a conv like any graph's (the rule runs only where a graph is scheduled):
  # NEW's conv is a CALL whose key holds its gradient function, made once per conv signature. One made afresh each call missed
  # the cache: every call rescheduled, rewrote the conv again and added a cache entry
  rewrites = []
  for seed in range(3):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((1, 3, 10, 11)), rng.standard_normal((5, 3, 3, 3)) / 5
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using("new"): out = Tensor(x.astype(np.float32)).conv2d(Tensor(w.astype(np.float32)), padding=1).numpy()
    rewrites.append(len(tinygrad_wino.stats.rewritten))
    assert rel_err(out, conv_ref(x, w, padding=1)) <= 2e-5
  assert rewrites == [1, 0, 0]

@pytest.mark.parametrize("tile", [2, 4, 6])
def test_tile_sizes(tile):
  with Context(WINO_TILE=tile, SCACHE=0), tinygrad_wino.using("new"):
    out, _, rewrites = conv_run()
  assert rewrites == 1 and np.abs(out - DIRECT).max() <= 2e-5 * np.abs(DIRECT).max()
  assert f"F({tile},3)" in tinygrad_wino.stats.rewritten[0]

@pytest.mark.parametrize("dtype, tile, tol", [(dtypes.float32, 2, 2e-5), (dtypes.float16, 2, 4e-3), (dtypes.bfloat16, 6, 8e-3),
                                             (dtypes.float64, 6, 1e-12)])
def test_default_tile_by_dtype(dtype, tile, tol):
  # bfloat16 and float64 take F(6,3): float32 transforms are far below bfloat16's rounding, and float64 ones below everything;
  # float32 and half take F(4,3), or F(2,3) on a conv this small (under cost.SMALL_CONV_MACS multiply-adds)
  rng = np.random.default_rng(0)
  x, w = rng.standard_normal((2, 16, 13, 11)), rng.standard_normal((8, 16, 3, 3)) / 12
  out = {}
  for mode in ("new", None):
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using(mode), Context(SCACHE=0):
      out[mode] = Tensor(x).cast(dtype).conv2d(Tensor(w).cast(dtype), padding=1).cast(dtypes.float64).numpy()
    if mode: assert len(tinygrad_wino.stats.rewritten) == 1 and f"F({tile},3)" in tinygrad_wino.stats.rewritten[0]
  ref = conv_ref(x, w, padding=1)
  assert rel_err(out["new"], ref) <= max(tol, 1.5 * rel_err(out[None], ref))

SCRIPT = """
import sys
from tinygrad import Tensor, GlobalCounters
x, w = Tensor.ones(1, 4, 9, 9).contiguous().realize(), Tensor.ones(4, 4, 3, 3).contiguous().realize()
GlobalCounters.reset()
out = x.conv2d(w, padding=1).realize()
print("conv kernels:", GlobalCounters.kernel_count)
out = out.numpy()
assert abs(out[0, 0, 4, 4] - 36) < 1e-4 and abs(out[0, 0, 0, 0] - 16) < 1e-4
print("plugin imported:", "tinygrad_wino" in sys.modules)
"""

def run_script(env:dict[str, str]) -> subprocess.CompletedProcess:
  # the script never imports tinygrad_wino: only site-packages/tinygrad_wino.pth can bring it in
  if not (pathlib.Path(sysconfig.get_paths()["purelib"]) / "tinygrad_wino.pth").exists():
    pytest.fail("tinygrad_wino is not installed in this environment (make test installs it)")
  base = {k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD", "WINO_TILE", "WINO_COST", "DEBUG")}
  return subprocess.run([sys.executable, "-c", SCRIPT], env=base | {"PYTHONPATH": str(REPO), "DEBUG": "2"} | env,
                        capture_output=True, text=True, timeout=300, cwd="/")

def test_autoload_wino_takes_new_without_import():
  r = run_script({"WINO": "1"})
  assert r.returncode == 0, r.stderr
  assert "plugin imported: True" in r.stdout and "winograd: rewrote 2-D conv" in r.stdout and "conv kernels: 4" in r.stdout

def test_autoload_cost_model_keeps_a_tiny_conv_direct_and_says_so():
  r = run_script({"WINO": "1", "WINO_COST": "1"})
  assert r.returncode == 0, r.stderr
  assert "plugin imported: True" in r.stdout and "winograd: kept a direct conv: cost model (CPU" in r.stdout and "conv kernels: 1" in r.stdout

def test_autoload_wino_old_takes_old():
  r = run_script({"WINO_OLD": "1"})
  assert r.returncode == 0, r.stderr
  assert "plugin imported: True" in r.stdout and "winograd: rewrote" not in r.stdout and "conv kernels: 4" in r.stdout

def test_autoload_costs_nothing_without_flags():
  r = run_script({})
  assert r.returncode == 0, r.stderr
  assert "plugin imported: False" in r.stdout and "conv kernels: 1" in r.stdout

CHILD_SCRIPT = """
import multiprocessing as mp, os, sys
def identity(v): return v
def conv(_):
  from tinygrad import Tensor
  return Tensor.ones(1, 4, 9, 9).conv2d(Tensor.ones(4, 4, 3, 3), padding=1).numpy()[0, 0, 4, 4]
if __name__ == "__main__":
  os.environ[sys.argv[1]] = "1"  # the other flag was set at start: children inherit both
  with mp.get_context("spawn").Pool(2) as pool:
    print("pool ran:", pool.map(identity, [1, 2]))
    try: pool.map(conv, [0])
    except ValueError as e: print("conv in a child:", e)
  from tinygrad import Tensor, Context
  import tinygrad_wino
  with Context(PARALLEL=2, CACHELEVEL=0): out = Tensor.ones(1, 4, 9, 9).conv2d(Tensor.ones(4, 4, 3, 3), padding=1).numpy()
  print("parent:", tinygrad_wino.mode(), len(tinygrad_wino.stats.rewritten), float(out[0, 0, 4, 4]))
"""

@pytest.mark.parametrize("start,later", [("WINO_OLD", "WINO"), ("WINO", "WINO_OLD")])
def test_a_flag_set_after_start_reaches_children_without_a_hang(start, later, tmp_path):
  # a program started with one flag that sets the other starts its multiprocessing children with both: a child that stopped at start
  # (the autoload's one-line exit) was started again by its Pool forever. A child passes the check at start: a Pool's tasks run, a
  # conv scheduled in a child raises the flags' error in the parent, and tinygrad's parallel compile workers (which import the
  # plugin for its kernel opts) compile the parent's conv in the parent's mode
  (script:=tmp_path / "children.py").write_text(CHILD_SCRIPT)  # a file: spawned children import their functions from __main__'s
  base = {k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD", "WINO_TILE", "WINO_COST", "DEBUG")}
  r = subprocess.run([sys.executable, str(script), later], env=base | {"PYTHONPATH": str(REPO), start: "1"}, capture_output=True, text=True,
                     timeout=120, cwd="/")
  assert r.returncode == 0, r.stderr
  assert "pool ran: [1, 2]" in r.stdout and "conv in a child: WINO=1 (winograd as a rangeify rewrite) and WINO_OLD=1" in r.stdout
  assert f"parent: {'new' if start == 'WINO' else 'old'} {int(start == 'WINO')} 36.0" in r.stdout, r.stdout

def test_multiprocessing_child_command_lines():
  from tinygrad_wino.flags import multiprocessing_child
  assert multiprocessing_child(["python", "-B", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()", "--multiprocessing-fork"])
  assert multiprocessing_child(["python", "-B", "-c", "from multiprocessing.resource_tracker import main;main(5)"])
  assert not multiprocessing_child(["python", "script.py"]) and not multiprocessing_child(["python", "-c", "import multiprocessing"])

@pytest.mark.parametrize("env,flag", [({"WINO": "abc"}, "WINO"), ({"WINO": "1", "WINO_OLD": "1"}, "WINO_OLD"),
                                      ({"WINO": "1", "WINO_TILE": "5"}, "WINO_TILE"), ({"WINO": "1", "WINO_COST": "2"}, "WINO_COST"),
                                      ({"WINO": ""}, "WINO"), ({"WINO": "1", "WINO_COST": ""}, "WINO_COST")])
def test_bad_flags_give_one_clear_error(env, flag):
  r = run_script(env)
  assert r.returncode != 0 and r.stderr.startswith("tinygrad_wino: ") and flag in r.stderr
  assert r.stderr.count("\n") == 1, f"one line, got {r.stderr!r}"
