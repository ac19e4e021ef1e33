#!/usr/bin/env python3
"""Phase-by-phase timing of 3x3 convs (--dims 1: 1-D convs of 3 taps): NEW (tinygrad_wino's rangeify rewrite), OLD (tinygrad's
tensor-level WINO=1) and direct conv.

Phase 1 is XHAT only, 2 adds GHAT, 3 adds MHAT (the Hadamard product reduced over input channels), 4 is the complete conv.
NEW stops through its phase knob (WINO_PHASE), OLD through the same truncation of tinygrad's _conv2d_winograd. NEW's rows are
the conv as WINO=1 runs it (every eligible conv rewritten); the row "NEW auto" (NEW+cost in the tables) is the complete conv with
WINO_COST=1, the cost model deciding between winograd and direct conv.
First call: each complete conv (direct, OLD, NEW+cost, NEW) is built, scheduled, compiled and loaded (on CUDA the driver compiles
each program's PTX to machine code when it loads it) once with nothing of its shape alive (in-process caches cleared, tinygrad's
UOp-keyed ones too, the garbage collected, the process warmed up on a small conv of every implementation first), kernels compiled
and loaded one after another in this process so the compile and load columns are the row's whole work; the disk compile caches
(tinygrad's and the CUDA driver's) are off unless --warm-disk-cache. tinygrad caches analyses on its UOps, which are hash-consed,
so a graph compiled while an equal one is alive compiles faster: NEW+cost, compiled after NEW with NEW's kernels alive, read
0.73-0.91 of NEW's first call on the H100 at 11 of 12 shapes. Then every row, truncations too, is scheduled, compiled and loaded
again for the timing (a truncation's columns are that compile, with the kernels it shares with its complete conv alive: warm), the
shape's compiled rows are run --warmup times each and --runs times round-robin (one run of each row in turn), each kernel
synchronized: kernel time is the runtime's own timer summed over the row's kernels (median, min, max). Python graph build,
schedule, compile and load are separate columns (and each kernel's compile and load with --kernels).
Before a time is reported, the complete conv's output is checked against direct conv.
"""
from __future__ import annotations
import argparse, contextlib, datetime, functools, gc, importlib.metadata, io, itertools, json, os, pathlib, platform, shlex, statistics, sys, time

def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--shapes", default="1,16,16,32;8,64,64,56;8,128,128,28;8,256,256,14;4,512,512,7",
                 help="';'-separated B,Cin,Cout,H[,W] (3x3 conv, padding 1; with --dims 1 B,Cin,Cout,L). Default: the seed's shape and "
                 "the CPU anchor sweep")
  p.add_argument("--dims", type=int, default=2, choices=(1, 2), help="the conv's spatial dims: 2 (H x H or H x W, 3x3) or 1 (L, 3 taps)")
  p.add_argument("--groups", type=int, default=1, help="the convs' groups (Cin and Cout multiples of it)")
  p.add_argument("--dtypes", default="float32", help="comma-separated tinygrad dtypes, e.g. float32,float16")
  p.add_argument("--runs", type=int, default=10, help="timed runs per row (median, min, max)")
  p.add_argument("--warmup", type=int, default=2, help="untimed runs per row before the timed ones")
  p.add_argument("--phases", default="1,2,3,4", help="phases to time for OLD and NEW (4 = complete conv)")
  p.add_argument("--impls", default="OLD,NEW", help="winograd implementations to time besides direct conv")
  p.add_argument("--device", default=None, help="tinygrad device (sets DEV), e.g. CPU or CUDA; default: tinygrad's default")
  p.add_argument("--beam", type=int, default=0, help="BEAM search width for every kernel (0 = tinygrad's hand-coded optimizer)")
  p.add_argument("--warm-disk-cache", action="store_true", help="keep tinygrad's disk compile cache on (compile times then say so)")
  p.add_argument("--kernels", action="store_true", help="print the per-kernel breakdown of each row")
  p.add_argument("--no-torch", action="store_true", help="skip the torch column")
  p.add_argument("--no-plot", action="store_true", help="skip the PNG")
  p.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="folder for <device>-<date>.{json,md,png}")
  p.add_argument("--name", default=None, help="file name stem instead of <device>-<date>")
  p.add_argument("--render", nargs="+", metavar="JSON", help="measure nothing: merge these results files (made by this script on one "
                 "device, e.g. one per dtype to stay inside a time limit) and write their json, md and png")
  return p.parse_args(argv)

