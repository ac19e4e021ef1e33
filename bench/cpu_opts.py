#!/usr/bin/env python3
"""A/B of the opts for one of NEW's kernels on the CPU: MHAT (opts.py's register blocking), a weight gradient's MHAT (the same, both
operands with k innermost), XHAT (its upcast along the row's tiles), GHAT (no rule of opts.py's: its channels' upcasts and loop
order) or the output transform (whole tiles, the channels' loop), each candidate against tinygrad's hand-coded heuristic, in one
process, F(4,3) (--tile for another). Every candidate of a shape is compiled first, then the candidates run round-robin (one run
of each in turn), so the machine's drift falls on all alike (timed one candidate after another, two candidates of the same opts
read far apart on a shared 2-core machine). Prints the kernel's time, the whole conv's (or its gradients'), the kernel's compile
time and the error against the heuristic's result as a markdown table.
(bench/results/cpu-mhat-opts-2026-11-25.md was made by this script's first version, bench/mhat_opts.py, the MHAT kind alone.)

  python bench/cpu_opts.py [--kernel mhat|wgmhat|xhat|ghat|output] [--shapes "8,256,256,14;4,512,512,7"] [--runs 5] [--tile 2|4|6] [--dims 1|2]
                           [--match RE] [--out bench/results/cpu-<kernel>-opts-<date>.md]
"""
import argparse, datetime, functools, os, re, shlex, statistics, sys
os.environ["PARALLEL"] = "0"  # compile here, where the candidate opts are installed
os.environ["CACHELEVEL"] = "0"  # and compile every candidate afresh
import numpy as np
import tinygrad_wino
from tinygrad import Tensor, Context
from tinygrad_wino import opts, tg, toggle
from tinygrad_wino.tg import Opt, OptOps, AxisType, KernelOptError

U, R = OptOps.UPCAST, OptOps.UNROLL
# XHAT's and the output transform's candidates at every tile size opts.py takes on a CPU
def find_xhat(k): return opts._xhat(k, opts.CPU_ALPHAS)
def find_output(k): return opts._output(k, opts.CPU_ALPHAS, opts.OUTPUT_NDIMS)

def mhat(k, block:tuple, k_major:bool=False) -> None:
  # (n, m, k unroll[, m outer]): n and m upcast, the reduce unrolled, tinygrad's CPU threads over the tile positions (as opts.py's);
  # with m outer n's blocks loop inside m's (opts.mhat_opts' order where G outgrows L2), else tinygrad's order, m's inside n's.
  # k_major: a weight gradient's MHAT (both operands with k innermost)
  m, n, kr, batch = opts._mhat(k, k_major)
  if block[3:] == (True,): n = opts.loop_innermost(k, n)[0]
  for r, b in ((n, block[0]), (m, block[1])): k.apply_opt(Opt(U, opts._axis(k, r), b))
  k.apply_opt(Opt(R, k.unrollable_dims.index(opts._axis(k, kr)), block[2]))
  opts._cpu_threads(k, [opts._axis(k, batch[0])])

def xhat(k, arg:tuple[int, slice, bool, int]) -> None:
  # (u tiles of a row an iteration (0: the whole row), which alpha dims upcast (the other loops, innermost), whether a row that u
  # doesn't divide is padded to a multiple of u (PADTO), else no candidate, the first alpha dim upcast by this part (its rest a
  # loop outside the innermost one) or 0: whole), tinygrad's threads; the loops in XHAT's layout's order first, as opts.py's
  alpha, stored = find_xhat(k)
  tiles = opts.loops_in_store_order(k, stored, [r for r in alpha if r not in alpha[arg[1]]])[0]
  if arg[2] and arg[0] and (tiles.vmax + 1) % arg[0]: k.apply_opt(Opt(OptOps.PADTO, opts._axis(k, tiles), arg[0]))
  elif arg[2]: raise KernelOptError("the row needs no padding")
  k.apply_opt(Opt(U, opts._axis(k, tiles), arg[0]))
  for r in alpha[arg[1]]: k.apply_opt(Opt(U, opts._axis(k, r), arg[3] if r is alpha[0] else 0))
  opts._cpu_threads(k, k.axes_of(AxisType.WEAK))

