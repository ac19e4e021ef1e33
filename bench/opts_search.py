#!/usr/bin/env python3
"""An opts search for one of NEW's kernels on a GPU: XHAT, MHAT (tensor cores, half) or the output transform. Each candidate
list of opts is applied to that kernel of NEW's conv (F(4,3)), only that kernel is compiled afresh, and its kernel time (the
runtime's timer, median of --runs after 2) and the conv's output against the heuristic's are printed as a markdown table, the
fastest first, with tinygrad's heuristic and opts.py's own choice among the rows. opts.py's rules come from these searches.

  DEV=CUDA python bench/opts_search.py --kernel xhat --shapes "64,64,64,112;32,128,128,28" [--dtype float16] [--dims 1|2] [--out file.md]

Candidates: xhat (tiles a thread, threads along tiles, threads along channels[, 1: only the last alpha dim upcast]); mhat
(tensor-core tiles a warp along the output channels and along the tiles, warps a block along the output channels); fmhat, a float32
MHAT (tiles and output channels a thread, the reduce unrolled, threads along the output channels and along the tiles); output
(channels a thread, threads along channels, threads along the row's tiles[, 1: the row padded to a multiple of them]); wgmhat,
a weight gradient's MHAT in the conv's gradients (outputs a thread along each channel dim, the reduce unrolled, threads splitting
the reduce, threads along each channel dim).
"""
import argparse, datetime, functools, itertools, os, shlex, statistics, sys
os.environ["PARALLEL"] = "0"  # compile here, where the candidate opts are installed
os.environ["CACHELEVEL"] = "0"
import numpy as np
import tinygrad_wino
from tinygrad import Tensor, Context, Device, dtypes
from tinygrad_wino import opts, tg, toggle
from tinygrad_wino.tg import Opt, OptOps, KernelOptError, AxisType, USE_TC, TC_SELECT, TC_OPT

# each applies a candidate to a copy of the kernel, with the ranges opts.py's finder returned for it

def xhat(k, found, u:int, t:int, c:int, a:int=2):
  # a: the alpha dims upcast whole, the last a of them (the others are threads)
  alpha, tiles, chans = found
  if u > 1: tiles = k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, tiles), u))[0]
  k.apply_opt(Opt(OptOps.LOCAL, opts._axis(k, tiles), t))
  if c > 1: k.apply_opt(Opt(OptOps.LOCAL, opts._axis(k, chans), c))
  for r in alpha[len(alpha) - a:]: k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, r), 0))

def mhat(k, found, um:int, un:int, lm:int):
  rngs = k.apply_opt(Opt(OptOps.TC, 0, (TC_SELECT.value, TC_OPT.value, USE_TC.value)))
  if um > 1: rngs[0] = k.apply_opt(Opt(OptOps.UPCAST, k.rngs.index(rngs[0]), um))[0]
  if un > 1: rngs[1] = k.apply_opt(Opt(OptOps.UPCAST, k.rngs.index(rngs[1]), un))[0]
  if lm > 1: k.apply_opt(Opt(OptOps.LOCAL, k.rngs.index(rngs[0]), lm))

# the output transform of F(4,3) of a conv of `dims` spatial dims (opts.py's opts take OUTPUT_NDIMS')
def find_output(k, dims:int): return opts._output(k, (opts.ALPHA,), (dims,))
def output(k, found, u:int, t:int, tx:int, pad:int=0):
  # pad: the row's tiles padded to a multiple of tx (opts._pad; the padded tiles' outputs masked) where tx doesn't divide them
  spatial, c, mhat, m = found
  for dim in spatial: opts._tile(k, dim, mhat, m)
  if u > 1: c = k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, c), u))[0]
  k.apply_opt(Opt(OptOps.LOCAL, opts._axis(k, c), t))
  # threads along the row's tiles too: a warp then writes whole rows of adjacent tiles
  if tx > 1:
    row = opts._row_tiles(k, spatial)[0]
    if pad:
      # a padded candidate where tx divides the row is the unpadded one
      if (row.vmax + 1) % tx == 0: raise KernelOptError("the row needs no padding")
      opts._pad(k, row, tx, mhat)
    k.apply_opt(Opt(OptOps.LOCAL, opts._axis(k, row), tx))

