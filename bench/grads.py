#!/usr/bin/env python3
"""Kernel time of a 3x3 conv's gradients (input and weight, of the sum of its squared output) under direct conv, OLD, NEW and
NEW+cost (WINO_COST=1: the cost model picks winograd or direct conv for each of the three convs), and NEW's kernels one by
one: where a training step's conv time goes. Each mode is scheduled and compiled afresh (compile
column: serial, disk cache off), run once, then --runs times, each kernel synchronized (the runtime's own timers); medians.
The gradients are checked against direct conv's. With --dtype float16 the conv runs in half and its output is squared and summed
in float32 (the sum would overflow half).

  python bench/grads.py [--shapes "4,256,256,4;4,128,128,8"] [--runs 7] [--dtype float16] [--out file.md]
"""
import argparse, datetime, os, shlex, statistics, sys, time
os.environ["PARALLEL"] = "0"
os.environ["CACHELEVEL"] = "0"
import numpy as np
import tinygrad_wino
from tinygrad import Tensor, Device, Context, dtypes
from tinygrad_wino.tg import clear_caches, compile_schedule, run_kernels, schedule

def grads(mode, xn:np.ndarray, wn:np.ndarray, runs:int, dtype=dtypes.float32) -> tuple[list[tuple[str, float]], float, list[np.ndarray]]:
  """(NEW's or the mode's kernels with their median ms, compile ms, the two gradients). Mode "new+cost": NEW under WINO_COST=1."""
  clear_caches()
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using("new" if mode == "new+cost" else mode), Context(WINO_COST=int(mode == "new+cost")):
    x, w = Tensor(xn).cast(dtype).realize(), Tensor(wn).cast(dtype).realize()
    x.requires_grad = w.requires_grad = True
    outs = list(x.conv2d(w, padding=1).float().square().sum().gradient(x, w))
    linear, var_vals = schedule(*outs)
    t0 = time.perf_counter()
    compiled = compile_schedule(linear)
    compile_ms = (time.perf_counter() - t0) * 1e3
  run_kernels(compiled, var_vals)
  timed = [run_kernels(compiled, var_vals) for _ in range(runs)]
  return [(n, statistics.median(t[i][1] for t in timed) * 1e3) for i, (n, _) in enumerate(timed[0])], compile_ms, [o.numpy() for o in outs]

def main() -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--shapes", default="4,32,32,32;8,64,64,28;4,128,128,8;4,256,256,4", help="B,Cin,Cout,H;... (padding 1)")
  p.add_argument("--runs", type=int, default=7)
  p.add_argument("--dtype", default="float32", choices=("float32", "float16"), help="the conv's dtype")
  p.add_argument("--out", help="write the markdown here too")
  args = p.parse_args()
  lines = [f"# A 3x3 conv's gradients, {Device.DEFAULT}, {datetime.date.today().isoformat()}", "",
           f"`python bench/grads.py {' '.join(map(shlex.quote, sys.argv[1:]))}`: {args.dtype}, kernel ms (median of {args.runs} after one), "
           "the input and weight gradients of sum(conv(x, w)^2); error: max|difference| over max|gradient| against direct conv, the "
           "worse of the two; NEW+cost rewrote: of the conv's three convs (forward, input gradient, weight gradient), those the cost model "
           "rewrote.", "", "| shape (B,Cin,Cout,H) | direct | OLD | NEW | NEW+cost | NEW/OLD | NEW+cost/direct | NEW+cost rewrote | NEW compile ms | "
           "NEW error | NEW's kernels (ms) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
  print("\n".join(lines))
  for s in args.shapes.split(";"):
    b, cin, cout, h = map(int, s.split(","))
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((b, cin, h, h)).astype(np.float32)
    wn = (rng.standard_normal((cout, cin, 3, 3)) / (3 * cin ** 0.5)).astype(np.float32)
    res, rewrote = {}, 0
    for mode in (None, "old", "new", "new+cost"):
      res[mode] = grads(mode, xn, wn, args.runs, getattr(dtypes, args.dtype))
      if mode == "new+cost": rewrote = len(tinygrad_wino.stats.rewritten)
    ref, (ks, compile_ms, new) = res[None][2], res["new"]
    err = max(float(np.abs(g.astype(np.float64) - r).max() / np.abs(r.astype(np.float64)).max()) for g, r in zip(new, ref))
    total = {m: sum(t for _, t in r[0]) for m, r in res.items()}
    lines.append(f"| {(b, cin, cout, h)} | {total[None]:.3f} | {total['old']:.3f} | {total['new']:.3f} | {total['new+cost']:.3f} | "
                 f"{total['new'] / total['old']:.2f} | {total['new+cost'] / total[None]:.2f} | {rewrote} of 3 | {compile_ms:.0f} | {err:.1e} | "
                 f"{' '.join(f'`{n}` {t:.3f}' for n, t in ks)} |")
    print(lines[-1], flush=True)
  if args.out:
    with open(args.out, "w") as f: f.write("\n".join(lines) + "\n")
  return 0

if __name__ == "__main__": sys.exit(main())
