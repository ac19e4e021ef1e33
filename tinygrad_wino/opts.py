# Kernel opts for NEW's kernels where tinygrad's hand-coded heuristic picks poorly; toggle.kernel_opts runs them ahead of it. On a
# GPU: XHAT's threads along its tiles, MHAT's tensor-core blocks, the output transform over whole tiles; on a CPU: MHAT's
# register blocks, XHAT's consecutive tiles an iteration and the output transform over whole tiles, channels innermost. Each
# recognizes its kernel by structure (layouts, reads) and returns None for any other, OLD's kernels included.
#
# The output transform where it is fused into the conv's consumer on a GPU (rules._rewrite): each thread computes whole m x m
# tiles. tinygrad's heuristic upcasts the output 2x2 (or a 7 whole), so where m doesn't divide an output size each output selects
# its At coefficients and the threads of a tile reread its alpha^2 MHAT values. PADTO rounds such a size up to whole tiles (the
# padded outputs are masked), UPCAST m makes the rows constants; two output channels a thread, and a block of 32 threads (half
# MHAT) or 64 (float) split between the row's tiles (4 or 2) and the channels, so a warp writes whole rows of adjacent tiles where
# threads along channels alone wrote 8 bytes a row. bench/opts_search.py --kernel output on the H100
# (bench/results/h100-opts-search-output-2026-11-25.md, heuristic -> these opts, us): fp16 (64,64,64,112) 330-334 -> 146,
# (32,256,256,14) 39-40 -> 17-19, (8,512,512,7) 20-21 -> 15-16, (32,128,128,28) 29 -> 26-28; fp32 (64,64,64,112) 499-501 -> 242-244.
# Four channels a thread ran up to 10% faster on some shapes there, at twice the kernel's compile time.
import functools, math, pathlib, platform
from collections import Counter
from tinygrad_wino.tg import DEBUG, USE_TC, TC_SELECT, TC_OPT, UOp, Ops, Opt, OptOps, AxisType, KernelOptError, Scheduler, loop_innermost

ALPHA = 6  # F(4,3), the tile measured on the GPU; F(2,3)'s small convs are launch-bound there and F(6,3)'s bfloat16/float64 ones rare
OLD_ALPHA = 6  # tinygrad's own winograd (OLD) is F(4,3): a kernel of another alpha is none of OLD's
# the spatial dims of the convs whose output transform, fused into an elementwise consumer, the opts pad to whole tiles (on a GPU
# F(4,3)'s, the tile searched; on a CPU every tile size's; 3-D not: _output). rules._rewrite reads them: elsewhere it may give the
# transform a kernel of its own
OUTPUT_NDIMS = (1, 2)
# a CPU's cache sets: rows (one a channel) a multiple of this many bytes apart fall in a few of them (rules._cpu_row_pad, _cpu_tiles)
CPU_ROW_BYTES = 512

def _axis(k:Scheduler, r:UOp) -> int: return next(i for i, x in enumerate(k.rngs) if x.arg[:-1] == r.arg[:-1])
def _stores(k:Scheduler) -> list[UOp]: return [s.src[0] for s in k.ast.toposort() if s.op is Ops.STORE]
def _strides(index:UOp) -> dict[UOp, int]:
  """The ranges an INDEX reads at a constant stride, and their strides."""
  ret: dict[UOp, int] = {}
  for u in index.src[1].get_idx().split_uop(Ops.ADD):
    if u.op is Ops.RANGE: ret[u] = 1
    elif u.op is Ops.MUL and u.src[0].op is Ops.RANGE and u.src[1].op is Ops.CONST: ret[u.src[0]] = int(u.src[1].arg)
  return ret
def _unit(index:UOp) -> set[UOp]: return {r for r, s in _strides(index).items() if s == 1}

def _pad(k:Scheduler, r:UOp, amount:int, by_tile:UOp) -> bool:
  """PADTO, less the gates it puts on the loads of by_tile (MHAT) where the padded index provably stays inside that buffer. PADTO
  gates every load that reads the padded range, so each of a tile's m x m outputs loaded the tile's MHAT values again under a
  gate of its own; MHAT is read by tile, o // m, and every tile of a padded o exists. The (8,512,512,7) half kernel compiled in
  2.5-2.9 s gated, 0.8-1.2 s without (bench/results/h100-opts-search-output-2026-11-25.md, h100-opts-search-compile-2026-11-25.md).
  Whether it dropped every gate it put on by_tile's loads (a caller that wants none gated discards k where it didn't)."""
  k.apply_opt(Opt(OptOps.PADTO, _axis(k, r), amount))
  subs, gated = {}, 0
  for u in k.ast.toposort():
    # PADTO's gate: valid.where(INDEX(buf, (valid & True).where(idx, Invalid)), Invalid) for a load that had no gate of its own
    if u.op is not Ops.WHERE or not u.src[2].is_invalid or (b:=u.src[1]).op is not Ops.INDEX or b.src[0] is not by_tile: continue
    gated += 1
    if b.src[1].get_valid() is (u.src[0] & UOp.const(True)) and 0 <= (i:=b.src[1].get_idx()).vmin and i.vmax < math.prod(by_tile.max_shape):
      subs[u] = b.replace(src=(by_tile, i))
  if subs: k.ast = k.ast.substitute(subs)
  return len(subs) == gated

def _tile(k:Scheduler, dim:list[UOp], by_tile:UOp, m:int) -> None:
  """UPCAST one output dim by whole tiles of m: dim is its range, or the pair (outer, inner) tinygrad split it into; by_tile is the
  buffer read by tile (MHAT)."""
  if len(dim) == 1:
    # a size of at most m is one tile already; a weight gradient's 3 x 3 taps end here too
    if dim[0].vmax + 1 <= m: raise KernelOptError(f"{dim[0].vmax + 1} is one tile")
    if (dim[0].vmax + 1) % m: _pad(k, dim[0], m, by_tile)
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, dim[0]), m))
    return
  outer, inner = dim
  if (d:=int(inner.vmax + 1)) % m == 0: k.apply_opt(Opt(OptOps.UPCAST, _axis(k, inner), m))
  elif m % d == 0:
    if (outer.vmax + 1) % (m // d): _pad(k, outer, m // d, by_tile)
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, outer), m // d))
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, inner), d))
  else: raise KernelOptError(f"a tile of {m} doesn't align with a split of {d}")

