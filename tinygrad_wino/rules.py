# The NEW path: winograd as a rewrite of the rangeified UOp graph.
# After run_rangeify a conv is REDUCE(ADD, MUL(act, wgt), cin.., ky, kx) where act depends on each output range o and its
# kernel range k only through ADD(o, k), and wgt does not depend on o. We rewrite that REDUCE into
#   XHAT = kron(act tiles, Bt)  bufferized over (alpha.., cin.., act's other ranges, tiles..)
#   GHAT = kron(wgt taps, G)    bufferized over (alpha.., cin.., wgt's other ranges)
#   MHAT = sum_cin XHAT * GHAT  bufferized over (alpha.., other ranges, tiles..)
#   out  = kron(MHAT, At)       read by the REDUCE's consumer at rows o % m of tile o // m
from __future__ import annotations
import functools, itertools, math, operator, warnings
from fractions import Fraction
from dataclasses import dataclass, field, replace
from typing import Callable
from tinygrad_wino.cost import GPU, Work, SMALL_CONV_MACS, decide, device_class, tiled_output_pays
from tinygrad_wino.kron import kron
from tinygrad_wino.matrices import Winograd, cook_toom
from tinygrad_wino.opts import CPU_ROW_BYTES, OUTPUT_NDIMS
from tinygrad_wino.tg import UOp, UPat, Ops, PatternMatcher, AxisType, AddrSpace, BufferizeOpts, DType, dtypes, DEBUG, gated_substitute,\
  simplify_loads, simplify_each, renders