ARGS = parse_args()
# tinygrad reads these when it is imported
if ARGS.device: os.environ["DEV"] = ARGS.device
# the disk caches of compiled programs: tinygrad's, and the CUDA driver's of the machine code it compiles from PTX on load
if not ARGS.warm_disk_cache: os.environ.update(CACHELEVEL="0", CUDA_CACHE_DISABLE="1")
# compile in this process: worker processes keep compiled kernels of earlier rows. BEAM search compiles its candidates in parallel
if not ARGS.beam: os.environ["PARALLEL"] = "0"

import numpy as np  # noqa: E402
import tinygrad_wino  # noqa: E402
from tinygrad import Tensor, Device, Context, GlobalCounters, dtypes  # noqa: E402
from tinygrad.helpers import flat_to_grouped, flatten, resolve_pool_pads  # noqa: E402
from tinygrad_wino.matrices import cook_toom  # noqa: E402
from checks import check  # noqa: E402
from tinygrad_wino.tg import clear_caches, compile_schedule, compile_times, kernel_keys, load_programs, run_kernels, schedule, tqdm  # noqa: E402

PHASE_NAMES = {1: "XHAT only", 2: "+ GHAT", 3: "+ MHAT", 4: "+ output transform (complete)"}
TINYGRAD_F43 = cook_toom(4, 3, (0, 1, -1, 2, -2))  # tinygrad's own F(4x4,3x3) matrices, for OLD's truncations

def fl(mat) -> list[list[float]]: return [[float(x) for x in row] for row in mat]

# *** the conv of each implementation, truncated after a phase: the tensors to realize