def find_ghat(k):
  # NEW's weight transform (opts._transform's, reading the 3^n taps): its alpha^n ranges and its other stored ranges by stride,
  # innermost first (M, the output channels, then K, the input channels)
  if (found:=opts._transform(k, opts.CPU_ALPHAS)) is None or len(found[2]) != 3 ** len(found[0]): return None
  alpha, store, _ = found
  out = opts._strides(store)
  return alpha, sorted((r for r in out if r not in alpha), key=out.__getitem__)

def ghat(k, arg:tuple) -> None:
  # (K upcast, M upcast, K's loop inside M's, the last alpha dim looping innermost instead of upcast[, M in blocks of this many
  # with K's loop between the blocks and a block's loop]), tinygrad's CPU threads
  alpha, (m, kk, *_) = find_ghat(k)
  if arg[2]: m, kk = opts.loop_innermost(k, m, kk)
  if arg[4:]:
    kk, m = opts.loop_innermost(k, kk, m)
    m = k.shift_to(m, arg[4], m.arg[-1])[1]
  if arg[3]: alpha = [*alpha[:-1], opts.loop_innermost(k, alpha[-1])[0]]
  for r, u in ((kk, arg[0]), (m, arg[1])):
    if u > 1: k.apply_opt(Opt(U, opts._axis(k, r), u))
  for r in alpha[:-1] if arg[3] else alpha: k.apply_opt(Opt(U, opts._axis(k, r), 0))
  opts._cpu_threads(k, k.axes_of(AxisType.WEAK))

def output(k, arg:tuple) -> None:
  # (channels an iteration, where tinygrad's CPU threads go: the first axis they divide, or channels; or "innermost": the
  # channels' loop innermost, threads on the first axis[, tiles of a row an iteration]): whole tiles (m a dim) upcast
  spatial, c, mhat, m = find_output(k)
  for dim in spatial: opts._tile(k, dim, mhat, m)
  if arg[2:]:
    # what remains of the innermost output dim after the whole tiles: the row's tiles
    row = [r for r in k.rngs if r.arg[0] == spatial[-1][0].arg[0] and r.arg[-1] is not AxisType.UPCAST][-1]
    k.apply_opt(Opt(U, opts._axis(k, row), arg[2]))
  if arg[0] > 1:
    if c.vmax + 1 <= arg[0]: raise KernelOptError("the channels upcast whole")  # no channels' loop left to thread or order
    c = k.apply_opt(Opt(U, opts._axis(k, c), arg[0]))[0]
  if arg[1] == "innermost": tg.loop_innermost(k, c)
  opts._cpu_threads(k, k.axes_of(AxisType.WEAK) if arg[1] != "channels" else [opts._axis(k, c)])

