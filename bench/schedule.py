#!/usr/bin/env python3
"""Schedule time of a 3x3 conv (padding 1) under each mode: the Python work between a tensor graph and its kernels (tinygrad's
rangeify, NEW's rewrite pass in it, the kernel split), which every first call pays before it compiles, whatever the device.

Each row is scheduled --runs times in one process, from a graph built afresh each time with every in-process cache cleared
(tg.clear_caches: schedules, and tinygrad's UOp-keyed caches, which would keep an earlier graph's analyses), after one untimed
schedule; median, min and max. Nothing is compiled or run. With --packages the rows run once per tinygrad_wino package given (a
folder put first on the import path: a commit's copy, `git archive <rev> tinygrad_wino | tar -x -C .base`), each in a process of
its own, the packages in turn --rounds times, so a same-machine A/B of the rewrite's cost reads the same drift on both.

With --target (a GPU's renderer, e.g. CUDA:sm_90) the convs are scheduled on tinygrad's NULL device with that renderer and each
kernel's code is generated too (tinygrad's opts, rewrites, linearize and render: most of a GPU first call's compile), on a machine
without that GPU or its compiler (tg.without_device_compiler), a second table's ms summed over the kernels and a third's per kernel.

  python bench/schedule.py [--shapes "8,64,64,56;4,512,512,7"] [--runs 9] [--packages "before=.base,after=."] [--rounds 2]
                           [--target CUDA:sm_90] [--dtype float16] [--out bench/results/cpu-schedule-<date>.md]
"""
from __future__ import annotations
import argparse, datetime, gc, json, os, shlex, statistics, subprocess, sys, time

MODES = {"direct": (None, 0), "OLD": ("old", 0), "NEW+cost": ("new", 1), "NEW": ("new", 0)}

def rows(shapes:list[tuple[int, ...]], runs:int, codegen:bool, dtype:str) -> list[dict]:
  """Every shape's and mode's schedule times (ms), and with codegen each kernel's codegen times, in this process."""
  import tinygrad_wino
  from tinygrad import Tensor, Context, dtypes
  from tinygrad_wino import tg
  if codegen: tg.without_device_compiler()
  ret = []
  for b, cin, cout, h in shapes:
    x, w = (Tensor.randn(*s, dtype=getattr(dtypes, dtype)).realize() for s in ((b, cin, h, h), (cout, cin, 3, 3)))
    for name, (mode, cost) in MODES.items():
      times, kernels = [], {}
      for i in range(runs + 1):
        tg.clear_caches()
        gc.collect()
        tinygrad_wino.stats.reset()
        with tinygrad_wino.using(mode), Context(WINO_COST=cost):
          out = x.conv2d(w, padding=1)
          t0 = time.perf_counter()
          linear, _ = tg.schedule(out)
          if i: times.append((time.perf_counter() - t0) * 1e3)
          # the device compiler's share is 0 here: the binary is empty
          for j, (kernel, t, _) in enumerate(tg.compile_times(linear) if codegen and i else []):
            kernels.setdefault(f"{j}:{kernel}", []).append(t * 1e3)
      ret.append(dict(shape=[b, cin, cout, h], mode=name, ms=times, rewrites=len(tinygrad_wino.stats.rewritten), kernels=kernels))
  return ret