def old_phase(x:Tensor, w:Tensor, phase:int) -> list[Tensor]:
  """tinygrad 0.14's Tensor._conv2d_winograd (mixin/op.py) for padding 1, stopped after `phase`; phase 4 is WINO=1 itself."""
  if phase == 4: return [x.conv2d(w, padding=1, groups=ARGS.groups)]
  HW = w.shape[2:]
  padding_ = resolve_pool_pads(1, len(HW))
  pads = [(pB, pA + (-(s + pB + pA - 2) % 4)) for (pB, pA), s in zip(flat_to_grouped(padding_), x.shape[-len(HW):])]
  d = x.pad(flatten(reversed(pads)))._pool((6,) * len(HW), (4,) * len(HW))
  d = d.permute(*range(len(d.shape)-len(HW), len(d.shape)), *range(len(d.shape)-len(HW))).contiguous_backward()
  dfactors = d._apply_winograd_matrix(fl(TINYGRAD_F43.Bt), len(HW)).contiguous()
  if phase == 1: return [dfactors]
  g = w.permute(*range(len(w.shape)-len(HW), len(w.shape)), *range(len(w.shape)-len(HW)))
  gfactors = g._apply_winograd_matrix(fl(TINYGRAD_F43.G), len(HW)).contiguous()
  if phase == 2: return [dfactors, gfactors]
  tyx = d.shape[-len(HW):]
  bs, (cout, cin), g = x.shape[0], w.shape[:2], ARGS.groups
  gf = gfactors.reshape(*(6,) * len(HW), 1, g, cout // g, cin, *([1] * len(tyx)))
  df = dfactors.reshape(*(6,) * len(HW), bs, g, 1, cin, *tyx)
  return [(gf * df).sum(axis=-1-len(HW))]

def new_phase(x:Tensor, w:Tensor, phase:int) -> list[Tensor]: return [x.conv2d(w, padding=1, groups=ARGS.groups)]  # truncated by WINO_PHASE
def new_auto(x:Tensor, w:Tensor, phase:int) -> list[Tensor]: return new_phase(x, w, 4)  # the cost model decides
def direct(x:Tensor, w:Tensor, phase:int) -> list[Tensor]: return [x.conv2d(w, padding=1, groups=ARGS.groups)]

@contextlib.contextmanager
def row_flags(impl, phase:int):
  """The flags a row builds and schedules its graph under (NEW reads them when the graph is scheduled, outside impl)."""
  mode = {new_phase: "new", new_auto: "new", old_phase: "old"}.get(impl)
  with tinygrad_wino.using(mode), Context(WINO_PHASE=phase if impl is new_phase else 4, WINO_COST=int(impl is not new_phase), BEAM=ARGS.beam):
    yield

# *** one row: build, schedule, compile, run

def measure(impl, x:Tensor, w:Tensor, phase:int) -> dict:
  """Build, schedule, compile and load one row afresh; the row's compiled schedule is run later, interleaved with the shape's other
  rows."""
  clear_caches()
  gc.collect()
  with row_flags(impl, phase):
    t0 = time.perf_counter()
    outs = impl(x, w, phase)
    t1 = time.perf_counter()
    tinygrad_wino.stats.reset()
    linear, var_vals = schedule(*outs)
    t2 = time.perf_counter()
    compiles = compile_times(linear)
    compiled = compile_schedule(linear)
    t3 = time.perf_counter()
    loads = load_programs(compiled)
    t4 = time.perf_counter()
    rewrites = list(tinygrad_wino.stats.rewritten)
  return dict(build_ms=(t1-t0)*1e3, schedule_ms=(t2-t1)*1e3, compile_ms=(t3-t2)*1e3, load_ms=(t4-t3)*1e3, keys=kernel_keys(linear),
              rewrites=rewrites, compile_kernel_ms=[t * 1e3 for _, t, _ in compiles],
              device_compile_kernel_ms=[t * 1e3 for _, _, t in compiles], load_kernel_ms=[t * 1e3 for _, t in loads],
              outputs=outs, run=lambda: run_kernels(compiled, var_vals))

def first_call(impl, x:Tensor, w:Tensor) -> dict:
  """The complete conv's first call, cold: measured with nothing of an earlier row alive, and dropped after."""
  r = measure(impl, x, w, 4)
  return {k: r[k] for k in ("build_ms", "schedule_ms", "compile_ms", "load_ms", "compile_kernel_ms", "device_compile_kernel_ms", "load_kernel_ms")}

def run_interleaved(rows:list[dict]) -> None:
  """Time every row of a shape round-robin (each run of each row in turn), so the machine's drift over the shape's minutes falls
  on all rows alike: two rows of the same kernels (direct conv and NEW+cost keeping it) then read the same."""
  for r in rows:
    for _ in range(ARGS.warmup): r["run"]()
  runs: list[list] = [[] for _ in rows]
  for _ in range(ARGS.runs):
    for r, rr in zip(rows, runs): rr.append(r["run"]())
  for r, rr in zip(rows, runs):
    del r["run"]
    r.update(names=[n for n, _ in rr[0]], runs=[[t for _, t in run] for run in rr])

def per_call_ms(impl, x:Tensor, w:Tensor) -> float:
  """The complete conv timed the way shared/anchors/measure_anchors.py does: build and realize the conv on every call under
  DEBUG=2 (the schedule cache hits), summing GlobalCounters.time_sum_s; median of --runs calls after one warm call."""
  ks = []
  with row_flags(impl, 4):
    impl(x, w, 4)[0].realize()
    for _ in range(ARGS.runs):
      GlobalCounters.reset()
      with Context(DEBUG=2), contextlib.redirect_stdout(io.StringIO()): impl(x, w, 4)[0].realize()
      ks.append(GlobalCounters.time_sum_s)
  return statistics.median(ks) * 1e3

def torch_time(xn:np.ndarray, wn:np.ndarray, dt) -> tuple[float|None, np.ndarray|None, str]:
  """torch's conv (conv1d or conv2d): cuDNN (benchmark mode, fp32 allows TF32) timed with CUDA events on a CUDA device, else wall time per call."""
  try: import torch
  except ImportError: return None, None, "torch not installed"
  tdt = {dtypes.float32: torch.float32, dtypes.float16: torch.float16}.get(dt)
  if tdt is None: return None, None, f"no torch dtype for {dt}"
  cuda = Device.DEFAULT in ("CUDA", "NV") and torch.cuda.is_available()
  dev = "cuda" if cuda else "cpu"
  if cuda: torch.backends.cudnn.benchmark = True
  x, w = torch.from_numpy(xn).to(dev, tdt), torch.from_numpy(wn).to(dev, tdt)
  conv = functools.partial(torch.nn.functional.conv1d if xn.ndim == 3 else torch.nn.functional.conv2d, padding=1, groups=ARGS.groups)
  with torch.no_grad():
    for _ in range(max(ARGS.warmup, 3)): out = conv(x, w)
    ts = []
    for _ in range(ARGS.runs):
      if cuda:
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); out = conv(x, w); e.record(); torch.cuda.synchronize()  # noqa: E702
        ts.append(s.elapsed_time(e) / 1e3)
      else:
        t0 = time.perf_counter(); out = conv(x, w); ts.append(time.perf_counter() - t0)  # noqa: E702
  what = f"torch {torch.__version__}, " + (f"cuDNN {torch.backends.cudnn.version()}, CUDA events" if cuda else "CPU, wall time per call")
  return statistics.median(ts) * 1e3, out.float().cpu().numpy(), what