def _row_tiles(k:Scheduler, spatial:list[list[UOp]]) -> list[UOp]:
  """The range of a row's tiles after _tile (what remains of the innermost output dim, a GLOBAL), or none where nothing does."""
  return [r for r in k.rngs if r.arg[0] == spatial[-1][0].arg[0] and r.arg[-1] is AxisType.GLOBAL][-1:]

def _tile_index(idx:UOp, dim:list[UOp], m:int) -> bool:
  """Whether idx reads by the tile of an output dim: by range // m, or by the outer range of a split and not its inner one. An
  input transform (XHAT, OLD's too) also reads one buffer at alpha^2 places, at tile * m + j."""
  if len(dim) == 1:
    return any(u.op in (Ops.CDIV, Ops.FLOORDIV) and u.src[0] is dim[0] and u.src[1].op is Ops.CONST and u.src[1].arg == m for u in idx.toposort())
  return dim[0] in idx.ranges and dim[1] not in idx.ranges

def _output(k:Scheduler, alphas:tuple[int, ...], ndims:tuple[int, ...]) -> tuple[list[list[UOp]], UOp, UOp, int]|None:
  """NEW's output transform of a tile size whose alpha is in alphas, of a conv of n spatial dims (n in ndims, 1 or 2), fused into the
  conv's consumer: an elementwise kernel that reads one buffer (MHAT) at alpha^n places by the tiles of its n innermost output dims.
  Those dims (a range, or the two tinygrad split it into), the output channels, MHAT's buffer and the tile's m (alpha - 2); None for
  any other kernel."""
  if k.reduceop is not None or k.applied_opts: return None
  reads, stores = Counter(b.src[0] for b in k.bufs), {s.src[0] for s in _stores(k)}
  loads = {buf: n for buf, n in reads.items() if buf not in stores}
  # MHAT, and at most a bias or a residual besides (an epilogue fused after the conv); alpha^n tells alpha and n apart for n of 1 and 2
  # (not 3: 4^3 = 8^2)
  tile_of = {a ** n: (a - 2, n) for a in alphas for n in ndims}
  if (mhat:=next((buf for buf, n in loads.items() if n in tile_of), None)) is None or any(n > 2 for b, n in loads.items() if b is not mhat):
    return None
  m, n = tile_of[loads[mhat]]
  dims: dict = {}
  for r in k.rngs: dims.setdefault(r.arg[0], []).append(r)
  spatial = [sorted(d, key=lambda r: r.arg[:-1]) for d in list(dims.values())[-n:]]
  if len(dims) < n + 1 or any(len(d) > 2 for d in spatial) or len(chans:=list(dims.values())[-n - 1]) > 2: return None
  # the output channels: one range, or a grouped conv's, which tinygrad splits into the group and the channel in it (the inner)
  c = max(chans, key=lambda r: r.arg[:-1])
  # NEW's MHAT layout has the output channels innermost (rules._rewrite); OLD's output kernel reads by tiles too, tiles innermost
  if not all(c in _unit(b) and all(_tile_index(b.src[1].get_idx(), d, m) for d in spatial) for b in k.bufs if b.src[0] is mhat): return None
  return spatial, c, mhat, m

def _whole_tiles(k:Scheduler, alphas:tuple[int, ...], ndims:tuple[int, ...]) -> tuple[Scheduler, list[list[UOp]], UOp, UOp]|None:
  """A copy of NEW's output-transform kernel (_output's, of these alphas and spatial dims) with its spatial dims upcast by whole tiles
  (_tile), its spatial dims, output channels and MHAT; None for any other kernel, or where the tiles don't apply."""
  if (found:=_output(k, alphas, ndims)) is None: return None
  spatial, c, mhat, m = found
  k = k.copy()
  try:
    for dim in spatial: _tile(k, dim, mhat, m)
  except KernelOptError: return None
  return k, spatial, c, mhat

