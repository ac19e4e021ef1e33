#!/usr/bin/env python3
"""The first call of a 3x3 conv (padding 1) as a program meets it: each row in a fresh process, tinygrad compiling the way it does
by default, a schedule's kernels in parallel worker processes (PARALLEL: the cores), so a first call waits for its slowest kernel
rather than for the sum of its kernels' compiles (bench/phases.py's first-call columns compile one kernel after another, in the
process, to split the work by kernel).

Each row's process imports tinygrad and the plugin, starts tinygrad's compile workers on a warm-up graph of no conv (a program pays
that start once, whatever the mode), then builds the conv (build: Python) and times its realize (first call: schedule, compile,
load and run, the device synchronized), wall time, with the disk compile caches off (tinygrad's and the CUDA driver's). Rows:
direct conv, OLD, NEW+cost (WINO_COST=1) and NEW; --repeats processes a row, the rows of a shape in turn. The output is checked
against direct conv's, computed in the same process after the timed call.
"""
from __future__ import annotations
import argparse, datetime, importlib.metadata, json, os, pathlib, shlex, statistics, subprocess, sys, time

IMPLS = {"direct": (None, 0), "OLD": ("old", 0), "NEW+cost": ("new", 1), "NEW": ("new", 0)}
WORKERS_START_S = 2.0  # after the warm-up, for the workers that got no warm-up kernel to finish importing

def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--shapes", default="8,64,64,56;8,128,128,28;8,256,256,14;4,512,512,7", help="';'-separated B,Cin,Cout,H")
  p.add_argument("--dtypes", default="float32", help="comma-separated tinygrad dtypes, e.g. float32,float16")
  p.add_argument("--repeats", type=int, default=3, help="processes a row (median, min, max)")
  p.add_argument("--device", default=None, help="tinygrad device (sets DEV), e.g. CPU or CUDA; default: tinygrad's default")
  p.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="folder for <device>-first-call-<date>.{json,md}")
  p.add_argument("--name", default=None, help="file name stem instead of <device>-first-call-<date>")
  p.add_argument("--row", help=argparse.SUPPRESS)  # a row's process: its spec as JSON
  return p.parse_args(argv)

def row(spec:dict) -> dict:
  """One row, in this (fresh) process."""
  import numpy as np
  import tinygrad_wino
  from tinygrad import Tensor, Device, Context, GlobalCounters, dtypes
  from checks import rel_err
  bs, cin, cout, h = spec["shape"]
  dt, (mode, cost) = getattr(dtypes, spec["dtype"]), IMPLS[spec["impl"]]
  rng = np.random.default_rng(0)
  x = Tensor(rng.standard_normal((bs, cin, h, h), dtype=np.float32)).cast(dt).realize()
  w = Tensor((rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) / np.sqrt(9 * cin)).astype(np.float32)).cast(dt).realize()
  # the compile workers start with the first schedule of more than one kernel to compile
  (Tensor.rand(64, 64) @ Tensor.rand(64, 64)).relu().sum(0).realize()
  time.sleep(WORKERS_START_S)
  tinygrad_wino.stats.reset()
  GlobalCounters.reset()
  with tinygrad_wino.using(mode), Context(WINO_COST=cost):
    t0 = time.perf_counter()
    out = x.conv2d(w, padding=1)
    t1 = time.perf_counter()
    out.realize()
    Device[out.device].synchronize()
    t2 = time.perf_counter()
  kernels, rewrites = GlobalCounters.kernel_count, len(tinygrad_wino.stats.rewritten)
  err = rel_err(out.numpy(), x.conv2d(w, padding=1).numpy().astype(np.float64))
  tol = 1e-4 if dt.itemsize >= 4 else 5e-2  # as bench/phases.py: "this is the conv", OLD's fp16 error reaches 2e-2
  return dict(build_ms=(t1 - t0) * 1e3, first_call_ms=(t2 - t1) * 1e3, kernels=kernels, rewrites=rewrites, rel_err=err, ok=err <= tol,
              device=Device.DEFAULT)

