#!/usr/bin/env python3
"""The harness's per-kernel floor: an elementwise kernel (x + 1 into a new buffer) of n float32 elements timed as bench/phases.py
times a kernel (the runtime's own timer, each kernel synchronized), median and min of --runs after 3 warm-up runs. A conv of k
kernels pays at least k times the floor, whatever the kernels do.

  python bench/timer_floor.py [--runs 20] [--out bench/results/<device>-timer-floor-<date>.md]
"""
import argparse, datetime, shlex, statistics, sys
from tinygrad import Tensor, Device
from tinygrad_wino.tg import schedule, compile_schedule, run_kernels

def main() -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--runs", type=int, default=20)
  p.add_argument("--out", help="write the markdown table here too")
  args = p.parse_args()
  lines = [f"# The per-kernel timer floor, {Device.DEFAULT}, {datetime.date.today().isoformat()}", "",
           f"`python bench/timer_floor.py {' '.join(map(shlex.quote, sys.argv[1:]))}`: x + 1 over n float32 elements, the runtime's timer, "
           f"each kernel synchronized, {args.runs} runs after 3.", "", "| n | bytes moved | median us | min us |", "|---|---|---|---|"]
  for n in (1, 1024, 2**16, 2**20, 2**22, 2**24):
    x = Tensor.ones(n).contiguous().realize()
    linear, var_vals = schedule((x + 1).contiguous())
    compiled = compile_schedule(linear)
    for _ in range(3): run_kernels(compiled, var_vals)
    ts = [sum(t for _, t in run_kernels(compiled, var_vals)) * 1e6 for _ in range(args.runs)]
    lines.append(f"| {n} | {8 * n} | {statistics.median(ts):.1f} | {min(ts):.1f} |")
  print("\n".join(lines))
  if args.out:
    with open(args.out, "w") as f: f.write("\n".join(lines) + "\n")
  return 0

if __name__ == "__main__": sys.exit(main())
