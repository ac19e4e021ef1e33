#!/usr/bin/env python3
"""Numerics of the winograd paths: max|out - ref| / max|ref| against a float64 reference, per tile size and dtype.

Part 1 runs the convs through tinygrad: NEW at F(2,3), F(4,3) and F(6,3) (WINO_TILE), OLD and direct conv, on the default
device. Part 2 is a float32 emulation in numpy of one 2-D tile pipeline (float32 transforms and accumulation) for several
interpolation point sets of F(4,3): it is how the points in tinygrad_wino/matrices.py were chosen.
Writes bench/results/numerics-<device>-<date>.{json,md}.
"""
from __future__ import annotations
import argparse, datetime, json, pathlib, sys
from fractions import Fraction as F
import numpy as np

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--shapes", default="1,16,16,32;4,64,64,28;4,128,128,14;2,256,256,7", help="';'-separated B,Cin,Cout,H (3x3, padding 1)")
p.add_argument("--dtypes", default="float32,float16")
p.add_argument("--draws", type=int, default=3, help="input draws per shape (the worst is reported)")
p.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
ARGS = p.parse_args()

import tinygrad_wino  # noqa: E402
from tinygrad import Tensor, Device, Context, dtypes  # noqa: E402
from tinygrad_wino.matrices import cook_toom  # noqa: E402

def conv64(x:np.ndarray, w:np.ndarray) -> np.ndarray:
  xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
  win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
  return np.einsum("bchwij,ocij->bohw", win, w.astype(np.float64))

def rel_err(out, ref) -> float: return float(np.abs(out.astype(np.float64) - ref).max() / np.abs(ref).max())

def tinygrad_errors() -> list[dict]:
  rows = []
  for dt in [getattr(dtypes, d) for d in ARGS.dtypes.split(",")]:
    for shape in [tuple(int(v) for v in s.split(",")) for s in ARGS.shapes.split(";")]:
      b, ci, co, h = shape
      errs: dict[str, float] = {}
      for seed in range(ARGS.draws):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((b, ci, h, h), dtype=np.float32)
        w = (rng.standard_normal((co, ci, 3, 3), dtype=np.float32) / np.sqrt(9 * ci)).astype(np.float32)
        ref = conv64(x, w)
        runs = {"direct": (None, 4), "OLD": ("old", 4)} | {f"NEW F({m},3)": ("new", m) for m in (2, 4, 6)}
        for name, (mode, m) in runs.items():
          with tinygrad_wino.using(mode), Context(WINO_TILE=m):
            out = Tensor(x).cast(dt).conv2d(Tensor(w).cast(dt), padding=1).numpy()
          errs[name] = max(errs.get(name, 0.0), rel_err(out, ref))
      rows.append(dict(dtype=str(dt), shape=list(shape), errors=errs))
      print(rows[-1], flush=True)
  return rows

def emulate(points, c:int, dt, tiles:int=64, seed:int=0) -> float:
  """A 2-D F(4,3) tile pipeline in numpy: transforms in float32, XHAT and GHAT stored in dt, float32 accumulation."""
  w = cook_toom(4, 3, tuple(F(p) for p in points))
  At, G, Bt = (np.array([[float(v) for v in r] for r in mat]) for mat in (w.At, w.G, w.Bt))
  rng = np.random.default_rng(seed)
  d = rng.standard_normal((tiles, c, 6, 6)).astype(dt).astype(np.float64)
  g = (rng.standard_normal((c, 3, 3)) / np.sqrt(9 * c)).astype(dt).astype(np.float64)
  ref = np.stack([np.stack([np.einsum("tckl,ckl->t", d[:, :, i:i+3, j:j+3], g) for j in range(4)], -1) for i in range(4)], -2)
  f32 = np.float32
  U = np.einsum("ak,ckl,bl->cab", G.astype(f32), g.astype(f32), G.astype(f32)).astype(dt).astype(f32)
  V = np.einsum("ai,tcij,bj->tcab", Bt.astype(f32), d.astype(f32), Bt.astype(f32)).astype(dt).astype(f32)
  M = (V * U[None]).sum(1, dtype=f32)
  Y = np.einsum("ia,tab,jb->tij", At.astype(f32), M, At.astype(f32)).astype(dt)
  return rel_err(Y, ref)

POINT_SETS = {"0, 1, -1, 2, -2 (tinygrad)": (0, 1, -1, 2, -2), "0, 1, -1, 2, -1/2 (ours)": (0, 1, -1, 2, F(-1, 2)),
              "0, 1, -1, 1/2, -2": (0, 1, -1, F(1, 2), -2), "0, 1, -1, 1/2, -1/2": (0, 1, -1, F(1, 2), F(-1, 2)),
              "0, 1, -1, 3/2, -3/2": (0, 1, -1, F(3, 2), F(-3, 2)), "0, 1, -1, 2/3, -2/3": (0, 1, -1, F(2, 3), F(-2, 3))}

def main() -> int:
  rows = tinygrad_errors()
  emu = {name: {f"{dt.__name__} C={c}": float(np.median([emulate(pts, c, dt, seed=s) for s in range(5)]))
                for dt in (np.float32, np.float16) for c in (16, 256)} for name, pts in POINT_SETS.items()}
  meta = dict(device=Device.DEFAULT, date=datetime.date.today().isoformat(), command=" ".join(["bench/numerics.py", *sys.argv[1:]]),
              draws=ARGS.draws)
  out = pathlib.Path(ARGS.out)
  out.mkdir(parents=True, exist_ok=True)
  stem = f"numerics-{meta['device'].lower()}-{meta['date']}"
  (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, tinygrad=rows, emulation=emu), indent=1) + "\n")
  names = list(rows[0]["errors"])
  md = [f"# Winograd numerics: {meta['device']}, {meta['date']}", "", f"`{meta['command']}`", "",
        f"max|out - ref| / max|ref| against float64, worst of {ARGS.draws} input draws (x ~ N(0,1), w ~ N(0,1)/sqrt(9 Cin)), "
        "3x3 conv with padding 1. NEW computes its transforms in float32; for fp16 it stores XHAT and GHAT in half.", "",
        "| shape (B,Cin,Cout,H) | dtype | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
  md += [f"| {tuple(r['shape'])} | {r['dtype'].split('.')[-1]} | " + " | ".join(f"{r['errors'][n]:.1e}" for n in names) + " |" for r in rows]
  cols = list(next(iter(emu.values())))
  md += ["", "## F(4,3) interpolation points (numpy emulation of one 2-D tile pipeline, median of 5 draws, 64 tiles)", "",
         "XHAT and GHAT rounded to the dtype, float32 transforms and accumulation.", "",
         "| points (and infinity) | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
  md += [f"| {name} | " + " | ".join(f"{v[c]:.2e}" for c in cols) + " |" for name, v in emu.items()]
  (out / f"{stem}.md").write_text("\n".join(md) + "\n")
  print("\n".join(md))
  return 0

if __name__ == "__main__": sys.exit(main())