def fmhat(k, found, un:int, um:int, uk:int, lm:int, ln:int):
  # a forward conv's float32 MHAT (no tensor cores: TF32 is off): an un x um block of outputs a thread (tiles n, output channels m),
  # the reduce unrolled by uk, lm threads along m (stored innermost) and ln along n
  m, n, kr, _ = found
  # each opt splits a range: the part left outside it is where the next opt on that dim applies
  if un > 1: n = k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, n), un))[0]
  if um > 1: m = k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, m), um))[0]
  if uk > 1: k.apply_opt(Opt(OptOps.UNROLL, k.unrollable_dims.index(opts._axis(k, kr)), uk))
  if lm > 1: k.apply_opt(Opt(OptOps.LOCAL, k.rngs.index(m), lm))
  if ln > 1: k.apply_opt(Opt(OptOps.LOCAL, k.rngs.index(n), ln))

def wgmhat(k, found, um:int, un:int, uk:int, g:int, lm:int, ln:int=1):
  # a weight gradient's MHAT (both operands with its reduce innermost): threads splitting the reduce (GROUPTOP, a shared-memory
  # sum), an um x un block of outputs a thread, the reduce unrolled by uk, lm threads along m (the input channels, stored
  # innermost), ln along n (the output channels)
  m, n, kr, _ = found
  if g: k.apply_opt(Opt(OptOps.GROUPTOP, k.axes_of(AxisType.REDUCE).index(opts._axis(k, kr)), g))
  if un > 1: k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, n), un))
  if um > 1: k.apply_opt(Opt(OptOps.UPCAST, opts._axis(k, m), um))
  if uk > 1: k.apply_opt(Opt(OptOps.UNROLL, k.unrollable_dims.index(opts._axis(k, kr)), uk))
  if lm > 1: k.apply_opt(Opt(OptOps.LOCAL, opts._axis(k, m), lm))
  if ln > 1: k.apply_opt(Opt(OptOps.LOCAL, opts._axis(k, n), ln))

# (finder, opts.py's opts, candidate, its space)
KINDS = {"xhat": (opts._xhat, opts.xhat_opts, xhat, [*itertools.product((1, 2, 4), (8, 16, 32), (1, 2, 4)),
                                                     *itertools.product((1,), (8, 16, 32), (1, 2, 4), (1,))]),
         "mhat": (opts._mhat, opts.mhat_tensor_core_opts, mhat, itertools.product((2, 4, 8), (1, 2, 4), (1, 2, 4))),
         "output": (find_output, opts.output_transform_opts, output, [*itertools.product((1, 2, 4), (4, 8, 16, 32), (1, 2, 4, 8)),
                                                                      *itertools.product((1, 2), (4, 8, 16, 32), (4, 8), (1,))]),
         "fmhat": (opts._mhat, toggle.kernel_opts, fmhat, [(un, um, 4, lm, ln) for un, um in itertools.product((2, 4, 8), (2, 4, 8))
                                                           for lm, ln in ((8, 16), (16, 8), (4, 32), (32, 4), (16, 16))]),
         # searched in the conv's gradients (of the sum of its squared output)
         "wgmhat": (lambda k: opts._mhat(k, k_major=True), opts.wg_mhat_opts, wgmhat,
                    [*itertools.product((1, 2, 4), (1, 2, 4), (1, 4), (0, 16, 32), (1, 16)),
                     *itertools.product((1, 2), (2, 4, 8), (4, 8), (0,), (8, 16, 32), (2, 4))])}

