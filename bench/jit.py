#!/usr/bin/env python3
"""Inference under TinyJit: each 3x3 conv (padding 1) captured by TinyJit and replayed, with prune off and on.

TinyJit(prune=True) runs the captured kernels that read none of the jitted function's inputs once, at capture, and leaves them out
of every replay. A conv's weight transform (GHAT, NEW's and OLD's) reads only the weight, so it runs once per weight buffer; the
replays run the others. That is tinygrad's contract for prune: the buffers a pruned kernel reads must not change between calls
(inference, weights loaded before the capture). Rows: direct conv, OLD, NEW+cost (WINO_COST=1) and NEW, the winograd ones with
prune off and on. Kernel time is one replay's kernels, each synchronized (captured under JIT=2: no graph), by the runtime's own
timer, summed; the median of --runs replays after --warmup, the rows of a shape round-robin. Each row's replay outputs, for two
inputs, are checked against direct conv before a time is reported.
"""
from __future__ import annotations
import argparse, datetime, importlib.metadata, json, os, pathlib, shlex, statistics, sys

def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--shapes", default="8,64,64,56;8,128,128,28;8,256,256,14;4,512,512,7", help="';'-separated B,Cin,Cout,H")
  p.add_argument("--dtypes", default="float32", help="comma-separated tinygrad dtypes, e.g. float32,float16")
  p.add_argument("--runs", type=int, default=10, help="timed replays per row (median, min, max)")
  p.add_argument("--warmup", type=int, default=2, help="untimed replays per row before the timed ones")
  p.add_argument("--device", default=None, help="tinygrad device (sets DEV), e.g. CPU or CUDA; default: tinygrad's default")
  p.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="folder for <device>-jit-<date>.{json,md}")
  p.add_argument("--name", default=None, help="file name stem instead of <device>-jit-<date>")
  return p.parse_args(argv)

ARGS = parse_args()
if ARGS.device: os.environ["DEV"] = ARGS.device

import numpy as np  # noqa: E402
import tinygrad_wino  # noqa: E402
from tinygrad import Tensor, TinyJit, Device, Context, dtypes  # noqa: E402
from tinygrad_wino.tg import replay_jit  # noqa: E402
from checks import rel_err  # noqa: E402

ROWS = [("direct", None, 0, False), ("OLD", "old", 0, False), ("OLD", "old", 0, True), ("NEW+cost", "new", 1, False),
        ("NEW+cost", "new", 1, True), ("NEW", "new", 0, False), ("NEW", "new", 0, True)]

def capture(mode, cost:int, prune:bool, w:Tensor, xs:list[Tensor], refs:list[np.ndarray], tol:float) -> tuple[TinyJit, dict, int]:
  """A TinyJit of the conv, called as a program would: a plain run, the capture, then replays of both inputs, checked."""
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using(mode), Context(WINO_COST=cost, JIT=2):
    jit = TinyJit(lambda x: x.conv2d(w, padding=1), prune=prune)
    jit(xs[0]), jit(xs[1])
    errs = [rel_err(jit(x).numpy(), ref) for x, ref in zip(xs, refs)]
  return jit, dict(rel_err=max(errs), tol=tol, ok=max(errs) <= tol), len(tinygrad_wino.stats.rewritten)

def bench_shape(shape:tuple[int, ...], dt) -> dict:
  bs, cin, cout, h = shape
  rng = np.random.default_rng(0)
  xns = [rng.standard_normal((bs, cin, h, h), dtype=np.float32) for _ in range(2)]
  wn = (rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) / np.sqrt(9 * cin)).astype(np.float32)
  xs, w = [Tensor(xn).cast(dt).realize() for xn in xns], Tensor(wn).cast(dt).realize()
  refs = [x.conv2d(w, padding=1).numpy().astype(np.float64) for x in xs]
  tol = 1e-4 if dt.itemsize >= 4 else 5e-2  # as bench/phases.py: "this is the conv", OLD's fp16 error reaches 2e-2
  rows = []
  for impl, mode, cost, prune in ROWS:
    jit, check, rewrites = capture(mode, cost, prune, w, xs, refs, tol)
    rows.append(dict(impl=impl, prune=prune, check=check, rewrites=rewrites, jit=jit))
  runs: list[list] = [[] for _ in rows]
  for r in rows:
    for _ in range(ARGS.warmup): replay_jit(r["jit"], xs[0])
  for _ in range(ARGS.runs):
    for r, rr in zip(rows, runs): rr.append(replay_jit(r["jit"], xs[0]))
  for r, rr in zip(rows, runs):
    del r["jit"]
    times = [sum(t for _, t in run) * 1e3 for run in rr]
    r.update(names=[n for n, _ in rr[0]], kernels=len(rr[0]), kernel_ms=statistics.median(times), kernel_min_ms=min(times),
             kernel_max_ms=max(times), per_kernel_ms=[statistics.median(run[i][1] for run in rr) * 1e3 for i in range(len(rr[0]))])
  return dict(shape=list(shape), dtype=str(dt), rows=rows)