# kind: (its finder, candidate, the candidates besides opts.py's and the heuristic, which kernel of the graph, the graph: the conv
# or its gradients)
KINDS = {"mhat": (opts._mhat, mhat, {"8, 8, 4": (8, 8, 4), "16, 4, 4": (16, 4, 4), "4, 8, 4": (4, 8, 4), "4, 8, 2": (4, 8, 2),
                                        "8, 4, 4": (8, 4, 4), "8, 16, 4": (8, 16, 4), "4, 4, 4": (4, 4, 4)} |
                                       {f"{n}, {m}, {u}, m outer": (n, m, u, True)
                                        for n, m, u in ((8, 8, 4), (4, 8, 4), (4, 8, 2), (8, 4, 4), (4, 4, 4))},
                  lambda names: [n.startswith("r_") for n in names].index(True), False),
         "output": (find_output, output, {f"{u} ch, threads on {t}": (u, t) for u in (1, 4, 8, 16) for t in ("batch", "channels")} |
                    {f"{u} ch, channels innermost": (u, "innermost") for u in (1, 4, 8)} |
                    {f"1 ch, channels innermost, {r} tiles of a row": (1, "innermost", r) for r in (2, 4, 7)},
                    lambda names: len(names) - 1, False),
         "ghat": (find_ghat, ghat, {f"K by {uk}, M by {um}{', K inner' if ki else ''}{', last alpha loops' if al else ''}": (uk, um, ki, al)
                                    for uk in (1, 2, 4, 8) for um in (1, 4, 8) for ki in (False, True) for al in (False, True)
                                    if uk * um <= 8 and not (ki and uk > 1)} |
                                   {f"M in blocks of {b}, K between": (1, 1, False, False, b) for b in (8, 16, 32, 40, 64, 104, 128, 130, 260)},
                  lambda names: 1, False),  # XHAT first, then GHAT
         "xhat": (find_xhat, xhat, {f"{t}{', row padded' if pad else ''}, {a}": (u, dims, pad, part)
                                     for t, u in (("2 tiles", 2), ("4 tiles", 4), ("8 tiles", 8), ("the whole row", 0))
                                     for pad in (False, True) if u or not pad
                                     for a, dims, part in (("alpha^2 upcast", slice(None), 0), ("last alpha loops", slice(1), 0),
                                                           ("first alpha loops", slice(1, None), 0),
                                                           ("first alpha by 2, last alpha loops", slice(1), 2),
                                                           ("first alpha by 3, last alpha loops", slice(1), 3))},
                  lambda names: 0, False),
         # the weight gradient's MHAT is the last reduce of the conv's gradients
         "wgmhat": (lambda k: opts._mhat(k, k_major=True), functools.partial(mhat, k_major=True),
                    {f"{n}, {m}, {u}": (n, m, u) for n, m, u in ((8, 8, 8), (8, 8, 4), (8, 4, 4), (4, 8, 4), (4, 8, 2), (4, 4, 4))},
                    lambda names: max(i for i, n in enumerate(names) if n.startswith("r_")), True)}

def candidate(kind:str, arg, failed:list):
  find, apply, _, _, _ = KINDS[kind]
  def choose(k):
    # another kernel, or opts.py's own choice: opts.py's opts; the heuristic: none
    if find(k) is None or arg == "opts.py": return toggle.kernel_opts(k)
    if arg == "heuristic": return None
    k = k.copy()
    try: apply(k, arg)
    except KernelOptError:
      failed.append(arg)
      return None
    return k
  return choose

def build(x:Tensor, w:Tensor, kind:str, tile:int) -> tuple:
  """Schedule and compile the conv (or its gradients) under the installed opts: the compiled schedule, its variables, the kernel of
  this kind's index and compile seconds, and the output to check."""
  tg.clear_caches()
  with tinygrad_wino.using("new"), Context(WINO_TILE=tile):
    if KINDS[kind][4]:
      x, w = x.detach(), w.detach()
      x.requires_grad = w.requires_grad = True
      outs = list(x.conv2d(w, padding=1).square().sum().gradient(x, w))
    else: outs = [x.conv2d(w, padding=1)]
    linear, var_vals = tg.schedule(*outs)
    compile_times = tg.compile_times(linear)
    compiled = tg.compile_schedule(linear)
  i = KINDS[kind][3]([name for name, _, _ in compile_times])
  tg.run_kernels(compiled, var_vals)  # loads the programs and realizes the outputs
  return compiled, var_vals, i, compile_times[i][1], outs[-1].numpy()

def time_round_robin(built:dict, runs:int) -> dict[str, tuple[float, float]]:
  """Each candidate's kernel and whole-graph ms, median of the runs, the candidates run one after another in each round."""
  times: dict[str, list] = {name: [] for name in built}
  for _ in range(runs):
    for name, (compiled, var_vals, i, _, _) in built.items(): times[name].append(tg.run_kernels(compiled, var_vals))
  return {name: (statistics.median(t[i][1] for t in times[name]) * 1e3, statistics.median(sum(s for _, s in t) for t in times[name]) * 1e3)
          for name, (_, _, i, _, _) in built.items()}