def main() -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--shapes", default="8,64,64,56;8,128,128,28;8,256,256,14;4,512,512,7", help="';'-separated B,Cin,Cout,H")
  p.add_argument("--runs", type=int, default=9, help="timed schedules a row, in one process")
  p.add_argument("--packages", default="this=.", help="','-separated name=folder: the tinygrad_wino package each column imports")
  p.add_argument("--rounds", type=int, default=1, help="processes a package, the packages in turn")
  p.add_argument("--target", help="generate each kernel's code for this renderer too, DEV=NULL:<target> (e.g. CUDA:sm_90)")
  p.add_argument("--dtype", default="float32", help="the convs' dtype")
  p.add_argument("--out", help="write the markdown table here too")
  p.add_argument("--child", help=argparse.SUPPRESS)  # a process's shapes and runs as JSON
  args = p.parse_args()
  if args.child:
    spec = json.loads(args.child)
    print(json.dumps(rows([tuple(s) for s in spec["shapes"]], spec["runs"], spec["codegen"], spec["dtype"])))
    return 0
  shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
  packages = dict(kv.split("=", 1) for kv in args.packages.split(","))
  times: dict[tuple[str, str, str], list[float]] = {}
  kernels: dict[tuple[str, str, str], dict[str, list[float]]] = {}
  for _ in range(args.rounds):
    for name, folder in packages.items():
      env = os.environ | {"PYTHONPATH": os.pathsep.join([os.path.abspath(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
      # compiled here, where the device compiler is left out (a parallel compile worker would load it)
      if args.target: env |= {"DEV": f"NULL:{args.target}", "PARALLEL": "0"}
      spec = dict(shapes=shapes, runs=args.runs, codegen=bool(args.target), dtype=args.dtype)
      r = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env, capture_output=True, text=True, timeout=3600)
      if r.returncode != 0: raise RuntimeError(f"{name} failed:\n{r.stderr}")
      for row in json.loads(r.stdout.strip().splitlines()[-1]):
        if row["mode"] == "NEW" and not row["rewrites"]: raise RuntimeError(f"{name}: NEW rewrote nothing at {row['shape']}")
        key = (str(tuple(row["shape"])), row["mode"], name)
        times.setdefault(key, []).extend(row["ms"])
        for kernel, ms in row["kernels"].items(): kernels.setdefault(key, {}).setdefault(kernel, []).extend(ms)
  # a run's codegen: its kernels' sum, run by run
  codegen = {key: [sum(run) for run in zip(*ks.values())] for key, ks in kernels.items()}
  def table(title:str, what:dict) -> list[str]:
    ret = ["", title, "", "| shape (B,Cin,Cout,H) | mode | " + " | ".join(packages) + " |", "|---|---|" + "---|" * len(packages)]
    for shape in dict.fromkeys(k[0] for k in what):
      for mode in MODES:
        cells = [f"{statistics.median(t):.0f} ({min(t):.0f}-{max(t):.0f})" if (t:=what.get((shape, mode, n))) else "" for n in packages]
        ret.append(f"| {shape} | {mode} | " + " | ".join(cells) + " |")
    return ret
  lines = [f"# Schedule time{' and codegen time for ' + args.target if args.target else ''}, {datetime.date.today().isoformat()}", "",
           f"`python bench/schedule.py {' '.join(map(shlex.quote, sys.argv[1:]))}`: {os.cpu_count()} cores, {args.dtype}; median (min-max) "
           f"ms of {args.runs} runs a process x {args.rounds} process(es) a package; packages: "
           + ", ".join(f"{n} = `{f}`" for n, f in packages.items()) + ".",
           *table("tg.schedule (tinygrad's rangeify with NEW's pass in it, and the kernel split; nothing compiled):", times)]
  if args.target:
    lines += table(f"Codegen for {args.target} (DEV=NULL:{args.target}, no device compiler), summed over the conv's kernels:", codegen)
    lines += ["", "Codegen per kernel, in the schedule's order (median ms):", "", "| shape (B,Cin,Cout,H) | mode | package | kernels |",
              "|---|---|---|---|"]
    for (shape, mode, name), ks in kernels.items():
      lines.append(f"| {shape} | {mode} | {name} | " + ", ".join(f"`{k.split(':', 1)[1]}` {statistics.median(t):.0f}" for k, t in ks.items()) + " |")
  print("\n".join(lines))
  if args.out:
    with open(args.out, "w") as f: f.write("\n".join(lines) + "\n")
  return 0

if __name__ == "__main__": sys.exit(main())