def bench_shape(shape:tuple[int, ...], dt, phases:list[int], bar) -> dict:
  bs, cin, cout, *hw = shape
  if len(hw) > ARGS.dims: raise SystemExit(f"shape {shape}: {ARGS.dims}-D convs take B,Cin,Cout{',H,W' if ARGS.dims == 2 else ',L'}")
  if cin % ARGS.groups or cout % ARGS.groups: raise SystemExit(f"shape {shape}: Cin and Cout must be multiples of --groups {ARGS.groups}")
  hw, cg = hw * ARGS.dims if len(hw) == 1 else hw, cin // ARGS.groups
  rng = np.random.default_rng(0)
  xn = rng.standard_normal((bs, cin, *hw), dtype=np.float32)
  wn = (rng.standard_normal((cout, cg, *[3] * len(hw)), dtype=np.float32) / np.sqrt(3 ** len(hw) * cg)).astype(np.float32)
  x, w = Tensor(xn).cast(dt).realize(), Tensor(wn).cast(dt).realize()
  tol = 1e-4 if dt.itemsize >= 4 else 5e-2  # a sanity bound for "this is the conv": OLD's fp16 error reaches 2e-2
  impls = [(impl, f) for impl, f in (("OLD", old_phase), ("NEW", new_phase)) if impl in ARGS.impls.split(",")]
  plan = [("direct", direct, 4)] + [(impl, f, p) for impl, f in impls for p in sorted(phases, reverse=True)]
  plan += [("NEW auto", new_auto, 4)] if any(impl == "NEW" for impl, _ in impls) else []
  cold = {impl: first_call(f, x, w) for impl, f, phase in plan if phase == 4}
  rows = [measure(f, x, w, phase) | dict(impl=impl, phase=phase) | (cold[impl] if phase == 4 else {}) for impl, f, phase in plan]
  run_interleaved(rows)
  complete, ref = {}, None
  # direct first (the reference), then each implementation's complete conv: its kernels define the truncations
  for r, (impl, f, phase) in zip(rows, plan):
    outs, keys = r.pop("outputs"), r.pop("keys")
    if phase == 4:
      out = outs[0].numpy()
      if impl == "direct": ref = out.astype(np.float64)
      complete[impl], counted = set(keys), [True] * len(keys)
      # NEW+cost keeping direct conv compiles direct conv's own kernels: its ratio to direct is the timer's noise
      if impl != "direct": r["same_kernels_as_direct"] = complete[impl] == complete["direct"]
      r["check"] = None if impl == "direct" else check(out, ref, tol)
    else:
      # a truncation runs kernels of the complete conv; NEW's probe (one element of each buffer into the conv's output) is not one
      counted = [k in complete[impl] for k in keys]
      extra = len(keys) - sum(counted)
      r["check"] = dict(vs=f"{impl} complete", uncounted_kernels=extra, ok=extra == (1 if impl == "NEW" else 0))
    runs = r.pop("runs")
    times = [sum(t for t, c in zip(run, counted) if c) * 1e3 for run in runs]
    r["per_kernel_ms"] = [statistics.median(run[i] for run in runs) * 1e3 for i, c in enumerate(counted) if c]
    r.update(kernels=sum(counted), kernel_ms=statistics.median(times), kernel_min_ms=min(times), kernel_max_ms=max(times))
    r["names"] = [n for n, c in zip(r["names"], counted) if c]
    for key in ("compile_kernel_ms", "device_compile_kernel_ms", "load_kernel_ms"): r[key] = [t for t, c in zip(r[key], counted, strict=True) if c]
    if phase == 4: r["per_call_ms"] = per_call_ms(f, x, w)
    bar.update(1)
  t_ms, t_out, t_what = (None, None, "skipped (--no-torch)") if ARGS.no_torch else torch_time(xn, wn, dt)
  ttol = max(tol, 5e-3) if "cuDNN" in t_what else tol  # cuDNN's fp32 convs run in TF32 (10-bit mantissa), as in shared/anchors
  torch_row = dict(impl="torch", phase=4, kernel_ms=t_ms, what=t_what,
                   check=None if t_out is None else check(t_out, ref, ttol))
  bar.update(1)
  return dict(shape=list(shape), dtype=str(dt), rows=rows, torch=torch_row)

