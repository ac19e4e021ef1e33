# Kernel opts for NEW's kernels where tinygrad's hand-coded heuristic picks poorly; toggle.kernel_opts runs them ahead of it.
#
# The output transform where it is fused into the conv's consumer on a GPU (rules._rewrite): each thread computes whole m x m
# tiles. tinygrad's heuristic upcasts the output 2x2 (or a 7 whole), so where m doesn't divide an output size each output selects
# its At coefficients and the threads of a tile reread its alpha^2 MHAT values. PADTO rounds such a size up to whole tiles (the
# padded outputs are masked), UPCAST m makes the rows constants, and the threads run along output channels, as MHAT's layout has
# them. The output kernel on the H100 (bench/results/h100-2026-11-24 -> -25, us): (32,256,256,14) fp32 35-37 -> 24-26, fp16
# 35-37 -> 32; (8,512,512,7) fp16 18-22 -> 12-16; (32,128,128,28) fp32 35-39 -> 28-29; (64,64,64,112) fp16 336 -> 281.
import math
from collections import Counter
from tinygrad_wino.tg import DEBUG, UOp, Ops, Opt, OptOps, KernelOptError, Scheduler

M, ALPHA = 4, 6  # F(4,3), the tile measured; F(2,3)'s small convs are launch-bound and F(6,3)'s bfloat16/float64 ones rare
CHANNEL_THREADS = (16, 8, 4, 2)

def _axis(k:Scheduler, r:UOp) -> int: return next(i for i, x in enumerate(k.rngs) if x.arg[:-1] == r.arg[:-1])
def _stores(k:Scheduler) -> list[UOp]: return [s.src[0] for s in k.ast.toposort() if s.op is Ops.STORE]
def _unit(index:UOp) -> set[UOp]:
  """The ranges an INDEX reads at stride 1."""
  return {u for u in index.src[1].get_idx().split_uop(Ops.ADD) if u.op is Ops.RANGE}

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
  reads, stores = Counter(b.src[0] for b in k.bufs), {s.src[0] for s in _stores(k)}
  loads = {buf: n for buf, n in reads.items() if buf not in stores}
  # MHAT, and at most a bias or a residual besides (an epilogue fused after the conv)
  if (mhat:=next((buf for buf, n in loads.items() if n == ALPHA ** 2), None)) is None or any(n > 2 for b, n in loads.items() if b is not mhat):
    return None
  dims: dict = {}
  for r in k.rngs: dims.setdefault(r.arg[0], []).append(r)
  spatial = [sorted(d, key=lambda r: r.arg[:-1]) for d in list(dims.values())[-2:]]
  if len(dims) < 3 or any(len(d) > 2 for d in spatial) or len(chans:=list(dims.values())[-3]) != 1: return None
  # NEW's MHAT layout has the output channels innermost (rules._rewrite); OLD's output kernel reads by tiles too, tiles innermost
  if not all(chans[0] in _unit(b) and all(_tile_index(b.src[1].get_idx(), d) for d in spatial) for b in k.bufs if b.src[0] is mhat): return None
  k = k.copy()
  try:
    for dim in spatial: _tile(k, dim)
    if t:=next((t for t in CHANNEL_THREADS if (chans[0].vmax + 1) % t == 0), None): k.apply_opt(Opt(OptOps.LOCAL, _axis(k, chans[0]), t))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: output transform opts {k.applied_opts}")
  return k

# MHAT on a CPU: a batched matmul C[b, n, m] = sum_k X[b, k, n] * G[b, m, k], with NEW's layouts (rules._rewrite: XHAT's tiles
# innermost, GHAT's input channels, MHAT's output channels). tinygrad's heuristic upcasts it 4x4 and unrolls k by 4; an 8x8 block
# of outputs per thread (X's 8 contiguous n as one vector, G's 8 m broadcast) with k unrolled by 8 ran 2.4-3x faster on a 2-core
# AVX-512 CPU (bench/mhat_opts.py, bench/results/cpu-mhat-opts-2026-11-25.md): MHAT (8,64,64,56) 18.0 -> 6.1 ms, (8,128,128,28)
# 17.6 -> 6.7, (8,256,256,14) 22.5 -> 7.7, (4,512,512,7) 11.5 -> 4.8; k unrolled by 4 compiles 0.4-0.6 s faster, runs 10-40% slower.
MHAT_BLOCK, MHAT_UNROLL, CPU_THREADS = (8, 4, 2), (8, 4, 2), (32, 16, 12, 8, 6, 4, 3, 2)
ALPHA_POWERS = {a ** n for a in (4, 6, 8) for n in (1, 2, 3)}

def _load(u:UOp) -> UOp|None:
  while u.op is Ops.CAST: u = u.src[0]
  return u if u.op is Ops.INDEX else None

def mhat_opts(k:Scheduler) -> Scheduler|None:
  """Register-blocked opts for NEW's MHAT kernel on a CPU (no local threads); None for any other kernel."""
  if k.ren.has_local or k.applied_opts or len(reds:=k.reduceops) != 1 or reds[0].arg[0] is not Ops.ADD or len(reds[0].src) != 2: return None
  if (mul:=reds[0].src[0]).op is Ops.CAST: mul = mul.src[0]
  stores = _stores(k)
  if mul.op is not Ops.MUL or len(stores) != 1 or None in (loads:=[_load(s) for s in mul.src]): return None
  kr, (out_unit, *load_units) = reds[0].src[1], [_unit(i) for i in (stores[0], *loads)]
  # G is the load with the output's unit-stride range m, X the other; k is G's unit range, n X's
  if len(out_unit) != 1 or ((m:=next(iter(out_unit))) in loads[0].ranges) == (m in loads[1].ranges): return None
  (x, xu), (g, gu) = sorted(zip(loads, load_units), key=lambda p: m in p[0].ranges)
  if kr not in gu or len(xu) != 1 or (n:=next(iter(xu))) in g.ranges or n is kr or m in x.ranges: return None
  # the batch: the alpha^n tile positions first (groups after them), in all three
  if not (batch:=[r for r in k.rngs if r not in (m, n, kr)]) or any(r not in x.ranges or r not in g.ranges for r in batch): return None
  if int(batch[0].vmax + 1) not in ALPHA_POWERS: return None
  k = k.copy()
  try:
    for r in (n, m):
      if b:=next((b for b in MHAT_BLOCK if (r.vmax + 1) % b == 0), None): k.apply_opt(Opt(OptOps.UPCAST, _axis(k, r), b))
    if u:=next((u for u in MHAT_UNROLL if (kr.vmax + 1) % u == 0), None): k.apply_opt(Opt(OptOps.UNROLL, k.unrollable_dims.index(_axis(k, kr)), u))
    # threads over the tile positions, with tinygrad's own bound of about 128K operations a thread
    most = min(k.ren.global_max[0], math.prod(int(s) for s in k.full_shape) >> 17)
    if k.ren.has_threads and (t:=next((t for t in CPU_THREADS if t <= most and (batch[0].vmax + 1) % t == 0), None)):
      k.apply_opt(Opt(OptOps.THREAD, _axis(k, batch[0]), t))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: MHAT opts {k.applied_opts}")
  return k