def run_row(spec:dict) -> dict:
  env = {k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD", "WINO_COST", "PARALLEL")}
  env.update(CACHELEVEL="0", CUDA_CACHE_DISABLE="1")
  r = subprocess.run([sys.executable, __file__, "--row", json.dumps(spec)], env=env, capture_output=True, text=True, timeout=900)
  if r.returncode != 0: raise RuntimeError(f"row {spec} failed:\n{r.stderr}")
  return json.loads(r.stdout.strip().splitlines()[-1])

def bench_shape(shape:tuple[int, ...], dtype:str, repeats:int) -> dict:
  runs: dict[str, list[dict]] = {impl: [] for impl in IMPLS}
  for _ in range(repeats):
    for impl in IMPLS: runs[impl].append(run_row(dict(shape=shape, dtype=dtype, impl=impl)))
  rows = []
  for impl, rr in runs.items():
    ts = [r["first_call_ms"] for r in rr]
    rows.append(dict(impl=impl, first_call_ms=statistics.median(ts), first_call_min_ms=min(ts), first_call_max_ms=max(ts),
                     build_ms=statistics.median(r["build_ms"] for r in rr), kernels=rr[0]["kernels"], rewrites=rr[0]["rewrites"],
                     rel_err=max(r["rel_err"] for r in rr), ok=all(r["ok"] for r in rr), runs=rr))
  return dict(shape=list(shape), dtype=dtype, device=rr[0]["device"], rows=rows)

def ms(res:dict, impl:str) -> float: return next(r["first_call_ms"] for r in res["rows"] if r["impl"] == impl)

def markdown(results:list[dict], meta:dict) -> str:
  lines = [f"# First call, tinygrad's parallel compile: {meta['device']}, {meta['date']}", "", f"`{meta['command']}`", "",
           f"tinygrad {meta['tinygrad']}, tinygrad_wino {meta['tinygrad_wino']}, BEAM=0, {meta['cores']} cores. {__doc__.strip()}", "",
           "First call ms (median of the processes, min-max), and the kernels each row ran:", "",
           "| shape (B,Cin,Cout,H) | dtype | direct | OLD | NEW+cost | NEW | NEW+cost/OLD | NEW/OLD | kernels direct/OLD/NEW+cost/NEW |",
           "|---" * 9 + "|"]
  for res in results:
    cells = [f"{r['first_call_ms']:.0f} ({r['first_call_min_ms']:.0f}-{r['first_call_max_ms']:.0f})" for r in res["rows"]]
    lines.append(f"| {tuple(res['shape'])} | {res['dtype']} | {' | '.join(cells)} | {ms(res, 'NEW+cost') / ms(res, 'OLD'):.2f} | "
                 f"{ms(res, 'NEW') / ms(res, 'OLD'):.2f} | {'/'.join(str(r['kernels']) for r in res['rows'])} |")
  lines.append("")
  for dtype in dict.fromkeys(res["dtype"] for res in results):
    rs = [res for res in results if res["dtype"] == dtype]
    lines.append(f"- {dtype}: geomean NEW+cost/OLD {statistics.geometric_mean([ms(r, 'NEW+cost') / ms(r, 'OLD') for r in rs]):.2f}, "
                 f"NEW/OLD {statistics.geometric_mean([ms(r, 'NEW') / ms(r, 'OLD') for r in rs]):.2f}")
  return "\n".join(lines) + "\n"

def main(args:argparse.Namespace) -> int:
  if args.device: os.environ["DEV"] = args.device
  if args.row:
    print(json.dumps(row(json.loads(args.row))))
    return 0
  import tinygrad_wino
  results = []
  for dtype in args.dtypes.split(","):
    for shape in [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]:
      results.append(res:=bench_shape(shape, dtype, args.repeats))
      print(f"{shape} {dtype}: " + ", ".join(f"{r['impl']} {r['first_call_ms']:.0f} ms" for r in res["rows"]), flush=True)
  meta = dict(device=results[0]["device"], date=datetime.date.today().isoformat(), cores=os.cpu_count(),
              command=" ".join(["bench/first_call.py", *map(shlex.quote, sys.argv[1:])]), tinygrad=importlib.metadata.version("tinygrad"),
              tinygrad_wino=tinygrad_wino.__version__, repeats=args.repeats)
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  stem = args.name or f"{meta['device'].lower()}-first-call-{meta['date']}"
  (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, results=results), indent=1))
  (out / f"{stem}.md").write_text(markdown(results, meta))
  bad = [(res["shape"], r["impl"]) for res in results for r in res["rows"] if not r["ok"] or (r["impl"] == "NEW" and not r["rewrites"])]
  if bad: print(f"outputs differ from direct conv, or NEW rewrote nothing: {bad}", file=sys.stderr)
  return 1 if bad else 0

if __name__ == "__main__": sys.exit(main(parse_args()))