# A 1-D conv's (a row of tiles only): four channels a thread and 8 threads along them, 4 (or 2) along the row's tiles. On the H100
# (bench/opts_search.py --kernel output --dims 1, bench/results/h100-opts-search-output-1d-fp{16,32}-2026-12-07.md, heuristic ->
# these, us): fp16 (8,64,64,16384) 27.6-28.1 -> 20.9, (32,256,256,2048) 48.9-49.4 -> 37.5, (16,64,64,10001) 239-240 -> 131 (padded
# to whole tiles: the heuristic's outputs select their coefficients); fp32 40.1-40.8 -> 34.4, 70.8-71.2 -> 63.2, 242 -> 127, at
# 0.1-0.2 s more compile. The 2-D rule's two channels a thread ran 27.9, 47.4 and 131 in fp16.
def output_transform_opts(k:Scheduler) -> Scheduler|None:
  """Whole-tile opts for NEW's output transform on a GPU; None for any other kernel, or where an opt doesn't apply."""
  if not k.ren.has_local or (found:=_whole_tiles(k, (ALPHA,), OUTPUT_NDIMS)) is None: return None
  k, spatial, c, mhat = found
  one_dim = len(spatial) == 1
  try:
    row = _row_tiles(k, spatial)
    # a row of an odd count of tiles (7 at 28x28) gets no threads along it, and a warp's stores then write 8 bytes a channel row.
    # XHAT pads such rows on a GPU, so MHAT holds the padded tiles and a row padded to 4 threads reads it ungated (else unpadded).
    # On the H100 (bench/results/h100-output-row-pad-*-2026-12-07.md, two rounds of an A/B, output kernel us): (32,128,128,28) fp16
    # 23.2-23.5 -> 18.6-19.2, the conv 106.8-106.9 -> 100.4-101.8; fp32 26.1-26.8 -> 26.2. A row of 14 (56x56, 2 threads) padded to
    # 16 ran (32,64,64,56) fp16 27.9 -> 27.9-28.2 and fp32 35.1-36.0 -> 39.7-39.8: it keeps its 2 threads
    if not one_dim and row and (row[0].vmax + 1) % 2 and _pad(padded:=k.copy(), row[0], 4, mhat):
      k, row = padded, _row_tiles(padded, spatial)
    row_threads = next((t for t in (4, 2) if row and (row[0].vmax + 1) % t == 0), 1)
    size = int(c.vmax + 1)
    if u:=next((u for u in ((4, 2) if one_dim else (2,)) if size % u == 0), None):
      c, size = k.apply_opt(Opt(OptOps.UPCAST, _axis(k, c), u))[0], size // u
    # blocks of 32 threads where MHAT is half, 64 where it is float; a 1-D conv's, 8 threads along the channels
    want, a = 8 if one_dim else min(16, (32 if mhat.dtype.itemsize == 2 else 64) // row_threads), _axis(k, c)
    def threads(n:int) -> int|None: return next((t for t in (want, want // 2, want // 4) if t > 1 and n % t == 0), None)
    if t:=threads(size): k.apply_opt(Opt(OptOps.LOCAL, a, t))
    # a grouped conv's channels (a group's: 4 at 128 channels in 32 groups, 2 after the upcast) can leave the block no channel
    # threads: then the groups take them, the range outside the channels (unless that is the kernel's first, the batch of an
    # ungrouped conv). On the H100 (bench/results/h100-grouped32-output{-base,}-2026-12-07.md, kernel us, fp32 and fp16) that took
    # (32,128,128,56) in 32 groups from 156 and 133 to 114 and 96; at 8 channels a group (4 channel threads) the groups' threads
    # ran slower, (32,256,256,28) 57 and 48 -> 80 and 52, so a block short of `want` but with channel threads stays as it is
    if t is None and a > 1 and (outer:=k.rngs[a - 1]).arg[-1] is AxisType.GLOBAL:
      if u:=threads(int(outer.vmax + 1)): k.apply_opt(Opt(OptOps.LOCAL, a - 1, u))
    if row_threads > 1: k.apply_opt(Opt(OptOps.LOCAL, _axis(k, row[0]), row_threads))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: output transform opts {k.applied_opts}")
  return k

# The output transform on a CPU: NEW's MHAT has the output channels innermost, and tinygrad's heuristic loops the channels outside
# the tiles, so each channel walks all its tiles' alpha^2 values, each a cache line of its own used for 4 bytes, and the lines are
# gone from the caches before the next channel comes back to them. Whole m x m tiles (as on a GPU) with the channels' loop
# innermost read each line for consecutive channels while it is in L1. A 2-core Zen 3 EPYC, round-robin (bench/cpu_opts.py
# --kernel output, bench/results/cpu-output-innermost-2026-12-07.md, heuristic -> these opts, ms): (8,64,64,56) 7.60 -> 4.92,
# (8,128,128,28) 5.80 -> 2.48, (8,96,96,30) 4.08 -> 2.27 and (8,256,256,14) 10.89 -> 1.12 (padded to whole tiles, where the
# heuristic's outputs select their coefficients), (4,512,512,7) 0.51 -> 0.49 compiling in 0.6 s instead of 1.3 (the heuristic
# upcasts 7 whole). Upcasting 4 or 8 channels as well ran 0.30-0.34 ms at 7x7, within 6% at 56x56 and 28x28 and 13-64% slower at
# 30x30 and 14x14, for 2-5x the compile. Every tile size takes them (m x m tiles): F(2,3), the small convs' tile
# (bench/results/cpu-output-f23-2026-12-07.md), 0.05 -> 0.02 ms at (1,16,16,32), 0.13 -> 0.04 at (1,32,32,32), 0.07 -> 0.02 at
# (1,64,64,15), 1.00 -> 0.46 at (8,32,32,32); F(6,3), float64's and bfloat16's (bench/results/cpu-output-f63-2026-12-07.md, float32),
# 0.26 -> 0.05 at (1,16,16,32) and 8.28 -> 1.09 at (8,64,64,28) (sizes 6 doesn't divide: the heuristic's outputs select their
# coefficients), 2.12 -> 1.79 at (8,32,32,48), 0.15 -> 0.14 at (2,32,32,30), compiling in up to 0.4 s longer. So does a 1-D conv's,
# tiles of m (bench/results/cpu-output-1d-2026-12-07.md): 4.10 -> 1.17 ms at (8,64,64,3000), 3.76 -> 0.74 at (8,128,128,1000), 0.59
# -> 0.26 at (4,256,256,256); where m doesn't divide the size the whole conv ran 15-19% faster than with the output transform as a
# kernel over whole tiles (rules._rewrite) and the consumer's copy: 17.3 -> 14.1 ms at (8,64,64,3001), 17.5-17.9 -> 14.8 at
# (8,128,128,999). A 3-D conv's (alpha^3 reads a tile) is left to that kernel.
#
# A 1-D conv's output whose channels are a multiple of OUTPUT_ROW_BYTES apart (a power-of-two length) falls in one cache set with
# the channels innermost, each channel a store of its own: there 8 channels an iteration with the tiles' loop innermost ran
# faster (bench/cpu_opts.py --kernel output --dims 1, bench/results/cpu-output-1d-rows-2026-12-07.md, channels innermost -> these,
# ms): (8,64,64,4096) 3.64 -> 1.22, (8,256,256,1024) 3.84 -> 1.86, compiling 0.2 s longer; rows 1 KB apart (8,512,512,256) 0.93 ->
# 0.90 at 3.5x the compile, 12000 and 4000 bytes apart (lengths 3000, 1000) 1.14 -> 0.97 and 0.69 -> 0.82: channels innermost
# kept there. 2-D convs' 32x32 and 16x16 planes (2^k bytes too) ran faster channels innermost: (8,64,64,32) 1.08 against 1.35,
# (32,64,64,32) 4.95 against 6.30 (cpu-output-2d-rows-2026-12-07.md), so only 1-D convs take it.
OUTPUT_ROW_CHANNELS, OUTPUT_ROW_BYTES = 8, 4096
def cpu_output_opts(k:Scheduler) -> Scheduler|None:
  """Whole tiles and the channels' loop innermost for NEW's output transform on a CPU (a 1-D conv's channels far apart in powers
  of two: channels upcast, the tiles innermost); None for any other kernel."""
  if k.ren.has_local or (found:=_whole_tiles(k, CPU_ALPHAS, OUTPUT_NDIMS)) is None: return None
  k, spatial, c, _ = found
  def rows_apart(s:UOp) -> bool: return (r:=_strides(s).get(c, 0) * s.src[0].dtype.itemsize) > 0 and r % OUTPUT_ROW_BYTES == 0
  try:
    if len(spatial) == 1 and (c.vmax + 1) % OUTPUT_ROW_CHANNELS == 0 and all(rows_apart(s) for s in _stores(k)):
      k.apply_opt(Opt(OptOps.UPCAST, _axis(k, c), OUTPUT_ROW_CHANNELS))
    else: loop_innermost(k, k.rngs[_axis(k, c)])
    _cpu_threads(k, k.axes_of(AxisType.WEAK))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: output transform opts {k.applied_opts}")
  return k

# The input transform on a GPU (rules._rewrite, threads_on_tiles): XHAT's layout has the tiles innermost, so its stores coalesce
# where threads run along the tile axis. tinygrad's heuristic put 16 threads of a block on channels at (64,64,64,112) fp16, where
# XHAT took 0.69-0.75 ms, more than half of NEW's conv. One tile a thread, a warp along the tiles where the row's (padded) tiles
# allow 32, else 16 or 8 along the tiles and 2 along channels. bench/opts_search.py --kernel xhat on the H100
# (bench/results/h100-opts-search-compile-2026-11-25.md, heuristic -> these opts, us at s of compile): (64,64,64,112) fp16 738
# at 1.3-1.4 s -> 155 at 0.9 s, fp32 340 -> 285 at 0.8 s; (8,64,64,56) fp16 18-19 -> 13.7 at 0.9 s, fp32 18-20 -> 16.0;
# (32,128,128,28) fp16 41-44 -> 37-38 at 0.8-0.9 s. Two tiles a thread (the rule before) ran at most 4% faster and compiled
# 0.3-1.2 s longer. A row of fewer than 8 tiles (14x14) keeps the heuristic.
XHAT_THREADS = (32, 16, 8)

def _transform(k:Scheduler, alphas:tuple[int, ...]) -> tuple[list[UOp], UOp, list[UOp]]|None:
  """A kernel of NEW's transforms into alpha^n positions (XHAT, GHAT) of an alpha in alphas: elementwise, one store, one buffer read.
  Its alpha^n position ranges, its store and its loads of that buffer; None for any other kernel."""
  if k.reduceop is not None or k.applied_opts or len(stores:=_stores(k)) != 1: return None
  loads = [b for b in k.bufs if b.src[0] is not stores[0].src[0]]
  if len({b.src[0] for b in loads}) != 1: return None
  # the alpha^n positions are the stored ranges that no load reads (kron sums over the transform's inputs)
  alpha = [r for r in k.rngs if r in stores[0].ranges and not any(r in b.ranges for b in loads)]
  if not alpha or (a:=int(alpha[0].vmax + 1)) not in alphas or any(r.vmax + 1 != a for r in alpha): return None
  return alpha, stores[0], loads

def _xhat(k:Scheduler, alphas:tuple[int, ...]=(ALPHA,), upstream:bool=False) -> tuple[list[UOp], list[UOp]]|None:
  """NEW's input transform of a tile size whose alpha is in alphas: XHAT, which reads one buffer at alpha^n places a tile, or with
  upstream also a weight gradient's transform of the upstream gradient, which reads it at m^n (m = alpha - 2). Its alpha^n position
  ranges and its other stored ranges by their stride, innermost first: the tiles' range (stride 1) ... the channels'; None for any
  other kernel."""
  if (found:=_transform(k, alphas)) is None: return None
  alpha, store, loads = found
  a = int(alpha[0].vmax + 1)
  if len(loads) not in {t ** len(alpha) for t in ((a, a - 2) if upstream else (a,))}: return None
  # stored tiles innermost and channels outside batch, where the input has batch outside channels; OLD's XHAT (F(4,3), alpha 6)
  # keeps batch outside in both (an alpha-6 conv of batch 1 can't be told from OLD's: the heuristic keeps it)
  out, act = _strides(store), _strides(loads[0])
  rest = sorted((r for r in out if r not in alpha), key=out.__getitem__)
  if len(rest) < 2 or out[rest[0]] != 1 or not (shared:=[r for r in rest if r in act]): return None
  if a == OLD_ALPHA and (len(rest) < 3 or max(shared, key=act.__getitem__) is rest[-1]): return None
  return alpha, rest

def xhat_opts(k:Scheduler) -> Scheduler|None:
  """Threads along the tiles for NEW's input transform on a GPU; None for any other kernel."""
  if not k.ren.has_local or (found:=_xhat(k)) is None: return None
  alpha, (tiles, *_, chans) = found
  size = int(tiles.vmax + 1)
  if (t:=next((t for t in XHAT_THREADS if size % t == 0), None)) is None: return None
  k = k.copy()
  try:
    k.apply_opt(Opt(OptOps.LOCAL, _axis(k, tiles), t))
    if t < 32 and (chans.vmax + 1) % 2 == 0: k.apply_opt(Opt(OptOps.LOCAL, _axis(k, chans), 2))
    for r in alpha: k.apply_opt(Opt(OptOps.UPCAST, _axis(k, r), 0))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: XHAT opts {k.applied_opts}")
  return k

# The input transforms on a CPU (XHAT, and a weight gradient's transform of the upstream gradient, whose layout is the same):
# tinygrad's heuristic runs the tiles of a row in an outer loop, so each of a tile's alpha^2 stores writes a cache line of its own
# (the layout has the tiles innermost) and XHAT took 4-6 ns an element once it outgrew the caches. Upcast along the row's tiles (4
# or 2; a row of an odd count of at most 8 tiles whole, where XHAT outgrows the caches), so consecutive tiles store together.
# bench/cpu_opts.py --kernel xhat (bench/results/cpu-xhat-opts-2026-11-25.md). tinygrad's codegen time grows faster than the
# outputs an iteration, so the alpha^n positions are upcast whole up to XHAT_LANES outputs an iteration and past that (a row of 7
# tiles x 36) one alpha dim loops, innermost (tg.loop_innermost), over a tile's inputs still in L1; outermost it read the
# whole input once per position and ran XHAT up to 3.6x slower (bench/results/cpu-xhat-alpha-outer-2026-11-25.md). At
# (8,128,128,28) the conv then compiled in 3.0 s instead of 5.0 for XHAT 3.84 ms instead of 3.51; at (8,256,256,14), 4 tiles x 36,
# looping saved 0.7 s for 0.5 ms, and there the alpha^2 stay upcast (bench/results/cpu-xhat-alpha-loop-2026-11-25.md).
XHAT_ROW_UPCASTS, XHAT_CACHED, XHAT_LANES, CPU_THREADS = (4, 2), 2 ** 20, 144, (32, 16, 12, 8, 6, 4, 3, 2)
# Every tile size (bench/results/cpu-xhat-small-tiles-2026-12-06.md, heuristic -> the rule, XHAT ms): F(2,3) (alpha 4) at batch 1,
# where an alpha-6 XHAT can't be told from OLD's, looped the tile rows innermost, each store a cache line of its own: 0.28 -> 0.06 at
# (1,16,16,32), 0.20 -> 0.17 at (1,64,64,28), elsewhere within noise. F(6,3) (alpha 8, 64 positions: past XHAT_LANES an alpha
# dim loops) ran 3.4-5.8x faster at four shapes, and a row of 5 tiles takes the whole row whatever XHAT's size: with the heuristic's
# XHAT the conv compiled in 19-21 s there, with the rule's in 10-11 s (rows of 8 and 10 tiles: 6-7 -> 10 s)
CPU_ALPHAS = (4, 6, 8)
# Two tiles an iteration (a row of 2, 6, 14... tiles) ran about as fast with an alpha dim looping, innermost, as with the alpha^2
# upcast whole, and compiled in half the time (bench/results/cpu-xhat-pairs-2026-12-06.md, F(4,3)). The CPU's input transforms
# contract their first alpha dim first (rules._rewrite, kron's first_mode_first), so 2 and 4 tiles an iteration loop that one: the last dim's sums
# aren't recomputed each iteration. Past XHAT_LANES the last alpha dim loops, which ran faster for the whole row of 7. A 2-core
# Zen 3 EPYC, two runs one after the other (bench/cpu_opts.py --kernel xhat, bench/results/cpu-xhat-order-2026-12-07.md, the rule
# before -> this one, XHAT ms, its compile s): (8,256,256,14) 1.99 -> 1.68, 2.1 -> 1.1; (8,128,128,32) 5.12 -> 3.95, 2.4 -> 1.3;
# (8,128,128,28) 4.09 -> 3.83; (8,64,64,56) 9.01 -> 8.51; (4,512,512,7) 0.63 -> 0.53; (8,96,96,24) 2.52 -> 2.27; (4,32,32,128)
# 16.3 -> 16.0, 2.4 -> 1.2; but (8,64,64,64), a row of 16 tiles, 12.9 -> 14.3-15.4 (1.2 s of compile instead of 2.8), where 4 tiles
# with the last alpha dim looping ran 11.7 (and slower than the rule at the other rows of 4, 8 and 32 tiles). Measured at F(4,3).
# Those timings looped the row's tiles outside the tile rows and batch (loops_in_store_order); in the layout's order, the same
# upcasts ran XHAT (8,64,64,64) 14.67 -> 10.90, (4,32,32,128) 16.89 -> 10.86, (8,64,64,56) 8.50 -> 7.64, (8,128,128,28) 3.94 -> 3.28,
# and rows of 4 and 2 tiles, upcast whole, within 6% (bench/results/cpu-xhat-store-order-2026-12-07.md)

# With the loops in the layout's order, 4 tiles of a row of more than 4 (F(4,3)) ran faster with the first alpha dim upcast by 3 and
# the last looping innermost (12 outputs an iteration, 18 of the 36 alpha^2 planes written by the innermost loops) than with the
# first looping and the last upcast (24 outputs, all 36 planes): bench/cpu_opts.py --kernel xhat, round-robin in one run
# (bench/results/cpu-xhat-split-rows-2026-12-07.md, the rule before -> this one, XHAT ms): rows of 8 tiles (8,64,64,32) 1.79 -> 1.75,
# 12 (8,32,32,48) 2.06 -> 1.74, 16 (8,64,64,64) 16.78 -> 7.68, 20 (4,32,32,80) 3.19 -> 2.77, 32 (4,32,32,128) 11.73 -> 6.86, at about
# the same compile. A row of 4 (8,128,128,16) ran 0.70 -> 1.44 that way and keeps the rule. 8 tiles an iteration compiled 1.5-2x longer.
XHAT_SPLIT_PART = 3

# A row of an odd count of more than 8 tiles (no 4 or 2 divides it) keeps tinygrad's heuristic, which stores one tile an iteration.
# Padding such a row to 4s (the padded tiles not stored), upcast by 4, the first alpha dim whole and the last looping, ran XHAT
# 12-27% faster at batch 8 and at (4,64,64,76) (bench/cpu_opts.py --kernel xhat, bench/results/cpu-xhat-odd-rows-2026-12-07.md:
# (8,64,64,44) 5.96 -> 4.37 ms, (8,64,64,52) 8.36 -> 7.10, (4,64,64,76) 7.63 -> 6.20) at twice the compile (1.8-1.9 s), and slower at
# 9 tiles (8,32,32,36). As a rule (13d05f6: where XHAT passes XHAT_CACHED) it slowed the gradients at batch 4: (4,64,64,52) 30.77
# -> 32.33 ms, its XHAT 3.08 -> 3.45, (4,64,64,44) 21.00 -> 21.79, compiling 5.1 -> 7.5-7.8 s (bench/grads.py,
# cpu-grads-odd-rows{-base,}-2026-12-07.md). Where it pays isn't XHAT_CACHED's boundary; not adopted (reverted).

def _most_elements(k:Scheduler) -> int: return math.prod(int(s.vmax) if isinstance(s, UOp) else s for s in k.full_shape)  # symbolic at its largest

def _cpu_threads(k:Scheduler, axes:list[int]) -> None:
  """tinygrad's heuristic's CPU threads (about 128K operations a thread), over the first of `axes` (of a constant size) they divide."""
  if not k.ren.has_threads: return
  most = min(k.ren.global_max[0], _most_elements(k) >> 17)
  for t in (t for t in CPU_THREADS if t <= most):
    if (axis:=next((a for a in axes if isinstance(s:=k.full_shape[a], int) and s % t == 0), None)) is not None:
      k.apply_opt(Opt(OptOps.THREAD, axis, t))
      return

def loops_in_store_order(k:Scheduler, stored:list[UOp], inner:list[UOp]) -> list[UOp]:
  """Loop over XHAT's stored ranges (by stride, innermost first) in its layout's order, so consecutive iterations store next to each
  other, and over `inner` (alpha dims) inside them. The range ids rules._rewrite gives (the tiles last dim first, for a GPU's threads)
  looped the row's tiles outside the tile rows and batch on a CPU. The stored ranges renamed, in their order."""
  return loop_innermost(k, *stored[::-1], *inner)[len(stored) - 1::-1]

def cpu_xhat_opts(k:Scheduler) -> Scheduler|None:
  """Consecutive tiles a loop iteration for NEW's input transform on a CPU; None for any other kernel."""
  if k.ren.has_local or (found:=_xhat(k, CPU_ALPHAS, upstream=True)) is None: return None
  alpha, stored = found
  size, a = int(stored[0].vmax + 1), int(alpha[0].vmax + 1)
  if (u:=next((u for u in XHAT_ROW_UPCASTS if size % u == 0), None)) is None:
    if size > 8 or (a < 8 and _most_elements(k) < XHAT_CACHED): return None
    u = size
  # past XHAT_LANES the last alpha dim loops (the transform's last contracted); 2 and 4 tiles an iteration loop the first (above),
  # except 4 tiles of a longer row of a 2-D F(4,3), where the first is upcast by XHAT_SPLIT_PART (its rest a loop outside the others)
  # and the last loops (XHAT_SPLIT_PART's comment)
  part = XHAT_SPLIT_PART if u == 4 and size > u and a == ALPHA and len(alpha) == 2 else 0
  loop = alpha[-1] if part or u * a ** len(alpha) > XHAT_LANES else alpha[0] if u in XHAT_ROW_UPCASTS and len(alpha) > 1 else None
  k = k.copy()
  try:
    tiles = loops_in_store_order(k, stored, [loop] if loop is not None else [])[0]
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, tiles), u))
    for r in alpha:
      if r is not loop: k.apply_opt(Opt(OptOps.UPCAST, _axis(k, r), part if r is alpha[0] else 0))
    _cpu_threads(k, k.axes_of(AxisType.WEAK))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: XHAT opts {k.applied_opts}")
  return k

# MHAT on a CPU: a batched matmul C[b, n, m] = sum_k X[b, k, n] * G[b, k, m], with NEW's CPU layouts (rules._rewrite: XHAT's
# tiles innermost, GHAT's and MHAT's output channels). tinygrad's heuristic upcasts it 4x4 and unrolls k by 4. A register block of
# outputs per thread (X's contiguous n and G's contiguous m as vectors) pays where its accumulators stay in the vector registers,
# so the block follows the register file clang's -march=native code has (tinygrad renders float4s: one a register):
# - 32 registers (AVX-512, arm64): 4 n x 8 m with k unrolled by 4. 8x8 (16 float4 accumulators) by 4 ran 1.5-2.6x faster than
#   the heuristic on a 2-core AMD EPYC whose register file was not recorded (bench/cpu_opts.py --kernel mhat:
#   bench/results/cpu-mhat-opts-layout-2026-11-25.md, heuristic -> 8x8, ms): (8,64,64,56) 16.2 -> 11.1, (8,128,128,28) 15.5 ->
#   9.7, (8,256,256,14) 24.3 -> 12.9, (4,512,512,7) 19.6 -> 7.5. On a 2-core AVX-512 Xeon (bench/results/cpu-mhat-avx512{,
#   -order}-2026-12-07.md, 8x8 by 4 -> 4x8 by 4, each with its loop order below, ms) the rule ran faster at every shape and
#   compiled in half the time: (8,64,64,56) 11.85 -> 10.35, (8,128,128,28) 15.34 -> 11.75, (8,256,256,14) 15.71 -> 13.71,
#   (4,512,512,7) 16.59 -> 12.35, (16,512,512,7) 34.80 -> 30.13, (1,256,256,14) 4.05 -> 2.90; 8 n x 4 m by 4 ran 2-6% faster than
#   it at (4,512,512,7) and (1,256,256,14), 7-35% slower at the others; 8x8 with the tiles' blocks outside ran 2.32 at
#   (1,256,256,14) (16 tiles), where 4x8's A/B below reads even. The whole conv there with both rules (bench/phases.py,
#   cpu-mhat-avx512-ab-{base,new}{1,2}-2026-12-07.md, 8x8 -> 4x8 and L2's order, NEW's ms in two runs): (8,64,64,56) 21.3, 23.6
#   -> 19.8, 20.0, (8,128,128,28) 20.0, 20.0 -> 18.2, 18.5, (8,256,256,14) 21.8, 21.7 -> 20.4, 19.2, (4,512,512,7) 22.9, 22.6 ->
#   18.7, 18.4, (16,512,512,7) 44.7, 45.5 -> 44.3, 39.7, (1,256,256,14) 5.6, 6.6 -> 5.6, 6.7.
# - 16 registers (x86-64 without AVX-512): in that assembly at -march=znver3 8x8 spills its accumulators to the stack, 4 n x 8 m
#   with k unrolled by 2 far less. On a 2-core AMD EPYC of that kind (Zen 3), timed round-robin (bench/cpu_opts.py
#   --kernel mhat, bench/results/cpu-mhat-regs-2026-12-06.md, 8x8 by 4 -> 4x8 by 2, ms): (8,64,64,56) 23.7 -> 13.5,
#   (8,128,128,28) 22.4 -> 15.2, (8,256,256,14) 30.1 -> 25.0, (4,512,512,7) 14.8 -> 12.8, compiling in 0.4-0.5 s instead of 0.9-1.1.
# A weight gradient's MHAT has both operands with k innermost (its K is the batch and the tiles): each output is a dot product of
# k-vectors. With 16 registers, 8 m with k unrolled by 4 ran up to 5.6x slower than tinygrad's heuristic; 8 n x 4 m by 4 ran
# fastest, 1.0-4.8x faster than the heuristic (bench/cpu_opts.py --kernel wgmhat, bench/results/cpu-wgmhat-regs-2026-12-06.md,
# 8x8 by 4 -> 8x4 by 4, ms): (4,32,32,32) 5.72 -> 1.32, (4,64,64,16) 4.29 -> 0.61, (4,128,128,8) 4.73 -> 0.58, (8,64,64,28) 27.4 ->
# 4.6. With 32 too (the AVX-512 Xeon above; cpu-wgmhat-avx512-2026-12-07.md, 8x8 by 4 -> 8x4 by 4, ms): 1.69 -> 0.58, 1.42 ->
# 0.43, 2.00 -> 0.53, 9.63 -> 3.21 at those shapes, compiling in 0.3 s instead of 0.7; 4 n x 8 m by 4 ran as slowly as 8x8.
# The loop order of the blocks: tinygrad loops over n's blocks outside m's, so each n block reads all of G (K x M) and X's block
# stays in L1. Where G is the bigger (M > N: many channels, few tiles) and outgrows L2 it is read from memory N / n_block times;
# with m's blocks outside, X (K x N, the smaller) is the one read again. "Outgrows": at least half the core's L2 (cpu_l2_bytes),
# the G of one tile position; where L2's size can't be read, wherever M > N. A 2-core Zen 3 EPYC (16 registers), MHAT ms in two runs
# each (bench/phases.py, bench/results/cpu-mhat-order{-base,}{1,2}-2026-12-07.md): (4,512,512,7) 11.7, 12.5 -> 9.3, 9.2,
# (16,512,512,7) 47.2, 48.0 -> 33.7, 33.6, (8,256,256,14) 19.9, 20.4 -> 18.8, 18.6, (1,256,256,14) 2.50, 2.25 -> 2.00, 2.16. Where
# N > M it ran slower: on a 2-core AVX-512 Xeon (2 MB of L2 a core; 8x8 blocks; bench/results/cpu-mhat-order-nm{,-m-outer}{1,2}
# -2026-12-07.md, n's blocks outside -> m's outside, MHAT ms in two runs each) (8,128,128,28) 15.42, 14.63 -> 15.75, 15.77,
# (8,64,64,56) 11.79, 11.88 -> 20.52, 18.62. On that Xeon (4x8 blocks, cpu-mhat-avx512-order-2026-12-07.md, n's blocks outside ->
# m's) a G of 1 MB ran faster with m's outside, (4,512,512,7) 16.00 -> 12.35, (16,512,512,7) 39.22 -> 30.13, and one of 256 KB
# slower, (8,256,256,14) 15.61 -> 17.39, (1,256,256,14) 2.90 -> 3.21: on the EPYC (512 KB of L2) 256 KB had gained (above).
# (n blocks, m blocks, k unrolls), the first of each that divides its size: a forward conv's MHAT's by vector registers, a weight
# gradient's with either
MHAT_BLOCKS = {32: ((4, 2), (8, 4, 2), (4, 2)), 16: ((4, 2), (8, 4, 2), (2,))}
WG_MHAT_BLOCKS = ((8, 4, 2), (4, 2), (4, 2))

@functools.cache
def cpu_vector_registers() -> int:
  """The vector registers of the host, which tinygrad's CPU backends compile for (-march=native): 32 on arm64 and on x86-64 with
  AVX-512, else 16 (also where the host's CPU flags can't be read)."""
  if platform.machine().lower() in ("arm64", "aarch64"): return 32
  try: return 32 if "avx512f" in pathlib.Path("/proc/cpuinfo").read_text().split() else 16
  except OSError: return 16

@functools.cache
def cpu_l2_bytes() -> int:
  """The host's L2 cache a core (Linux's sysfs), 0 where it can't be read."""
  try:
    for d in pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
      if (d / "level").read_text().strip() == "2" and (size:=(d / "size").read_text().strip()).endswith("K"): return int(size[:-1]) * 1024
  except (OSError, ValueError): pass
  return 0

ALPHA_POWERS = {a ** n for a in (4, 6, 8) for n in (1, 2, 3)}

def _load(u:UOp) -> UOp|None:
  while u.op is Ops.CAST: u = u.src[0]
  return u if u.op is Ops.INDEX else None

def _mhat_layout(k:Scheduler) -> tuple[UOp, UOp, UOp, list[UOp], bool]|None:
  """NEW's MHAT kernel: its ranges m, n, k and batch (the alpha^n tile positions first, groups after them), and whether X has k
  innermost (k_major: a weight gradient's MHAT, whose K is the batch and the tiles) rather than n; None for any other kernel."""
  if k.applied_opts or len(reds:=k.reduceops) != 1 or reds[0].arg[0] is not Ops.ADD or len(reds[0].src) != 2: return None
  if (mul:=reds[0].src[0]).op is Ops.CAST: mul = mul.src[0]
  stores = _stores(k)
  if mul.op is not Ops.MUL or len(stores) != 1 or None in (loads:=[_load(s) for s in mul.src]): return None
  kr, (out_unit, *load_units) = reds[0].src[1], [_unit(i) for i in (stores[0], *loads)]
  # G is the load with the output's unit-stride range m, X the other; n is X's own range, X's unit range n or k, G's unit range k
  # (a GPU's layouts, a weight gradient's) or, with X's unit n, m (a CPU's forward layout; a plain A @ B, A's unit k, is no MHAT)
  if len(out_unit) != 1 or ((m:=next(iter(out_unit))) in loads[0].ranges) == (m in loads[1].ranges): return None
  (x, xu), (g, gu) = sorted(zip(loads, load_units), key=lambda p: m in p[0].ranges)
  if m in x.ranges or len(own:=[r for r in x.ranges if r not in g.ranges]) != 1 or xu not in ({own[0]}, {kr}): return None
  if kr not in gu and not (m in gu and xu == {own[0]}): return None
  n = own[0]
  if not (batch:=[r for r in k.rngs if r not in (m, n, kr)]) or any(r not in x.ranges or r not in g.ranges for r in batch): return None
  return (m, n, kr, batch, xu == {kr}) if int(batch[0].vmax + 1) in ALPHA_POWERS else None

def _mhat(k:Scheduler, k_major:bool=False) -> tuple[UOp, UOp, UOp, list[UOp]]|None:
  """NEW's MHAT kernel of the forward layout (X with n innermost), or with k_major a weight gradient's: its m, n, k and batch."""
  return found[:4] if (found:=_mhat_layout(k)) is not None and found[4] == k_major else None

def _read_bytes(k:Scheduler, *rngs:UOp) -> int:
  """The bytes a kernel reads of the buffer indexed by all of rngs, over those ranges alone (MHAT's m and k: one tile position's G)."""
  return math.prod(int(r.vmax + 1) for r in rngs) * next(b.src[0].dtype.itemsize for b in k.bufs if all(r in b.ranges for r in rngs))

def mhat_opts(k:Scheduler) -> Scheduler|None:
  """Register-blocked opts for NEW's MHAT kernel on a CPU (no local threads), a weight gradient's too; None for any other kernel."""
  if k.ren.has_local or (found:=_mhat_layout(k)) is None: return None
  m, n, kr, batch, k_major = found
  k = k.copy()
  try:
    # the loop over n's blocks runs inside m's where the conv has more output channels than tiles and G outgrows L2 (above MHAT_BLOCKS)
    if not k_major and m.vmax > n.vmax and 2 * _read_bytes(k, m, kr) >= cpu_l2_bytes(): n = loop_innermost(k, n)[0]
    n_block, m_block, unroll = WG_MHAT_BLOCKS if k_major else MHAT_BLOCKS[cpu_vector_registers()]
    for r, blocks in ((n, n_block), (m, m_block)):
      if b:=next((b for b in blocks if (r.vmax + 1) % b == 0), None): k.apply_opt(Opt(OptOps.UPCAST, _axis(k, r), b))
    if u:=next((u for u in unroll if (kr.vmax + 1) % u == 0), None): k.apply_opt(Opt(OptOps.UNROLL, k.unrollable_dims.index(_axis(k, kr)), u))
    # threads over the tile positions
    _cpu_threads(k, [_axis(k, batch[0])])
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: MHAT opts {k.applied_opts}")
  return k

# MHAT on a GPU with tensor cores (half convs): tinygrad's heuristic gives each warp 4x4 tensor-core tiles and 4 warps a block
# (2 where a dim is small). Without shared memory each warp reads its operands from global memory and L1, so a bigger block of
# output channels per warp (8 tensor-core tiles, their G rows reused 8 times) ran faster, as long as enough warps are left to fill
# the GPU. bench/opts_search.py --kernel mhat on the H100 (bench/results/h100-opts-search-2026-11-25.md, heuristic -> these
# opts, us): (32,256,256,14) 53 -> 48, (8,512,512,7) 31-36 -> 29-30 (n not upcast: 576 warps), (32,128,128,28) 50 -> 35,
# (64,64,64,112) 329 -> 275, (8,64,64,56) 25 -> 21.
MHAT_TC_M, MHAT_TC_N, MIN_WARPS = (8, 4, 2), (4, 2), 512

def mhat_tensor_core_opts(k:Scheduler) -> Scheduler|None:
  """Tensor-core opts for NEW's MHAT kernel on a GPU; None for any other kernel, or where tensor cores don't apply."""
  if not k.ren.has_local or not k.ren.tensor_cores or not USE_TC.value or (found:=_mhat(k)) is None: return None
  m, n, _, _ = found
  outputs = math.prod(int(r.vmax + 1) for r in k.rngs if r in _stores(k)[0].ranges)
  k = k.copy()
  try:
    # (where no tensor core applies, apply_opt raises KernelOptError: it never returns None)
    rngs = k.apply_opt(Opt(OptOps.TC, 0, (TC_SELECT.value, TC_OPT.value, USE_TC.value)))
    tc = k.tensor_core
    # the tensor core's first dim is the output channels m (rows of G), its second the tiles n (Scheduler._apply_tc_opt)
    if rngs[0].arg[0] != m.arg[0] or rngs[1].arg[0] != n.arg[0]: return None
    um = next((u for u in MHAT_TC_M if (rngs[0].vmax + 1) % u == 0), 1)
    un = next((u for u in MHAT_TC_N if (rngs[1].vmax + 1) % u == 0 and outputs // (tc.dims[0] * tc.dims[1] * um * u) >= MIN_WARPS), 1)
    if um > 1: k.apply_opt(Opt(OptOps.UPCAST, k.rngs.index(rngs[0]), um))
    if un > 1: k.apply_opt(Opt(OptOps.UPCAST, k.rngs.index(rngs[1]), un))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: MHAT tensor-core opts {k.applied_opts}")
  return k

# A weight gradient's MHAT on a GPU, float32 (no tensor cores): C[b, m, n] = sum_k X[b, n, k] * Y[b, m, k], both operands with k
# (batch and tiles) innermost, m the stored unit-stride dim (input channels), n the output channels. tinygrad's heuristic gives a
# thread 4x4 outputs and 16 threads a block: too few threads for the device at ResNet's sizes (36 x 64 x 64 outputs: 288 warps).
# Two m and eight n a thread (four below 128), k unrolled by 4, 16 threads along m and 2 along n where eight: bench/opts_search.py
# --kernel wgmhat on the H100 (bench/results/h100-opts-search-wgmhat-2026-11-25.md, heuristic -> these opts, us, float32):
# (16,64,64,32) 97-100 -> 58, (16,128,128,16) 65-66 -> 42, (16,256,256,8) 60-63 -> 41 (38 with 4 threads along n). Splitting
# the reduce between threads (GROUPTOP) ran slower at every size searched. Half weight gradients are left to tinygrad's
# heuristic and its tensor cores (not searched). At batch 1 OLD's weight gradient holds a batched matmul of this very layout, which
# gets these opts too (tests/test_opts.py); the committed gradient timings are at batch 16.
WG_MHAT_WIDE_N = 128

def wg_mhat_opts(k:Scheduler) -> Scheduler|None:
  """Opts for a weight gradient's float32 MHAT on a GPU; None for any other kernel."""
  if not k.ren.has_local or (found:=_mhat(k, k_major=True)) is None or any(b.src[0].dtype.itemsize != 4 for b in k.bufs): return None
  m, n, kr, _ = found
  wide = (n.vmax + 1) >= WG_MHAT_WIDE_N
  k = k.copy()
  try:
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, n), 8 if wide else 4))
    k.apply_opt(Opt(OptOps.UPCAST, _axis(k, m), 2))
    k.apply_opt(Opt(OptOps.UNROLL, k.unrollable_dims.index(_axis(k, kr)), 4))
    k.apply_opt(Opt(OptOps.LOCAL, _axis(k, m), 16))
    if wide: k.apply_opt(Opt(OptOps.LOCAL, _axis(k, n), 2))
  except KernelOptError: return None
  if DEBUG >= 3: print(f"winograd: weight gradient MHAT opts {k.applied_opts}")
  return k