# *** reporting

def row(res:dict, impl:str, phase:int=4) -> dict|None:
  return next((r for r in res["rows"] if r["impl"] == impl and r["phase"] == phase), None)

def ratio(a, b) -> str: return "" if a is None or b is None or not b else f"{a/b:.2f}"
def ms(v) -> str: return "" if v is None else f"{v:.3f}"
def ms1(v) -> str: return "" if v is None else f"{v:.1f}"

def markdown(results:list[dict], meta:dict) -> str:
  size = "H" if meta.get("dims", 2) == 2 else "L"  # a 2-D conv's H (or H,W), a 1-D conv's length
  lines = [f"# Winograd phase timings: {meta['device']}{' (' + meta['accelerator'] + ')' if meta.get('accelerator') else ''}, {meta['date']}", "",
           f"`{meta['command']}`", "",
           f"tinygrad {meta['tinygrad']}, tinygrad_wino {meta['tinygrad_wino']}, BEAM={meta['beam']}, {meta['runs']} timed runs after "
           f"{meta['warmup']} warm-up runs{', the rows of a shape timed round-robin' if meta.get('interleaved') else ''}, disk compile cache "
           f"{'on' if meta['disk_cache'] else 'off'}. Kernel time is the runtime's own timer, "
           "each kernel synchronized, summed over the row's kernels; the median of the runs, with min and max. Build, schedule, compile and load "
           "are wall time of the first call: each complete conv's with nothing of its shape alive, a truncation's (phases 1-3) with its "
           f"complete conv's kernels alive. {'3x3 conv' if meta.get('dims', 2) == 2 else '1-D conv of 3 taps'}, padding 1"
           f"{', ' + str(meta['groups']) + ' groups' if meta.get('groups', 1) > 1 else ''}.", "",
           "## Summary (complete conv, kernel ms)", "",
           "NEW+cost is the conv as WINO=1 WINO_COST=1 runs it: the cost model chose winograd or direct conv (last column). NEW is "
           "the conv as WINO=1 runs it, every eligible conv rewritten: the row the phase tables break down. First call: schedule + compile + "
           "load (on CUDA the driver compiles each program's PTX when it loads it). "
           "\"direct (its kernels)\": NEW+cost compiled the very kernels of the direct row, timed round-robin with it.",
           "", f"| shape (B,Cin,Cout,{size}) | dtype | direct | OLD | NEW+cost | NEW | torch | NEW+cost/OLD | NEW+cost/direct | NEW+cost/torch | "
           "NEW/OLD | NEW/direct | first call NEW+cost/OLD | first call NEW/OLD | cost model |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for res in results:
    d, o, n, t = row(res, "direct"), row(res, "OLD"), row(res, "NEW"), res["torch"]
    nc = row(res, "NEW auto") or n  # results made before the cost model had a row of its own
    k = lambda r: r and r["kernel_ms"]  # noqa: E731
    first = lambda r: None if r is None else (r["schedule_ms"] + r["compile_ms"] + r.get("load_ms", 0))  # noqa: E731
    same = " (its kernels)" if nc and nc.get("same_kernels_as_direct") else ""
    choice = "" if nc is None or nc is n else ("winograd" if nc["rewrites"] else "direct" + same)
    lines.append(f"| {tuple(res['shape'])} | {res['dtype'].split('.')[-1]} | {ms(d['kernel_ms'])} | {ms(k(o))} | {ms(k(nc))} | {ms(k(n))} | "
                 f"{ms(t['kernel_ms'])} | {ratio(k(nc), k(o))} | {ratio(k(nc), d['kernel_ms'])} | {ratio(k(nc), t['kernel_ms'])} | "
                 f"{ratio(k(n), k(o))} | {ratio(k(n), d['kernel_ms'])} | {ratio(first(nc), first(o))} | {ratio(first(n), first(o))} | {choice} |")
  lines += ["", "## The complete conv timed as shared/anchors does (kernel ms)", "",
            "Each call builds and realizes the conv under DEBUG=2 and sums the kernel times tinygrad reports; median of the calls. "
            "Between calls the device waits on Python (scheduling, the DEBUG lines), "
            "so short kernels can read longer here than back to back above.", "",
            f"| shape (B,Cin,Cout,{size}) | dtype | direct | OLD | NEW+cost | NEW+cost/OLD | NEW+cost/direct |", "|---|---|---|---|---|---|---|"]
  for res in results:
    d, o, nc = row(res, "direct"), row(res, "OLD"), row(res, "NEW auto") or row(res, "NEW")
    pc = lambda r: None if r is None else r.get("per_call_ms")  # noqa: E731
    lines.append(f"| {tuple(res['shape'])} | {res['dtype'].split('.')[-1]} | {ms(pc(d))} | {ms(pc(o))} | {ms(pc(nc))} | "
                 f"{ratio(pc(nc), pc(o))} | {ratio(pc(nc), pc(d))} |")
  for res in results:
    d = row(res, "direct")
    lines += ["", f"## {tuple(res['shape'])} {res['dtype'].split('.')[-1]}", "",
              "| Phase | Operation | NEW ms | OLD ms | NEW vs OLD | NEW/direct | NEW kernels | OLD kernels |",
              "|---|---|---|---|---|---|---|---|",
              f"| baseline | direct conv | {ms(d['kernel_ms'])} | {ms(d['kernel_ms'])} | | | {d['kernels']} | {d['kernels']} |"]
    for p in sorted({r["phase"] for r in res["rows"] if r["impl"] in ("OLD", "NEW")}):
      n, o = row(res, "NEW", p), row(res, "OLD", p)
      nms, oms = n and n["kernel_ms"], o and o["kernel_ms"]
      lines.append(f"| {p} | {PHASE_NAMES[p]} | {ms(nms)} | {ms(oms)} | {ratio(nms, oms)} | {ratio(nms, d['kernel_ms'])} | "
                   f"{n and n['kernels']} | {o and o['kernels']} |")
    lines += ["", "| row | kernel ms (min-max) | build ms | schedule ms | compile ms | load ms | kernels | check |",
              "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
      chk = "" if r["check"] is None else ("ok" if r["check"]["ok"] else "FAILED")
      if r["check"] and "rel_err" in r["check"]: chk += f" err {r['check']['rel_err']:.1e}"
      lines.append(f"| {r['impl']} phase {r['phase']} | {ms(r['kernel_ms'])} ({ms(r['kernel_min_ms'])}-{ms(r['kernel_max_ms'])}) | "
                   f"{r['build_ms']:.1f} | {r['schedule_ms']:.1f} | {r['compile_ms']:.1f} | {ms1(r.get('load_ms'))} | {r['kernels']} | {chk} |")
    t = res["torch"]
    t_ok = "" if t["check"] is None else ("ok" if t["check"]["ok"] else "FAILED")
    lines.append(f"| torch ({t['what']}) | {ms(t['kernel_ms'])} | | | | | | {t_ok} |")
    if ARGS.kernels:
      lines += ["", "| row | kernel | ms | compile ms | of it the device's compiler, ms | load ms |", "|---|---|---|---|---|---|"]
      lines += [f"| {r['impl']} phase {r['phase']} | `{n}` | {t:.3f} | {'' if c is None else f'{c:.0f}'} | {'' if dc is None else f'{dc:.0f}'} "
                f"| {'' if ld is None else f'{ld:.0f}'} |"
                for r in res["rows"] for n, t, c, dc, ld in itertools.zip_longest(
                  r["names"], r["per_kernel_ms"], *(r.get(k, []) for k in ("compile_kernel_ms", "device_compile_kernel_ms", "load_kernel_ms")))]
  return "\n".join(lines) + "\n"

def plot(results:list[dict], path:pathlib.Path, meta:dict) -> bool:
  try: import matplotlib
  except ImportError: return False
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 4.2), squeeze=False)
  colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
  for ax, res in zip(axes[0], results):
    for i, impl in enumerate(("OLD", "NEW")):
      prev = 0.0
      for p in (1, 2, 3, 4):
        if (r:=row(res, impl, p)) is None: continue
        ax.bar(i, max(r["kernel_ms"] - prev, 0), bottom=prev, color=colors[p-1], label=PHASE_NAMES[p] if i == 0 else None)
        prev = r["kernel_ms"]
    ax.bar(2, row(res, "direct")["kernel_ms"], color="#8c8c8c")
    if res["torch"]["kernel_ms"] is not None: ax.bar(3, res["torch"]["kernel_ms"], color="#2f2f2f")
    ax.set_xticks(range(4), ["OLD", "NEW", "direct", "torch"], fontsize=8)
    ax.set_title(f"{tuple(res['shape'])} {res['dtype'].split('.')[-1]}", fontsize=9)
    ax.set_ylabel("kernel ms (median)", fontsize=8)
  axes[0][0].legend(fontsize=7, loc="upper left")
  fig.suptitle(f"{'3x3' if meta.get('dims', 2) == 2 else '1-D 3-tap'} conv phases, {meta['device']} {meta['date']}, BEAM={meta['beam']}", fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  return True

def accelerator() -> str|None:
  if Device.DEFAULT not in ("CUDA", "NV"): return None
  try:
    import torch
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
  except ImportError: return None

def main() -> int:
  if ARGS.render:
    loaded = [json.loads(pathlib.Path(f).read_text()) for f in ARGS.render]
    meta, results = dict(loaded[0]["meta"]), [res for d in loaded for res in d["results"]]
    meta["command"] = " && ".join(d["meta"]["command"] for d in loaded)
    return write(results, meta)
  shapes = [tuple(int(v) for v in s.split(",")) for s in ARGS.shapes.split(";") if s]
  dts = [getattr(dtypes, d.strip()) for d in ARGS.dtypes.split(",")]
  phases = sorted({int(p) for p in ARGS.phases.split(",")} | {4})
  meta = dict(device=Device.DEFAULT, date=datetime.date.today().isoformat(), command=" ".join(["bench/phases.py", *map(shlex.quote, sys.argv[1:])]),
              tinygrad=importlib.metadata.version("tinygrad"), tinygrad_wino=tinygrad_wino.__version__, dims=ARGS.dims, groups=ARGS.groups,
              beam=ARGS.beam, runs=ARGS.runs, warmup=ARGS.warmup, interleaved=True, disk_cache=ARGS.warm_disk_cache, python=platform.python_version(),
              machine=platform.machine(), processor=platform.processor() or platform.machine(), accelerator=accelerator())
  # pay the process's one-time costs (pattern matchers, the device's compiler) before the first shape's first call
  for dt in dts:
    x = Tensor.ones(1, 4 * ARGS.groups, *[8] * ARGS.dims, dtype=dt).contiguous().realize()
    w = Tensor.ones(4 * ARGS.groups, 4, *[3] * ARGS.dims, dtype=dt).contiguous().realize()
    for f in (direct, old_phase, new_phase): first_call(f, x, w)
  results = []
  with tqdm(total=len(shapes) * len(dts) * (len(ARGS.impls.split(",")) * len(phases) + 2 + ("NEW" in ARGS.impls.split(","))), desc="rows") as bar:
    for dt in dts:
      for shape in shapes: results.append(bench_shape(shape, dt, phases, bar))
  return write(results, meta)

def write(results:list[dict], meta:dict) -> int:
  out = pathlib.Path(ARGS.out)
  out.mkdir(parents=True, exist_ok=True)
  stem = ARGS.name or f"{meta['device'].lower()}-{meta['date']}"
  (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, results=results), indent=1) + "\n")
  md = markdown(results, meta)
  (out / f"{stem}.md").write_text(md)
  plotted = not ARGS.no_plot and plot(results, out / f"{stem}.png", meta)
  print(md)
  print(f"wrote {out / stem}.{{json,md{',png' if plotted else ''}}}" + ("" if plotted or ARGS.no_plot else " (no PNG: matplotlib is not installed)"))
  failed = [(res["shape"], r["impl"], r["phase"]) for res in results for r in res["rows"] + [res["torch"]] if r["check"] and not r["check"]["ok"]]
  if failed: print(f"CHECK FAILED: {failed}", file=sys.stderr)
  return 1 if failed else 0

if __name__ == "__main__": sys.exit(main())
