# Shared test helpers: a float64 numpy convolution, the error metric, and running one conv under each mode.
from __future__ import annotations
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
import tinygrad_wino
from tinygrad import Tensor, Context, dtypes

def grouped_pads(padding, nd:int) -> list[tuple[int, int]]:
  # tinygrad's conv2d padding: int, one per spatial dim, or (left, right, top, bottom, ...) starting from the last dim
  if isinstance(padding, int): return [(padding, padding)] * nd
  if len(padding) == nd: return [(p, p) for p in padding]
  return [(padding[2*i], padding[2*i+1]) for i in range(nd)][::-1]

def conv_ref(x:np.ndarray, w:np.ndarray, b:np.ndarray|None=None, groups:int=1, padding=0, stride=1, dilation=1) -> np.ndarray:
  """float64 reference for tinygrad's conv2d (any number of spatial dims)."""
  nd = x.ndim - 2
  x = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + grouped_pads(padding, nd))
  ks = tuple((k - 1) * dilation + 1 for k in w.shape[2:])
  win = sliding_window_view(x, ks, axis=tuple(range(2, 2 + nd)))  # (B, C, *O, *K)
  win = win[(..., *[slice(None, None, dilation)] * nd)][(slice(None), slice(None), *[slice(None, None, stride)] * nd)]
  bs, cin = x.shape[0], w.shape[1]
  win = win.reshape(bs, groups, cin, *win.shape[2:])
  wg = w.astype(np.float64).reshape(groups, w.shape[0] // groups, cin, *w.shape[2:])
  sp, kk = "hijk"[:nd], "pqrs"[:nd]
  out = np.einsum(f"bgc{sp}{kk},goc{kk}->bgo{sp}", win, wg).reshape(bs, w.shape[0], *win.shape[3:3 + nd])
  return out if b is None else out + b.astype(np.float64).reshape(1, -1, *[1] * nd)

def rel_err(out:np.ndarray, ref:np.ndarray) -> float:
  return float(np.abs(out.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))

def run_conv(mode, x:np.ndarray, w:np.ndarray, b:np.ndarray|None=None, dtype=dtypes.float32, **kwargs) -> tuple[np.ndarray, list[str]]:
  """The conv under one mode ('new', 'old' or None), and the NEW rewrites it triggered."""
  tinygrad_wino.stats.reset()
  # SCACHE=0: schedule every call, so the rewrite counter sees each conv (a cached schedule skips the rangeify pass)
  with tinygrad_wino.using(mode), Context(SCACHE=0):
    xt, wt = Tensor(x).cast(dtype), Tensor(w).cast(dtype)
    bt = None if b is None else Tensor(b).cast(dtype)
    out = xt.conv2d(wt, bt, **kwargs).numpy()
  return out, list(tinygrad_wino.stats.rewritten)
