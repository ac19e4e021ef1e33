#!/usr/bin/env python3
"""A/B of the opts for NEW's MHAT kernel on the CPU (opts.py's register blocking): each candidate list of opts against tinygrad's
hand-coded heuristic, in one process, F(4,3). Prints MHAT's kernel time, the whole conv's, compile time and the error against
the heuristic's result as a markdown table.

  python bench/mhat_opts.py [--shapes "8,256,256,14;4,512,512,7"] [--runs 5] [--out bench/results/cpu-mhat-opts-<date>.md]
"""
import argparse, datetime, os, statistics, sys, time
os.environ["PARALLEL"] = "0"  # compile here, where the candidate opts are installed
import numpy as np
import tinygrad_wino
from tinygrad import Tensor, Context
from tinygrad_wino import tg, toggle
from tinygrad_wino.tg import Opt, OptOps, KernelOptError

U, R, T = OptOps.UPCAST, OptOps.UNROLL, OptOps.THREAD
# (n, m, k unroll): the opts go on MHAT's axes batch 0, n 1, m 2 and its one reduce, threads over the tile positions
CANDIDATES = {"opts.py (8, 8, 8)": None, "8, 8, 4": (8, 8, 4), "16, 4, 4": (16, 4, 4), "4, 8, 4": (4, 8, 4), "8, 4, 4": (8, 4, 4),
              "8, 16, 4": (8, 16, 4), "heuristic": ()}

def candidate(block):
  def choose(k):
    if (mine:=toggle.kernel_opts(k)) is None or block is None: return mine  # not MHAT, or opts.py's own choice
    if block == (): return None
    k = k.copy()
    try:
      for op, axis, amount in ((U, 1, block[0]), (U, 2, block[1]), (R, 0, block[2]), (T, 0, 2)): k.apply_opt(Opt(op, axis, amount))
    except KernelOptError: return None
    return k
  return choose

def measure(x:Tensor, w:Tensor, runs:int) -> tuple[float, float, float, np.ndarray]:
  tg.clear_caches()
  with tinygrad_wino.using("new"), Context(WINO_TILE=4):
    out = x.conv2d(w, padding=1)
    linear, var_vals = tg.schedule(out)
    t0 = time.perf_counter()
    compiled = tg.compile_schedule(linear)
    compile_s = time.perf_counter() - t0
  tg.run_kernels(compiled, var_vals)
  times = [tg.run_kernels(compiled, var_vals) for _ in range(runs)]
  mhat = next(i for i, (name, _) in enumerate(times[0]) if name.startswith("r_"))
  return (statistics.median(t[mhat][1] for t in times) * 1e3, statistics.median(sum(s for _, s in t) for t in times) * 1e3, compile_s * 1e3,
          out.numpy())

def main() -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--shapes", default="8,64,64,56;8,128,128,28;8,256,256,14;4,512,512,7", help="B,Cin,Cout,H;...")
  p.add_argument("--runs", type=int, default=5)
  p.add_argument("--out", help="write the markdown table here too")
  args = p.parse_args()
  lines = [f"# NEW's MHAT opts on the CPU, {datetime.date.today().isoformat()}", "",
           f"`python bench/mhat_opts.py {' '.join(sys.argv[1:])}`: F(4,3), float32, median of {args.runs} runs after one; opts as "
           "(UPCAST n, UPCAST m, UNROLL k), THREAD 2 over the tile positions.", "",
           "| shape (B,Cin,Cout,H) | opts | MHAT ms | conv ms | compile ms | error vs heuristic |", "|---|---|---|---|---|---|"]
  print("\n".join(lines))
  for s in args.shapes.split(";"):
    b, cin, cout, h = map(int, s.split(","))
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((b, cin, h, h)).astype(np.float32)).realize()
    w = Tensor((rng.standard_normal((cout, cin, 3, 3)) / (3 * cin ** 0.5)).astype(np.float32)).realize()
    results = {}
    try:
      for name, block in CANDIDATES.items():
        tg.install_kernel_opts(candidate(block))
        results[name] = measure(x, w, args.runs)
    finally: tg.install_kernel_opts(toggle.kernel_opts)
    ref = results["heuristic"][3]
    for name, (mhat_ms, conv_ms, compile_ms, out) in results.items():
      lines.append(f"| {(b, cin, cout, h)} | {name} | {mhat_ms:.2f} | {conv_ms:.2f} | {compile_ms:.0f} | "
                   f"{np.abs(out - ref).max() / np.abs(ref).max():.1e} |")
      print(lines[-1], flush=True)
  if args.out:
    with open(args.out, "w") as f: f.write("\n".join(lines) + "\n")
  return 0

if __name__ == "__main__": sys.exit(main())
