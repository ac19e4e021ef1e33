# Kernel opts for the output transform where it is fused into the conv's consumer on a GPU (rules._rewrite): each thread computes
# whole m x m tiles. tinygrad's heuristic upcasts the output 2x2 (or a 7 whole), so where m doesn't divide an output size each
# output selects its At coefficients and the threads of a tile reread its alpha^2 MHAT values. PADTO rounds such a size up to
# whole tiles (the padded outputs are masked), UPCAST m makes the rows constants, and the threads run along output channels, as
# MHAT's layout has them. The output kernel on the H100 (bench/results/h100-2026-11-24 -> -25, us): (32,256,256,14) fp32 35-37 ->
# 24-26, fp16 35-37 -> 32; (8,512,512,7) fp16 18-22 -> 12-16; (32,128,128,28) fp32 35-39 -> 28-29; (64,64,64,112) fp16 336 -> 281.
from collections import Counter
from tinygrad_wino.tg import DEBUG, UOp, Ops, Opt, OptOps, KernelOptError, Scheduler

M, ALPHA = 4, 6  # F(4,3), the tile measured; F(2,3)'s small convs are launch-bound and F(6,3)'s bfloat16/float64 ones rare
CHANNEL_THREADS = (16, 8, 4, 2)

def _axis(k:Scheduler, r:UOp) -> int: return next(i for i, x in enumerate(k.rngs) if x.arg[:-1] == r.arg[:-1])

def _tile(k:Scheduler, dim:list[UOp]) -> None:
  """UPCAST one output dim by whole tiles: dim is its range, or the pair (outer, inner) tinygrad split it into."""
  if len(dim) == 1:
    # a size of at most M is one tile already; a weight gradient's 3 x 3 taps end here too
    if dim[0].vmax + 1 <= M: raise KernelOptError(f"{dim[0].vmax + 1} is one tile")
    if (dim[0].vmax + 1) % M: k.apply_opt(Opt(OptOps.PADTO, _axis(k, dim[0]), M))
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, dim[0]), M))
    return
  outer, inner = dim
  if (d:=int(inner.vmax + 1)) % M == 0: k.apply_opt(Opt(OptOps.UPCAST, _axis(k, inner), M))
  elif M % d == 0:
    if (outer.vmax + 1) % (M // d): k.apply_opt(Opt(OptOps.PADTO, _axis(k, outer), M // d))
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, outer), M // d))
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, inner), d))
  else: raise KernelOptError(f"a tile of {M} doesn't align with a split of {d}")

def _tile_index(idx:UOp, dim:list[UOp]) -> bool:
  """Whether idx reads by the tile of an output dim: by range // M, or by the outer range of a split and not its inner one. An
  input transform (XHAT, OLD's too) also reads one buffer at ALPHA^2 places, at tile * M + j."""
  if len(dim) == 1:
    return any(u.op in (Ops.CDIV, Ops.FLOORDIV) and u.src[0] is dim[0] and u.src[1].op is Ops.CONST and u.src[1].arg == M for u in idx.toposort())
  return dim[0] in idx.ranges and dim[1] not in idx.ranges

def output_transform_opts(k:Scheduler) -> Scheduler|None:
  """Tile-aligned opts for an elementwise GPU kernel that reads one buffer (MHAT) at ALPHA^2 places by the tiles of its two
  innermost output dims; None for any other kernel, or where an opt doesn't apply."""
  if not k.ren.has_local or k.reduceop is not None or k.applied_opts: return None
  reads, stores = Counter(b.src[0] for b in k.bufs), {s.src[0].src[0] for s in k.ast.toposort() if s.op is Ops.STORE}
  loads = {buf: n for buf, n in reads.items() if buf not in stores}
  # MHAT, and at most a bias or a residual besides (an epilogue fused after the conv)
  if (mhat:=next((buf for buf, n in loads.items() if n == ALPHA ** 2), None)) is None or any(n > 2 for b, n in loads.items() if b is not mhat):
    return None
  dims: dict = {}
  for r in k.rngs: dims.setdefault(r.arg[0], []).append(r)
  spatial = [sorted(d, key=lambda r: r.arg[:-1]) for d in list(dims.values())[-2:]]
  if len(dims) < 3 or any(len(d) > 2 for d in spatial) or len(chans:=list(dims.values())[-3]) != 1: return None
  # NEW's MHAT layout has the output channels innermost (rules._rewrite); OLD's output kernel reads by tiles too, tiles innermost
  mhat_idx = [b.src[1].get_idx() for b in k.bufs if b.src[0] is mhat]
  if not all(chans[0] in idx.split_uop(Ops.ADD) and all(_tile_index(idx, d) for d in spatial) for idx in mhat_idx): return None
  k = k.copy()
  try:
    for dim in spatial: _tile(k, dim)
    if t:=next((t for t in CHANNEL_THREADS if (chans[0].vmax + 1) % t == 0), None): k.apply_opt(Opt(OptOps.LOCAL, _axis(k, chans[0]), t))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: output transform opts {k.applied_opts}")
  return k