def main() -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--kernel", choices=KINDS, required=True)
  p.add_argument("--shapes", default="32,256,256,14", help="B,Cin,Cout,H;... (3x3 conv, padding 1; with --dims 1 B,Cin,Cout,L)")
  p.add_argument("--dims", type=int, default=2, choices=(1, 2), help="the conv's spatial dims: 2 (H x H, 3x3) or 1 (L, 3 taps)")
  p.add_argument("--dtype", default="float16")
  p.add_argument("--runs", type=int, default=10)
  p.add_argument("--top", type=int, default=8, help="candidates shown a shape, besides the heuristic and opts.py")
  p.add_argument("--out", help="write the markdown table here too")
  args = p.parse_args()
  find, mine, apply, space = KINDS[args.kernel]
  if find is find_output: find = functools.partial(find, dims=args.dims)
  space, dt = list(space), getattr(dtypes, args.dtype)
  lines = [f"# Opts search for NEW's {args.kernel} kernel, {Device.DEFAULT}, {datetime.date.today().isoformat()}", "",
           f"`python bench/opts_search.py {' '.join(map(shlex.quote, sys.argv[1:]))}`: F(4,3), {args.dims}-D, {args.dtype}, the kernel's time "
           f"(median of {args.runs} "
           f"runs after 2) with each candidate and its compile (codegen and the device compiler, one kernel); {len(space)} candidates a shape, "
           "those that apply shown fastest first.", "",
           f"| shape (B,Cin,Cout,{'H' if args.dims == 2 else 'L'}) | opts | kernel | us | compile ms | conv vs heuristic |",
           "|---|---|---|---|---|---|"]
  print("\n".join(lines))
  for s in args.shapes.split(";"):
    b, cin, cout, h = map(int, s.split(","))
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((b, cin, *[h] * args.dims)).astype(np.float32)).cast(dt).realize()
    w = Tensor((rng.standard_normal((cout, cin, *[3] * args.dims)) / (3 ** (args.dims / 2) * cin ** 0.5)).astype(np.float32)).cast(dt).realize()
    tg.clear_caches()
    rows, last, ref = [], set(), None
    # the heuristic and opts.py's choice again at the end: a shape's first rows can read slow (the GPU after a full compile)
    for cand in ["heuristic", "opts.py", *space, "heuristic again", "opts.py again"]:
      def choose(k, cand=cand):
        if (found:=find(k)) is None or (args.kernel in ("mhat", "fmhat") and not k.ren.has_local): return toggle.kernel_opts(k)
        if cand in ("heuristic", "heuristic again"): return None
        if cand in ("opts.py", "opts.py again"): return mine(k)
        apply(k:=k.copy(), found, *cand)
        return k
      tg.install_kernel_opts(choose)
      try:
        tg.forget_programs(last)
        with tinygrad_wino.using("new"), Context(WINO_TILE=4):
          if args.kernel == "wgmhat":
            xg, wg = x.detach(), w.detach()
            xg.requires_grad = wg.requires_grad = True
            out = xg.conv2d(wg, padding=1).float().square().sum().gradient(wg)[0]
          else: out = x.conv2d(w, padding=1)
          linear, var_vals = tg.schedule(out)
          compiles = {n: t for n, t, _ in tg.compile_times(linear)}
          compiled = tg.compile_schedule(linear)
        for _ in range(2): tg.run_kernels(compiled, var_vals)
        times = [tg.run_kernels(compiled, var_vals) for _ in range(args.runs)]
      except (KernelOptError, ValueError): continue
      finally: tg.install_kernel_opts(toggle.kernel_opts)
      # the searched kernel: the one whose name changes with the candidate; XHAT compiles first, MHAT third, the output last, and
      # a weight gradient's MHAT is its gradients' last reduce
      if args.kernel == "wgmhat": i = max(j for j, (n, _) in enumerate(times[0]) if n.startswith("r_"))
      else: i = {"xhat": 0, "mhat": 2, "fmhat": 2, "output": -1}[args.kernel]
      name, last = times[0][i][0], {times[0][i][0]}
      result = out.float().numpy()
      if ref is None: ref = result
      err = float(np.abs(result - ref).max() / np.abs(ref).max())
      rows.append((statistics.median(t[i][1] for t in times) * 1e6, cand if isinstance(cand, str) else str(cand), name, compiles[name] * 1e3, err))
    shown = sorted(rows)
    mine_rows = [r for r in shown if r[1].startswith(("heuristic", "opts.py"))]
    shown = mine_rows + [r for r in shown if r not in mine_rows][:args.top]
    for us, cand, name, ms, err in shown:
      lines.append(f"| {(b, cin, cout, h)} | {cand} | `{name}` | {us:.1f} | {ms:.0f} | {err:.1e} |")
      print(lines[-1], flush=True)
  if args.out:
    with open(args.out, "w") as f: f.write("\n".join(lines) + "\n")
  return 0

if __name__ == "__main__": sys.exit(main())