@dataclass(frozen=True)
class Conv:
  """A REDUCE computing out[p] = sum_q act[p + q] * other[q] along each of len(outs) spatial dims, with p the REDUCE's own
  (output) ranges and q its reduce ranges. A forward conv has 3 taps q; the weight gradient of one has 3 outputs p."""
  red: UOp
  act: UOp                       # depends on (outs[i], taps[i]) only through outs[i] + taps[i]
  other: UOp                     # the weight (forward) or the upstream gradient (weight gradient), independent of outs
  outs: tuple[UOp, ...]          # p: output ranges paired with a reduce range
  taps: tuple[UOp, ...]          # q: reduce ranges paired with an output range
  chans: tuple[UOp, ...]         # the other reduce ranges (input channels; batch for a weight gradient), reduced in MHAT
  act_others: tuple[UOp, ...]    # act's other output ranges
  other_others: tuple[UOp, ...]  # other's other output ranges
  weight_grad: bool              # tile the reduced positions q (3 outputs p) instead of the outputs p (3 taps q)
  group_channels: tuple[int, ...]  # per range of `both`: the d that act reads it through, r // d (a grouped conv's), or 1
  @property
  def others(self) -> tuple[UOp, ...]: return tuple(dict.fromkeys(self.act_others + self.other_others))
  # act's and other's other ranges split three ways: both use them (groups), only act (batch), only other (output channels)
  @property
  def both(self) -> tuple[UOp, ...]: return tuple(r for r in self.act_others if r in self.other_others)
  @property
  def act_only(self) -> tuple[UOp, ...]: return tuple(r for r in self.act_others if r not in self.other_others)
  @property
  def other_only(self) -> tuple[UOp, ...]: return tuple(r for r in self.other_others if r not in self.act_others)
  # a range both use that act reads only through r // d (a grouped conv: the output channel r of group r // d) splits in two: the
  # group, which both use, and r % d, other's own. MHAT is then a matmul per group with the group's d output channels in M, instead
  # of a matrix-vector product per output channel over an XHAT made again for each of them
  @property
  def shared_sizes(self) -> list: return [_extent(r) if d == 1 else _size(r) // d for r, d in zip(self.both, self.group_channels)]
  @property
  def own_sizes(self) -> list: return [d for d in self.group_channels if d > 1] + [_extent(r) for r in self.other_only]  # M's parts
  def shared_at(self, shared:tuple[UOp, ...], own:list[UOp]|None=None) -> dict[UOp, UOp]:
    """The substitution of both's and other_only's ranges by the group ranges `shared` and M's parts `own` (own_sizes' order);
    without `own` act's: it doesn't read r % d."""
    split = iter(own or [])
    ret = {r: s if d == 1 else s * d + next(split, 0) for r, s, d in zip(self.both, shared, self.group_channels)}
    return ret | dict(zip(self.other_only, split))
  @property
  def consumer_shared(self) -> list[UOp]: return [r if d == 1 else r // d for r, d in zip(self.both, self.group_channels)]
  @property
  def consumer_own(self) -> list[UOp]: return [r % d for r, d in zip(self.both, self.group_channels) if d > 1] + list(self.other_only)
  @property
  def tiled(self) -> tuple[UOp, ...]: return self.taps if self.weight_grad else self.outs
  @property
  def untiled(self) -> tuple[UOp, ...]: return self.outs if self.weight_grad else self.taps

def _is_out_range(u:UOp) -> bool: return u.op is Ops.RANGE and u.arg[-1] is not AxisType.REDUCE
def _size(r:UOp) -> int|None: return r.src[0].arg if r.src[0].op is Ops.CONST else None
def _extent(r:UOp): return r.src[0] if (s:=_size(r)) is None else s
def _largest(size:int|UOp) -> int: return int(size.vmax) if isinstance(size, UOp) else size  # a symbolic extent (batch) at its largest
def _prod(xs): return functools.reduce(operator.mul, xs, 1)
def _unflat(r:UOp, sizes:list) -> list[UOp]:
  # the index of each part of the row-major product of `sizes` that the flat index r is at
  parts, stride = [], 1
  for i, s in reversed(list(enumerate(sizes))):
    parts.append(UOp.const(0) if isinstance(s, int) and s == 1 else (r // stride) % s if i else r // stride)
    stride = stride * s
  return parts[::-1]
def _flat_index(idxs:list[UOp], sizes:list) -> UOp:
  ret: UOp = UOp.const(0)
  for i, s in zip(idxs, sizes): ret = ret * s + i
  return ret

def _tap_pairs(act:UOp, reduce_rngs:tuple[UOp, ...]) -> list[tuple[UOp, UOp]]:
  # the (output range o, reduce range k) that act reads only through o + k: written o = s - k for a free s, k drops out of act.
  # This is semantic, so it holds whatever form tinygrad's index simplification gave the sum (o+k+c*r, (o+k)*W, ...).
  # an output range may be a reduce range of an enclosing reduce (a conv fused into the mean of a global pool)
  outs, taps = [r for r in act.ranges if r not in reduce_rngs], [k for k in reduce_rngs if k in act.ranges]
  tried = [(o, k) for k in taps for o in outs]
  # the index math's simplification drops k (o + k = s, and the gates' o + k >= c too): the loads' gates need no simplifying by
  # their valid, which takes most of simplify_loads' time (bench/results/cpu-schedule-2026-12-07.md)
  moved = simplify_each([gated_substitute(act, {o: _placeholder(o, k, 0) - k}) for o, k in tried], gates=False)
  drops = {ok: ok[1] not in a.ranges for ok, a in zip(tried, moved)}
  pairs: list[tuple[UOp, UOp]] = []
  for k in taps:
    if (o:=next((o for o in outs if drops[(o, k)] and all(o is not p for p, _ in pairs)), None)) is not None: pairs.append((o, k))
  return pairs

def _placeholder(o:UOp, k:UOp, i:int) -> UOp: return UOp.range(o.src[0] + k.src[0] - 1, -1 - i, AxisType.PLACEHOLDER)

def _group_size(act:UOp, r:UOp) -> int:
  """The largest d that act reads r only through r // d (tinygrad indexes a grouped conv's input channel as r // (cout / groups)
  * cin + c), tried among the divisors act's index takes of r; 1 where act reads r itself."""
  if (size:=_size(r)) is None: return 1
  ds = sorted({d.arg for u in _kernel_toposort(act) if u.op in (Ops.FLOORDIV, Ops.CDIV) and r in u.src[0].ranges and (d:=u.src[1]).op is Ops.CONST
               and 1 < d.arg < size and size % d.arg == 0}, reverse=True)
  for d in ds:
    g, q = UOp.range(size // d, -1, AxisType.PLACEHOLDER), UOp.range(d, -2, AxisType.PLACEHOLDER)
    if q not in simplify_each([gated_substitute(act, {r: g * d + q})])[0].ranges: return d
  return 1

def _scaled(u:UOp) -> tuple[UOp, int]|None:
  # u as (range, coefficient): a range, or a range times a constant
  if u.op is Ops.RANGE: return u, 1
  if u.op is Ops.MUL and len(rs:=[x for x in u.src if x.op is Ops.RANGE]) == 1 and len(cs:=[x for x in u.src if x.op is Ops.CONST]) == 1:
    return rs[0], cs[0].arg
  return None

def _strided_tap(act:UOp, k:UOp) -> bool:
  # a*k + b*o with overlapping windows (not one-to-one): o*s + k for a stride s < 3, or o + k*d for a dilation d. A channel
  # index g*C + c has the same form but is one-to-one, and so is a stride of 3 (non-overlapping windows)
  for u in act.toposort(gate=lambda u: k in u.ranges):
    if u.op is not Ops.ADD: continue
    for x, y in (u.src, u.src[::-1]):
      if (a:=_scaled(x)) is None or a[0] is not k or (b:=_scaled(y)) is None or not _is_out_range(b[0]) or (o_size:=_size(b[0])) is None: continue
      if not (abs(b[1]) >= abs(a[1]) * _size(k) or abs(a[1]) >= abs(b[1]) * o_size): return True
  return False

def _fold_constant_buffers(u:UOp) -> UOp:
  # a buffer holding a constant (a deviceless value placed on the device, folded away after this pass), read as that value. A
  # buffer computed without memory but varying by position (an arange) is no constant
  def constant(b:UOp) -> bool: return b.op is Ops.STAGE and not _reads_memory(b.src[0]) and not b.src[0].src[0].ranges
  return gated_substitute(u, {x: x.src[0].src[0] for x in _kernel_toposort(u) if x.op is Ops.INDEX and constant(x.src[0])})

# a factor's graph reaches back through every buffer it reads to the start of the program: walks stop where another kernel's
# value begins, so classifying each conv costs its own kernel's size, not the program's
def _kernel_toposort(u:UOp) -> dict[UOp, None]: return u.toposort(gate=lambda x: x.op not in {Ops.STAGE, Ops.AFTER})
def _reads_memory(u:UOp) -> bool:
  found = False
  def gate(x:UOp) -> bool:
    nonlocal found
    found = found or x.op in {Ops.INDEX, Ops.PARAM, Ops.BUFFER, Ops.AFTER, Ops.STAGE}
    return not found
  u.toposort(gate=gate)
  return found

def _match_factors(red:UOp, act:UOp, other:UOp, reduce_rngs:tuple[UOp, ...], other_first:bool) -> Conv|str|None:
  # the Conv, or why this conv-like reduce (act reads output+kernel sums) is left alone, or None if it is not conv-like
  if not (pairs:=_tap_pairs(act, reduce_rngs)): return "a strided or dilated kernel axis" if any(_strided_tap(act, k) for k in reduce_rngs) else None
  outs, taps = tuple(o for o, _ in pairs), tuple(k for _, k in pairs)
  # act, and act with each output written as its sum less its tap (below), simplified in one rewrite
  a, sums = simplify_each([act, gated_substitute(act, {o: _placeholder(o, k, i) - k for i, (o, k) in enumerate(pairs)})])
  # every tap in the padding (a dilated kernel can skip the only input row): the conv is 0, whatever its kernel looks like
  if a.op is Ops.CONST and a.arg == 0: return "the input is 0 at every tap"
  if len(pairs) > 3: return f"{len(pairs)} spatial dims, at most 3"
  if any(_size(r) is None for r in outs + taps): return "a symbolic spatial size"
  if not dtypes.is_float(red.dtype) or not all(dtypes.is_float(s.dtype) for s in (act, other)): return f"dtype {red.dtype}, not a float"
  # 3 taps: a forward conv. 3 outputs: the weight gradient of one, which our conv2d backward writes with the upstream gradient
  # as the first factor. Without that order a 3-output correlation is a conv with a larger kernel, which this rule leaves alone.
  if all(_size(k) == 3 for k in taps): weight_grad = False
  elif all(_size(o) == 3 for o in outs) and other_first: weight_grad = True
  else: return f"kernel size {[_size(k) for k in taps]}, only 3"
  chans = tuple(r for r in reduce_rngs if r not in taps)
  if any(_strided_tap(act, k) for k in chans): return "a strided or dilated kernel axis"
  # act may see outs and taps only through their sums, other may not see outs at all. other must vary along every tap: constant
  # along one (a box filter, or the weight gradient of a mean loss) the reduce is a plain sum there, cheaper than any transform
  if any(r in sums.ranges for r in outs + taps): return "the input is read at more than the output+kernel sums"
  if any(o in other.ranges for o in outs): return "the kernel depends on the output position"
  if any(k not in _fold_constant_buffers(other).ranges for k in taps): return "the kernel is constant along a tap (a box filter)"
  spatial = set(outs + taps + chans)
  act_others = tuple(r for r in act.ranges if r not in spatial)
  other_others = tuple(r for r in other.ranges if r not in spatial)
  # the factors must use our ranges as free variables only: a buffer or reduce inside them that closes one of them (a partial
  # realize) is not a function of the sums we substitute
  ours = spatial | set(act_others) | set(other_others)
  if any(u.op in {Ops.STAGE, Ops.REDUCE, Ops.END} and not ours.isdisjoint(u.ended_ranges)
         for f in (act, other) for u in f.toposort(gate=lambda u: not ours.isdisjoint(u.ranges) or u.op in {Ops.STAGE, Ops.REDUCE, Ops.END})):
    return "a buffer inside the conv closes one of its ranges"
  split = tuple(_group_size(act, r) for r in act_others if r in other_others)
  return Conv(red, act, other, outs, taps, chans, act_others, other_others, weight_grad, split)

def classify(red:UOp) -> Conv|str|None:
  """The conv that `red` computes; or, for a reduce that reads an input at output+kernel sums, why the rule leaves it alone;
  or None for anything else (matmuls, plain sums, pools without a kernel)."""
  if red.arg[0] is not Ops.ADD: return None
  body = red.src[0].src[0] if red.src[0].op is Ops.CAST else red.src[0]
  if body.op is not Ops.MUL: return None
  reduce_rngs = tuple(r for r in red.src[1:] if r.op is Ops.RANGE)
  # the input first (a forward conv), then the upstream gradient first (a weight gradient)
  if isinstance(first:=_match_factors(red, *body.src, reduce_rngs, False), Conv): return first
  second = _match_factors(red, *body.src[::-1], reduce_rngs, True)
  return second if isinstance(second, Conv) or first is None else first

def match_conv(red:UOp) -> Conv|None: return c if isinstance(c:=classify(red), Conv) else None

@dataclass
class WinoContext:
  tile: int  # WINO_TILE: the m of F(m,3), or 0 for default_tile's choice per conv
  cost: bool  # WINO_COST: rewrite only the convs where the cost model expects winograd to pay
  range_ids: itertools.count
  # the rewrite itself: tinygrad's PatternMatcher calls its functions with a snapshot of their globals, so the safety tests put a
  # failing one here, through new_context
  rewrite: Callable[[WinoContext, Conv], tuple[UOp, str]]
  phase: int = 4  # the harness's truncation: the conv's value becomes one element of XHAT (1), XHAT+GHAT (2) or MHAT (3)
  strict: bool = False  # WINO_STRICT: a failing rewrite raises instead of leaving the conv direct
  rewritten: list[str] = field(default_factory=list)
  skipped: dict[UOp, str] = field(default_factory=dict)
  outputs: set[UOp] = field(default_factory=set)
  mhats: set[UOp] = field(default_factory=set)  # MHAT's reduces, which this pass builds and need no classifying
  transforms: dict[UOp, UOp] = field(default_factory=dict)
  def skip(self, red:UOp, why:str) -> None:
    self.skipped[red] = why
    if DEBUG >= 2: print(f"winograd: kept a direct conv: {why}")
  def winograd(self, conv:Conv) -> Winograd: return cook_toom(self.tile or default_tile(conv))
  def ranges(self, sizes, axis_type=AxisType.WEAK) -> tuple[UOp, ...]:
    # like rangeify's new_range: a dim of size 1 is the constant 0, not a range
    return tuple(UOp.const(0) if isinstance(s, int) and s == 1 else UOp.range(s, next(self.range_ids), axis_type) for s in sizes)
  def copies(self, rngs:tuple[UOp, ...], axis_type=AxisType.WEAK) -> tuple[UOp, ...]: return self.ranges([_extent(r) for r in rngs], axis_type)
  def shared(self, buf:UOp, closed:tuple[UOp, ...]) -> UOp:
    """buf, or an equal buffer an earlier rewrite of this graph built: the key is buf with the ranges it closes renamed by their
    position. A training step's forward conv and its weight gradient transform the same input into the same XHAT."""
    renamed = {r: UOp.range(r.src[0], -100 - i, AxisType.PLACEHOLDER) for i, r in enumerate(closed) if r.op is Ops.RANGE}
    # the bufferize closes its ranges, so a substitute gated on the ranges a node uses would not enter it
    key = buf.replace(src=(gated_substitute(buf.src[0], renamed), *[renamed.get(r, r) for r in buf.src[1:]]))
    return self.transforms.setdefault(key, buf)
  def flat(self, sizes:list) -> tuple[UOp, list[UOp]]:
    """One range over the row-major product of `sizes`, and the index of each part in it."""
    r = self.ranges([_prod(sizes)])[0]
    return r, _unflat(r, sizes)

# GHAT's rows on a CPU: a row of a multiple of CPU_ROW_BYTES is padded by CPU_ROW_PAD elements (MHAT's blocks of 8 output channels
# stay aligned). A 2-core Zen 3 EPYC, the commit before and this one in turn (bench/cpu_opts.py --kernel mhat,
# bench/results/cpu-ghat-rows-2026-12-07.md, MHAT ms): (8,128,128,28) 15.0 -> 11.9, (8,256,256,14) 23.2-24.3 -> 19.2-19.5,
# (4,512,512,7) 12.4 -> 11.2, (4,1024,512,7) 33.1-33.4 -> 23.1-23.4, 1-D (8,512,512,256) 86.5-88.3 -> 72.8-73.4; rows of 256
# bytes (64 channels) ran as fast unpadded. The rest of the conv can run slower: at (4,512,256,7) MHAT gained 1.4-1.9 ms, the conv 0-0.7.
CPU_ROW_PAD = 8
def _cpu_row_pad(size:int|UOp, dt:DType) -> int: return CPU_ROW_PAD if isinstance(size, int) and size * dt.itemsize % CPU_ROW_BYTES == 0 else 0

def _cpu_tiles(rows:int|UOp, last:int, dt:DType) -> int:
  """The last dim's tile count for X's rows on a CPU: `last`, or past it by 4s to break a row of a multiple of CPU_ROW_BYTES."""
  if not isinstance(rows, int): return last
  return next((t for t in range(last, int(last * 1.15) + 1, 4) if rows * t * dt.itemsize % CPU_ROW_BYTES), last)

def transform_dtype(dt:DType) -> DType: return dt if dt.itemsize >= 4 else dtypes.float32

def default_tile(conv:Conv) -> int:
  # the largest tile whose transform error stays well inside the dtype's own: F(6,3)'s float32 transforms cost ~1e-5 of max|out|,
  # invisible in a bfloat16 output (eps 4e-3), and in float64 they cost ~1e-14; float32 (F(6,3) would be 2x OLD's error) and half
  # (XHAT and GHAT stored in half: F(6,3) ~1.5e-2) keep F(4,3). Measured in bench/results/numerics-*.
  if conv.act.dtype in (dtypes.bfloat16, dtypes.float64): return 6
  # F(2,3)'s error is below direct conv's, F(4,3)'s 3-5x larger (fp32, bench/results/numerics-*), for 1.8x less work: a small conv
  # takes F(2,3) (cost.SMALL_CONV_MACS says where that work is not worth the error)
  return 2 if conv_work(conv, cook_toom(4)).direct_macs < SMALL_CONV_MACS else 4

def storage_dtype(conv:Conv, fdt:DType) -> DType:
  # XHAT and GHAT are computed in float32 and, for half inputs, stored in half (and MHAT, accumulated in float32): half the memory
  # traffic, and the half x half -> float matmul in MHAT gets tensor cores. The rounding costs accuracy (fp16 error ~4e-3 of
  # max|out| instead of ~5e-4); bfloat16's 8-bit mantissa would cost 8x that, so bfloat16 convs keep float32 buffers. So does a
  # device whose renderer emulates half (tinygrad's PYTHON device below Python 3.12, CUDA before sm_53): tinygrad's emulation
  # flushes subnormal halves to zero (codegen/decomp/dtype.py's f2f), and the power-of-two scales that keep the stored transforms
  # in half's range (_storage_scale) put MHAT's small values there, so half buffers gave wrong outputs on the PYTHON device
  # (tests/test_forward.py fails with them; without the scales that conv was as accurate as with the CPU's native half), with
  # nothing to gain from half traffic.
  return dtypes.half if conv.act.dtype == conv.other.dtype == dtypes.half and renders(conv.red.device, dtypes.half) else fdt

def _storage_scale(mat) -> Fraction:
  # a power of two at most 1 / max|mat @ v| for max|v| <= 1: a transform scaled by it and stored in half overflows only where its
  # input does; the output transform undoes it exactly
  return Fraction(1, 2 ** math.ceil(math.log2(max(sum(abs(c) for c in row) for row in mat))))

def _scaled_matrix(mat, c:Fraction): return tuple(tuple(x * c for x in row) for row in mat)

def _tile_at(t:UOp, tiles:int, j:int, m:int, extent:int|None) -> tuple[UOp, UOp|None]:
  # position t*m + j of a tiled axis, and its gate if the last tile reaches past the extent: the position is clamped there, so
  # no load goes out of bounds, and the gate zeroes the value. extent None: the source is 0 past it by its own gate
  pos = t * m + j
  if extent is None or (tiles - 1) * m + j < extent: return pos, None
  return (pos < extent).where(pos, UOp.const(extent - 1)), pos < extent

def _zero_past(conv:Conv, i:int, extent:int, end:int) -> bool:
  """Whether act reads 0 at every position from extent to end (exclusive) of tiled dim i: the input's padding gate covers the
  positions past the conv's, so its tiles need no clamp and gate of their own. Each clamped position is a select in the load's
  index and a gate on it, which tinygrad's codegen simplifies load by load (XHAT's 36 loads)."""
  past = UOp.range(end - extent, -1, AxisType.PLACEHOLDER) + extent
  a = simplify_loads(gated_substitute(conv.act, {conv.tiled[i]: past, conv.untiled[i]: UOp.const(0)}))
  return a.op is Ops.CONST and a.arg == 0

def _gated(val:UOp, gates:list[UOp|None]) -> UOp:
  return val if not (gs:=[g for g in gates if g is not None]) else UOp.const(True).uprod(gs).where(val, UOp.const(0.0, val.dtype))

def _sources(source_at:Callable[[tuple[int, ...]], tuple[UOp, list[UOp|None]]], size:int, n:int, dtype:DType) -> Callable[[tuple[int, ...]], UOp]:
  """kron's value_at for a transform's source: source_at(j) is the source at position j of the n-dim cube of `size` and the gates
  that zero it there. Every position's loads are simplified in one rewrite (simplify_each)."""
  js = list(itertools.product(range(size), repeat=n))
  srcs, gates = zip(*(source_at(j) for j in js))
  return dict(zip(js, (_gated(v.cast(dtype), g) for v, g in zip(simplify_each(list(srcs)), gates)))).__getitem__

def conv_work(conv:Conv, w:Winograd) -> Work:
  """The conv's sizes for the cost model, with the tiling and buffer dtypes _rewrite gives it."""
  both, x_only, o_only = (_prod(_largest(s) for s in sizes) for sizes in (conv.shared_sizes, [_extent(r) for r in conv.act_only], conv.own_sizes))
  tiles, chans = _prod(math.ceil(_size(r) / w.m) for r in conv.tiled), _prod(_largest(_extent(r)) for r in conv.chans)
  n, k, alpha = x_only * (1 if conv.weight_grad else tiles), chans * (tiles if conv.weight_grad else 1), w.alpha ** len(conv.outs)
  out = both * x_only * o_only * _prod(_size(o) for o in conv.outs)
  half = storage_dtype(conv, transform_dtype(conv.red.dtype)) == dtypes.half
  reduce_len = _prod(_size(k) for k in conv.taps) * chans
  return Work(out * reduce_len, reduce_len, alpha * both * n * o_only * k, alpha * both * k * n, w.m ** len(conv.outs) * both * k * n,
              alpha * both * o_only * k, out, half, 0 if conv.weight_grad else _size(conv.outs[-1]))

def _padding_only_outputs(conv:Conv) -> UOp|None:
  """For a padding of 3 or more, the outputs whose whole window lies in the zero padding are exactly 0 in direct conv; winograd
  would give them the rounding noise of their tile. The condition that an output is not one of them, or None if none is."""
  act = conv.act
  while act.op is Ops.CAST: act = act.src[0]
  if act.op is not Ops.WHERE or act.src[2].op is not Ops.CONST or act.src[2].arg != 0: return None
  clauses, keep = list(act.src[0].split_uop(Ops.AND)), []
  for o, k in zip(conv.outs, conv.taps):
    # the padding clauses of this dim: they depend on o and k and on nothing else
    mine = [c for c in clauses if set(c.ranges) <= {o, k} and o in c.ranges]
    def window_padded(p:int) -> bool:
      valid = [UOp.const(True).uprod([gated_substitute(c, {o: UOp.const(p), k: UOp.const(q)}) for c in mine]).simplify() for q in range(3)]
      return all(v.op is Ops.CONST and v.arg is False for v in valid)
    lo, hi = 0, _size(o)
    while lo < hi and window_padded(lo): lo += 1
    while hi > lo and window_padded(hi - 1): hi -= 1
    if lo > 0: keep.append(o >= lo)
    if hi < _size(o): keep.append(o < hi)
  return UOp.const(True).uprod(keep) if keep else None

def _phase_probe(red:UOp, *bufs:UOp) -> UOp:
  # a truncated conv still computes its buffers in full (each is a kernel of its own); the consumer reads one element of each
  return sum((b.index(*[UOp.const(0)] * (len(b.src) - 1)) for b in bufs[1:]), bufs[0].index(*[UOp.const(0)] * (len(bufs[0].src) - 1))).cast(red.dtype)

def winograd_conv(ctx:WinoContext, red:UOp) -> UOp|None:
  if red in ctx.skipped or red in ctx.mhats: return None
  if not isinstance(conv:=classify(red), Conv):
    if conv is not None: ctx.skip(red, conv)
    return None
  pays, estimate = decide(conv_work(conv, ctx.winograd(conv)), red.device)
  if ctx.cost and not pays:
    ctx.skip(red, estimate)
    return None
  try:
    out, what = ctx.rewrite(ctx, conv)
    # the rewritten value may read only the ranges the conv's value did: any other is a graph that must not be handed on
    if out.dtype != red.dtype or (leak:=set(out.ranges) - set(red.ranges)): raise RuntimeError(f"the rewrite leaks ranges {leak}")
  except Exception as e:
    if ctx.strict: raise
    warnings.warn(f"tinygrad_wino: the winograd rewrite of a conv failed ({type(e).__name__}: {e}); it runs as a direct conv. "
                  "WINO_STRICT=1 raises instead.", RuntimeWarning)
    ctx.skip(red, f"the rewrite failed: {type(e).__name__}: {e}")
    return None
  ctx.outputs.add(out)
  ctx.rewritten.append(f"{what}; {estimate}{'' if ctx.cost or pays else ' (WINO_COST=1 would keep direct conv)'}")
  if DEBUG >= 2: print(f"winograd: rewrote {ctx.rewritten[-1]}")
  return out

def _rewrite(ctx:WinoContext, conv:Conv) -> tuple[UOp, str]:
  red = conv.red
  w, n, fdt, wg = ctx.winograd(conv), len(conv.outs), transform_dtype(red.dtype), conv.weight_grad
  sizes = [_size(r) for r in conv.tiled]
  tiles = [math.ceil(s / w.m) for s in sizes]
  # on a GPU tinygrad's heuristic makes the last axes (by range id) of an elementwise kernel local, up to 128 threads, and gives
  # threadIdx.x to the first of them. XHAT's stores coalesce when that is the innermost tile axis, which needs a local size that
  # divides its tile count: a row of 7 tiles gets none, and the threads then ran along channels and batch (2x slower XHAT at
  # (32,128,128,28)). So pad the tile count to a multiple of 8 where that adds at most 15% (the extra tiles are zeros that no
  # output reads) and order the ranges batch, tiles, channels. The CPU has no threads to coalesce: there this order is slower. A
  # weight gradient tiles the same positions of the same input, so its XHAT is the forward conv's (ctx.shared; its padded tiles
  # are zeros in the reduce).
  on_gpu = device_class(red.device) is GPU
  if threads_on_tiles:=(on_gpu and (t:=-(-tiles[-1] // 8) * 8) <= tiles[-1] * 1.15): tiles[-1] = t
  opts, sdt = BufferizeOpts(device=red.device, removable=False), storage_dtype(conv, fdt)
  # on a CPU MHAT reads X's rows (one an input channel) at a stride of batch x tiles: rows of a multiple of CPU_ROW_BYTES fall in a
  # few of the cache's sets, so the last dim's tile count grows by 4s (XHAT's 4 tiles an iteration still divide it; the extra
  # tiles are zeros that no output reads) where 15% more tiles break that. A weight gradient pads alike (ctx.shared, as above).
  # 1-D convs on a 2-core Zen 3 EPYC, without and with it in turn (bench/cpu_opts.py --kernel mhat, bench/results/cpu-x-rows-2026-12-07.md,
  # MHAT ms): (8,64,64,4096) 23.7 -> 13.0-13.3, (8,128,128,2048) 49.7 -> 22.6-22.9, (8,256,256,1024) 104.7-104.8 -> 55.3-55.9,
  # (8,512,512,256) 72.9-74.3 -> 66.8-69.6. A 2-D conv's rows (batch x tiles x tiles) can keep their power of two: 8 x 4 x (4 + 4j)
  # tiles at 14x14 stay a multiple of 512 bytes.
  x_rows = _prod(_extent(r) for r in (conv.chans if wg else conv.act_only)) * _prod(tiles[:-1])
  if x_padded:=(not on_gpu and (t:=_cpu_tiles(x_rows, tiles[-1], sdt)) != tiles[-1]): tiles[-1] = t
  # a forward conv: Bt, G and At; a weight gradient, by transposition: Bt, At^T and G^T. Stored in half, the two input transforms
  # are scaled by powers of two (exact) and the output transform scales back
  bt, other_mat, out_mat = w.Bt, (tuple(zip(*w.At)) if wg else w.G), (tuple(zip(*w.G)) if wg else w.At)
  if sdt != fdt:
    sx, so = _storage_scale(bt), _storage_scale(other_mat)
    bt, other_mat, out_mat = _scaled_matrix(bt, sx), _scaled_matrix(other_mat, so), _scaled_matrix(out_mat, 1 / (sx * so))
  # MHAT is a batched matmul: batch = the alpha^n positions and the ranges both factors use (groups), M = the other factor's own
  # ranges (output channels), N = act's own ranges (batch) and, for a forward conv, the tiles, K = the reduce ranges (input
  # channels; batch for a weight gradient) and, for a weight gradient, the tiles. In MHAT each of M, N, K is one range over the
  # product of its parts, one big dimension for tinygrad's tensor-core choice, and its layout is (alpha, groups, N, M) (a CPU's
  # forward conv: (groups, N, alpha, M), below): the consumer's threads run along the output channels. A weight gradient's
  # consumer stores (output channels, input channels, taps), so there MHAT is (alpha, groups, M, N) and the output transform
  # reads it along the stored order: as (N, M) the CPU read it at a stride of M, and the transform of the (4,256,256,4) gradient
  # took 4.3 ms where it now takes 0.9 (bench/results/cpu-grads-2026-11-25.md).
  x_only, o_sizes = conv.act_only, conv.own_sizes
  n_parts = [_extent(r) for r in x_only] + ([] if wg else tiles)
  k_parts = [_extent(r) for r in conv.chans] + (tiles if wg else [])

  # XHAT: act at the positions p + q = t*m + j of each tile (alpha wide, stride m; p + q < size + 2), through Bt. Its layout is
  # (alpha, groups, K, N) for a forward conv and (alpha, groups, N, K) for a weight gradient: the tiles innermost. The tiled role
  # keeps one range per part (batch: act's own for a forward conv, the reduced one for a weight gradient), the other role one flat
  # range (input channels); their ids order the kernel's axes (threads_on_tiles above)
  xa, xb = ctx.ranges([w.alpha]*n), ctx.ranges(conv.shared_sizes)
  r_sizes, f_sizes = [_extent(r) for r in (conv.chans if wg else x_only)], (n_parts if wg else k_parts)
  if threads_on_tiles:
    r_ranges, t_ranges = ctx.ranges(r_sizes), ctx.ranges(tiles)
    xf, f_parts = ctx.flat(f_sizes)
  else:
    xf, f_parts = ctx.flat(f_sizes)
    t_ranges, r_ranges = ctx.ranges(tiles[::-1])[::-1], ctx.ranges(r_sizes[::-1])[::-1]
  xc, xo = (r_ranges, f_parts) if wg else (f_parts, r_ranges)
  # the last tile of a dim reads positions up to its end; past the conv's input positions (size + 2) they must read 0
  ends = [(nt - 1) * w.m + w.alpha for nt in tiles]
  extents = [None if e > s + 2 and _zero_past(conv, i, s + 2, e) else s + 2 for i, (s, e) in enumerate(zip(sizes, ends))]
  def act_at(j:tuple[int, ...]) -> tuple[UOp, list[UOp|None]]:
    pos = [_tile_at(t, nt, ji, w.m, e) for t, nt, ji, e in zip(t_ranges, tiles, j, extents)]
    subs = dict(zip(conv.tiled, [p for p, _ in pos])) | {r: UOp.const(0) for r in conv.untiled}
    subs |= dict(zip(conv.chans, xc)) | conv.shared_at(xb) | dict(zip(x_only, xo))
    return gated_substitute(conv.act, subs), [g for _, g in pos]
  # On a CPU the tiles along the last dim are upcast (opts.cpu_xhat_opts), so the first dim is contracted first: each column's
  # partial sums are made once for the tiles that share that column (adjacent tiles overlap by alpha - m), and a loop over the
  # first alpha dim (the rule for 2 and 4 tiles an iteration) doesn't recompute the last dim's sums in each iteration
  # (bench/results/cpu-xhat-order-2026-12-07.md). A GPU computes one tile a thread and keeps kron's order.
  xhat = kron(_sources(act_at, w.alpha, n, fdt), (bt,)*n, xa, fdt, first_mode_first=not on_gpu)
  xhat = ctx.shared(xhat.cast(sdt).bufferize(*(closed:=(*xa, *xb, xf, *r_ranges, *t_ranges)), arg=opts), closed)
  if ctx.phase == 1: return _phase_probe(red, xhat), "phase 1 probe"

  # the other factor: a forward conv's 3 kernel taps through G, or a weight gradient's tiles (m wide) of the upstream gradient
  # through At^T (the transposed algorithm: sum_i d[i+k] h[i] = (G^T ((At^T h) * (Bt d)))[k])
  # On a CPU a forward conv stores GHAT as (alpha, groups, K, M) and MHAT as (groups, N, alpha, M): MHAT's register blocks
  # (opts.mhat_opts) then load G's output channels as vectors, not at a stride of K, and the output transform reads a tile's
  # alpha^n values of a channel from one run of memory instead of alpha^n planes N*M apart, each a stream of its own (on a 2-core
  # AMD EPYC, bench/results/cpu-2026-11-25.md and its previous version: the output kernel at (8,64,64,56) 10.7 -> 7.4 ms, at
  # (8,128,128,28) 5.2 -> 2.3; MHAT at (8,256,256,14) 14.7 -> 13.0, with k unrolled by 4 instead of 8). GHAT's range over K is made
  # first, so its loop stays outside M's and its stores run along M. The GPU keeps the layouts its kernel opts were searched with.
  cpu_layout = not wg and not on_gpu
  oa, ob = ctx.ranges([w.alpha]*n), ctx.ranges(conv.shared_sizes)
  g_pad = 0
  if cpu_layout:
    # MHAT reads G's rows (one a k) at a stride of GHAT's row. Output channels are mostly a power of two, and rows 2^k bytes apart
    # all fall in a few of the cache's sets: each row is padded by CPU_ROW_PAD columns there (they hold the last channel's
    # transform again and nothing reads them)
    (ok, kp), om = ctx.flat(k_parts), ctx.ranges([m + g_pad if (g_pad:=_cpu_row_pad(m:=_prod(o_sizes), sdt)) else m])[0]
    op_ = _unflat((om < m).where(om, UOp.const(m - 1, om.dtype)) if g_pad else om, o_sizes)
  else: (om, op_), (ok, kp) = ctx.flat(o_sizes), ctx.flat(k_parts)
  oc, ot = kp[:len(conv.chans)], kp[len(conv.chans):]
  def other_at(j:tuple[int, ...]) -> tuple[UOp, list[UOp|None]]:
    pos = [_tile_at(t, nt, ji, w.m, s) for t, nt, ji, s in zip(ot, tiles, j, sizes)] if wg else [(UOp.const(ji), None) for ji in j]
    subs = dict(zip(conv.taps, [p for p, _ in pos])) | dict(zip(conv.chans, oc)) | conv.shared_at(ob, op_)
    return gated_substitute(conv.other, subs), [g for _, g in pos]
  # a weight gradient's transform of the upstream gradient is an input transform too (tiles, opts.cpu_xhat_opts): XHAT's order
  ohat = kron(_sources(other_at, len(other_mat[0]), n, fdt), (other_mat,)*n, oa, fdt, first_mode_first=wg and not on_gpu)
  ohat = ohat.cast(sdt).bufferize(*oa, *ob, *((ok, om) if cpu_layout else (om, ok)), arg=opts)
  if ctx.phase == 2: return _phase_probe(red, xhat, ohat), "phase 2 probe"

  # MHAT: the Hadamard product reduced over K
  ma, mb = ctx.ranges([w.alpha]*n), ctx.ranges(conv.shared_sizes)
  mn, mm = ctx.ranges([_prod(n_parts), _prod(o_sizes)])
  mk = ctx.ranges([_prod(k_parts)], AxisType.REDUCE)[0]
  x_cols, o_cols = (mn, *_unflat(mk, k_parts)) if wg else (mk, *_unflat(mn, n_parts)), (mk, mm) if cpu_layout else (mm, mk)
  prod = (xhat.index(*ma, *mb, *x_cols) * ohat.index(*ma, *mb, *o_cols)).cast(fdt)
  # accumulated in float32, stored in XHAT's dtype: for half convs the output transform's reads of MHAT are its main traffic (on
  # the H100 fp16 convs ran 8-11% faster, at 4.3e-3 of max|out| error instead of 2.9e-3; OLD's is 1.1e-2)
  if mk.op is Ops.RANGE: ctx.mhats.add(prod:=prod.reduce(mk, arg=Ops.ADD, dtype=fdt))
  mhat = prod.cast(sdt)
  mhat = mhat.bufferize(*((*mb, mn, *ma, mm) if cpu_layout else (*ma, *mb, *((mm, mn) if wg else (mn, mm)))), arg=opts)
  if ctx.phase == 3: return _phase_probe(red, mhat), "phase 3 probe"

  def out_at(rows:tuple[UOp, ...], b:tuple[UOp, ...], x:tuple[UOp, ...], o:tuple[UOp, ...], t:list[UOp]) -> UOp:
    n_flat, o_flat = _flat_index([*x, *t], n_parts), _flat_index(list(o), o_sizes)
    cols = (o_flat, n_flat) if wg else (n_flat, o_flat)  # MHAT's last two indices, in its layout's order
    def mhat_at(a:tuple[int, ...]) -> UOp:
      pos = [UOp.const(v) for v in a]
      return mhat.index(*((*b, cols[0], *pos, cols[1]) if cpu_layout else (*pos, *b, *cols))).cast(fdt)
    return kron(mhat_at, (out_mat,)*n, rows, fdt)
  # the output: At at row p % m of tile p // m (G^T at row p for a weight gradient). tinygrad splits a range p into (p // m, p % m),
  # which makes the rows constants, only where m divides p's size; elsewhere each output selects its coefficients and reads all
  # alpha^n MHAT values itself: on a CPU ~20 ns an output (10.9 ms at (8,256,256,14)). Where the output is a 1-D or 2-D conv's
  # stored by an elementwise kernel (its buffer, or a consumer such as a bias, relu or batchnorm), opts.py pads
  # that kernel's spatial dims to whole tiles (output_transform_opts on a GPU, F(4,3)'s; cpu_output_opts on a CPU, every tile size's:
  # 1.1 ms there, bench/results/cpu-output-innermost-2026-12-07.md; WINO_OPTS=0 and BEAM leave it to tinygrad). Elsewhere on a CPU (a
  # 3-D conv, or an output fused into a reduce such as a global pool's mean, whose kernel gets no opts) a kernel of its own computes
  # whole tiles into a buffer the consumer reads, where the cost model says that pays. On the H100 that buffer cost more than it saved
  # (at 14x14: 38 -> 55-67 us). A size of at most 7 is spared: tinygrad's heuristic upcasts such an axis whole
  # (codegen/opt/heuristic.py), which makes the rows constants too (at 7x7, 0.25 ms fused, 0.62 ms as whole tiles).
  padded_by_opts = n in OUTPUT_NDIMS and not any(p.arg[-1] is AxisType.REDUCE for p in conv.outs)
  if not wg and not padded_by_opts and any(s % w.m and s > 7 for s in sizes) and tiled_output_pays(conv_work(conv, w).out, red.device):
    tb, tx, to = ctx.ranges(conv.shared_sizes), ctx.copies(x_only), ctx.ranges(o_sizes)
    tt = ctx.ranges([t for pair in zip([math.ceil(s / w.m) for s in sizes], [w.m]*n) for t in pair])
    whole = out_at(tt[1::2], tb, tx, to, list(tt[0::2])).bufferize(*tb, *tx, *to, *tt, arg=opts)
    out = whole.index(*conv.consumer_shared, *x_only, *conv.consumer_own, *[q for p in conv.outs for q in (p // w.m, p % w.m)])
    whole_tiles = True
  else:
    rows, tile_of = (conv.outs, []) if wg else (tuple(p % w.m for p in conv.outs), [p // w.m for p in conv.outs])
    out, whole_tiles = out_at(rows, tuple(conv.consumer_shared), x_only, tuple(conv.consumer_own), tile_of), False
  if not wg and (inside:=_padding_only_outputs(conv)) is not None: out = inside.where(out, UOp.const(0.0, fdt))
  out = out.cast(red.dtype)
  kind = f"weight gradient, positions {sizes}, F({w.r},{w.m})ᵀ" if wg else f"conv, spatial {sizes}, F({w.m},{w.r})"
  if threads_on_tiles: kind += f", threads along {tiles} tiles"
  if x_padded: kind += f", X rows padded to {tiles} tiles"
  if g_pad: kind += f", GHAT rows padded to {m + g_pad}"
  if (split:=[d for d in conv.group_channels if d > 1]): kind += f", output channels in groups of {split}"
  if whole_tiles: kind += ", output transform over whole tiles"
  return out, f"{n}-D {kind}, {len(conv.chans)} reduced axes"

def keep_conv_buffer(ctx:WinoContext, b:UOp) -> UOp|None:
  # tinygrad keeps a buffer whose value reduces over another buffer (pm_remove_bufferize), which kept the conv's output buffered.
  # The winograd output has no REDUCE left, so keep that buffer explicitly: inlined into a consumer that reads it at many
  # positions (the next conv, a backward conv), the output transform would be recomputed at each of them.
  if not b.arg.removable or b.arg.addrspace is not AddrSpace.GLOBAL or not ctx.outputs: return None
  if ctx.outputs.isdisjoint(_kernel_toposort(b.src[0])): return None
  return b.replace(arg=replace(b.arg, removable=False))

pm_winograd = PatternMatcher([(UPat(Ops.REDUCE, name="red"), winograd_conv), (UPat(Ops.STAGE, name="b"), keep_conv_buffer)])

def new_context(sink:UOp, m:int, cost:bool=False, phase:int=4, strict:bool=False) -> WinoContext:
  next_id = max((u.arg[0] for u in sink.toposort() if u.op is Ops.RANGE), default=-1) + 1
  return WinoContext(m, cost, itertools.count(next_id), _rewrite, phase, strict)