def main() -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--kernel", choices=KINDS, default="mhat")
  p.add_argument("--shapes", default="8,64,64,56;8,128,128,28;8,256,256,14;4,512,512,7", help="B,Cin,Cout,H;...")
  p.add_argument("--runs", type=int, default=5)
  p.add_argument("--tile", type=int, default=4, choices=(2, 4, 6), help="m of F(m,3)")
  p.add_argument("--dims", type=int, default=2, choices=(1, 2), help="the conv's spatial dims (H, or H x H)")
  p.add_argument("--match", default="", help="only the candidates whose name has a match of this regex (opts.py's and the heuristic always)")
  p.add_argument("--out", help="write the markdown table here too")
  args = p.parse_args()
  what = {"mhat": "opts as (UPCAST n, UPCAST m, UNROLL k), tinygrad's CPU threads over the tile positions, with m outer n's blocks "
                  "looping inside m's",
          "output": "the output transform fused into the conv's output: whole tiles (m a dim) upcast (padded to whole tiles where m doesn't "
                    "divide a size), channels upcast, tinygrad's CPU threads on the first axis they divide or on the channels, or the "
                    "channels' loop innermost (and several tiles of a row an iteration, where the name says so)",
          "ghat": "opts as the input channels (K) and output channels (M, GHAT's innermost) upcast, K's loop inside M's or not, "
                  "the alpha^2 positions upcast whole or the last alpha dim looping innermost, tinygrad's CPU threads",
          "xhat": "opts as tiles of a row upcast (a row they don't divide padded, where the name says so) and the alpha^2 positions "
                  "upcast whole, or only the first or last alpha dim (the other loops, innermost; the first by a part, its rest a loop "
                  "outside, where the name says so), tinygrad's CPU threads",
          "wgmhat": "the conv's gradients (of the sum of its squared output), the weight gradient's MHAT: opts as (UPCAST n, UPCAST m, "
                    "UNROLL k), tinygrad's CPU threads over the tile positions; conv ms: all the gradients' kernels; error: the weight "
                    "gradient's"}[args.kernel]
  lines = [f"# NEW's {args.kernel.upper()} opts on the CPU, {datetime.date.today().isoformat()}", "",
           f"`python bench/cpu_opts.py {' '.join(map(shlex.quote, sys.argv[1:]))}`: F({args.tile},3), {args.dims}-D, float32, median of "
           f"{args.runs} runs after one, round-robin; {what}; compile: the kernel's (codegen and clang); {opts.cpu_vector_registers()} "
           f"vector registers (opts.cpu_vector_registers).", "",
           f"| shape (B,Cin,Cout,H) | opts | {args.kernel.upper()} ms | conv ms | kernel compile ms | error vs heuristic |",
           "|---|---|---|---|---|---|"]
  print("\n".join(lines))
  for s in args.shapes.split(";"):
    b, cin, cout, h = map(int, s.split(","))
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((b, cin, *[h] * args.dims)).astype(np.float32)).realize()
    w = Tensor((rng.standard_normal((cout, cin, *[3] * args.dims)) / (3 ** (args.dims / 2) * cin ** 0.5)).astype(np.float32)).realize()
    built = {}
    try:
      mine = {name: arg for name, arg in KINDS[args.kernel][2].items() if re.search(args.match, name)}
      for name, arg in {"opts.py": "opts.py", **mine, "heuristic": "heuristic"}.items():
        tg.install_kernel_opts(candidate(args.kernel, arg, failed:=[]))
        one = build(x, w, args.kernel, args.tile)
        if not failed: built[name] = one  # a candidate that doesn't apply: no row
    finally: tg.install_kernel_opts(toggle.kernel_opts)
    times, ref = time_round_robin(built, args.runs), built["heuristic"][4]
    for name, (_, _, _, compile_s, out) in built.items():
      lines.append(f"| {(b, cin, cout, h)} | {name} | {times[name][0]:.2f} | {times[name][1]:.2f} | {compile_s * 1e3:.0f} | "
                   f"{np.abs(out - ref).max() / np.abs(ref).max():.1e} |")
      print(lines[-1], flush=True)
  if args.out:
    with open(args.out, "w") as f: f.write("\n".join(lines) + "\n")
  return 0

if __name__ == "__main__": sys.exit(main())