def row(res:dict, impl:str, prune:bool) -> dict:
  return next(r for r in res["rows"] if r["impl"] == impl and r["prune"] == (prune and impl != "direct"))
def ratio(a:dict, b:dict) -> str: return f"{a['kernel_ms'] / b['kernel_ms']:.2f}"

def markdown(results:list[dict], meta:dict) -> str:
  where = meta["device"] + (f" ({meta['accelerator']})" if meta.get("accelerator") else "")
  lines = [f"# Convs under TinyJit, with and without prune: {where}, {meta['date']}", "", f"`{meta['command']}`", "",
           f"tinygrad {meta['tinygrad']}, tinygrad_wino {meta['tinygrad_wino']}, BEAM=0. {__doc__.strip()}", "",
           "| shape (B,Cin,Cout,H) | dtype | direct | OLD | OLD pruned | NEW+cost | NEW+cost pruned | NEW | NEW pruned | NEW pruned/NEW "
           "| NEW pruned/OLD pruned | NEW+cost pruned/OLD pruned | NEW+cost pruned/direct | kernels NEW/pruned |", "|---" * 14 + "|"]
  for res in results:
    ms = [f"{row(res, i, p)['kernel_ms']:.3f}" for i, p in (("direct", False), ("OLD", False), ("OLD", True), ("NEW+cost", False),
                                                              ("NEW+cost", True), ("NEW", False), ("NEW", True))]
    new, newp, oldp, costp, direct = row(res, "NEW", False), row(res, "NEW", True), row(res, "OLD", True), row(res, "NEW+cost", True), \
      row(res, "direct", False)
    lines.append(f"| {tuple(res['shape'])} | {res['dtype'].split('.')[-1]} | {' | '.join(ms)} | {ratio(newp, new)} | {ratio(newp, oldp)} "
                 f"| {ratio(costp, oldp)} | {ratio(costp, direct)} | {new['kernels']}/{newp['kernels']} |")
  lines += ["", "Each row's kernels (ms, median of the replays):", ""]
  for res in results:
    for r in res["rows"]:
      ks = ", ".join(f"`{n}` {t:.3f}" for n, t in zip(r["names"], r["per_kernel_ms"]))
      lines.append(f"- {tuple(res['shape'])} {res['dtype'].split('.')[-1]} {r['impl']}{' pruned' if r['prune'] else ''} "
                   f"({r['kernel_min_ms']:.3f}-{r['kernel_max_ms']:.3f}, max rel err {r['check']['rel_err']:.1e}): {ks}")
  return "\n".join(lines) + "\n"

def accelerator() -> str|None:
  try:
    import torch
    return torch.cuda.get_device_name(0) if Device.DEFAULT in ("CUDA", "NV") and torch.cuda.is_available() else None
  except ImportError: return None

def main() -> int:
  shapes = [tuple(int(v) for v in s.split(",")) for s in ARGS.shapes.split(";")]
  dts = [getattr(dtypes, d) for d in ARGS.dtypes.split(",")]
  device = Device.DEFAULT
  results = []
  for dt in dts:
    for shape in shapes:
      results.append(res:=bench_shape(shape, dt))
      print(f"{shape} {dt}: " + ", ".join(f"{r['impl']}{' pruned' if r['prune'] else ''} {r['kernel_ms']:.3f}" for r in res["rows"]), flush=True)
  meta = dict(device=device, accelerator=accelerator(), date=datetime.date.today().isoformat(),
              command=" ".join(["bench/jit.py", *map(shlex.quote, sys.argv[1:])]), tinygrad=importlib.metadata.version("tinygrad"),
              tinygrad_wino=tinygrad_wino.__version__, runs=ARGS.runs, warmup=ARGS.warmup)
  out = pathlib.Path(ARGS.out)
  out.mkdir(parents=True, exist_ok=True)
  stem = ARGS.name or f"{device.lower()}-jit-{meta['date']}"
  (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, results=results), indent=1))
  (out / f"{stem}.md").write_text(markdown(results, meta))
  bad = [(res["shape"], r["impl"], r["prune"]) for res in results for r in res["rows"] if not r["check"]["ok"]]
  if bad: print(f"outputs differ from direct conv: {bad}", file=sys.stderr)
  return 1 if bad else 0

if __name__ == "__main__": sys.exit(main())
