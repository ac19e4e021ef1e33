# The NEW path: winograd as a rewrite of the rangeified UOp graph.
# After run_rangeify a conv is REDUCE(ADD, MUL(act, wgt), cin.., ky, kx) where act depends on each output range o and its
# kernel range k only through ADD(o, k), and wgt does not depend on o. We rewrite that REDUCE into
#   XHAT = kron(act tiles, Bt)  bufferized over (alpha.., cin.., act's other ranges, tiles..)
#   GHAT = kron(wgt taps, G)    bufferized over (alpha.., cin.., wgt's other ranges)
#   MHAT = sum_cin XHAT * GHAT  bufferized over (alpha.., other ranges, tiles..)
#   out  = kron(MHAT, At)       read by the REDUCE's consumer at rows o % m of tile o // m
from __future__ import annotations
import itertools, math
from dataclasses import dataclass, field, replace
from tinygrad_wino.kron import kron
from tinygrad_wino.matrices import Winograd, cook_toom
from tinygrad_wino.tg import UOp, UPat, Ops, PatternMatcher, AxisType, BufferizeOpts, DType, dtypes, DEBUG, gated_substitute

@dataclass(frozen=True)
class Conv:
  """A REDUCE that is a stride-1, dilation-1 correlation with 3 taps along len(outs) spatial dims."""
  red: UOp
  act: UOp                     # depends on (outs[i], taps[i]) only through outs[i] + taps[i]
  wgt: UOp                     # independent of the spatial output ranges
  outs: tuple[UOp, ...]        # spatial output ranges
  taps: tuple[UOp, ...]        # kernel reduce ranges, size 3
  chans: tuple[UOp, ...]       # the other reduce ranges (input channels), reduced in MHAT
  act_others: tuple[UOp, ...]  # act's other ranges (batch, group)
  wgt_others: tuple[UOp, ...]  # wgt's other ranges (output channel, group)
  @property
  def others(self) -> tuple[UOp, ...]: return tuple(dict.fromkeys(self.act_others + self.wgt_others))

def _is_out_range(u:UOp) -> bool: return u.op is Ops.RANGE and u.arg[-1] is not AxisType.REDUCE

def _tap_sums(act:UOp, reduce_rngs:tuple[UOp, ...]) -> dict[UOp, tuple[UOp, UOp]]:
  # every ADD(out range, reduce range) in act, keyed by the ADD node
  ret: dict[UOp, tuple[UOp, UOp]] = {}
  for u in act.toposort(gate=lambda u: any(r in u.ranges for r in reduce_rngs)):
    if u.op is Ops.ADD:
      for o, k in (u.src, u.src[::-1]):
        if k in reduce_rngs and _is_out_range(o): ret[u] = (o, k)
  return ret

def _scaled(u:UOp, pred) -> bool: return pred(u) or (u.op is Ops.MUL and any(map(pred, u.src)) and any(s.op is Ops.CONST for s in u.src))

def _strided_tap(act:UOp, k:UOp) -> bool:
  # o*s + k (stride s) or o + k*d (dilation d): a kernel axis this rule leaves alone
  return any(u.op is Ops.ADD and any(_scaled(a, lambda r: r is k) and _scaled(b, _is_out_range) for a, b in (u.src, u.src[::-1]))
             for u in act.toposort(gate=lambda u: k in u.ranges))

def _match_factors(red:UOp, act:UOp, wgt:UOp, reduce_rngs:tuple[UOp, ...]) -> Conv|None:
  sums = _tap_sums(act, reduce_rngs)
  pairs = list(dict.fromkeys(sums.values()))
  outs, taps = tuple(o for o, _ in pairs), tuple(k for _, k in pairs)
  if not pairs or len(set(outs)) != len(outs) or len(set(taps)) != len(taps) or len(pairs) > 3: return None
  # every kernel-like axis must be a plain stride-1 tap of size 3
  if any(k.src[0].op is not Ops.CONST or k.src[0].arg != 3 for k in taps): return None
  if any(o.src[0].op is not Ops.CONST for o in outs): return None
  chans = tuple(r for r in reduce_rngs if r not in taps)
  if any(_strided_tap(act, k) for k in chans): return None
  # act may see outs and taps only through their sums, wgt may not see outs at all
  marked = gated_substitute(act, {s: UOp.const(0) for s in sums})
  if any(r in marked.ranges for r in outs + taps) or any(o in wgt.ranges for o in outs): return None
  spatial = set(outs + taps + chans)
  act_others = tuple(r for r in act.ranges if r not in spatial)
  wgt_others = tuple(r for r in wgt.ranges if r not in spatial)
  if any(not _is_out_range(r) for r in act_others + wgt_others): return None
  return Conv(red, act, wgt, outs, taps, chans, act_others, wgt_others)

def match_conv(red:UOp) -> Conv|None:
  """The conv that `red` computes, or None if it is anything else (strided, dilated, other kernel sizes, integers, matmuls, pools)."""
  if red.arg[0] is not Ops.ADD or not dtypes.is_float(red.dtype): return None
  body = red.src[0].src[0] if red.src[0].op is Ops.CAST else red.src[0]
  if body.op is not Ops.MUL or not all(dtypes.is_float(s.dtype) for s in body.src): return None
  reduce_rngs = tuple(r for r in red.src[1:] if r.op is Ops.RANGE)
  for act, wgt in (body.src, body.src[::-1]):
    if (conv:=_match_factors(red, act, wgt, reduce_rngs)) is not None: return conv
  return None

@dataclass
class WinoContext:
  wino: Winograd
  range_ids: itertools.count
  rewritten: list[str] = field(default_factory=list)
  outputs: set[UOp] = field(default_factory=set)
  def ranges(self, sizes, axis_type=AxisType.WEAK) -> tuple[UOp, ...]:
    return tuple(UOp.range(s, next(self.range_ids), axis_type) for s in sizes)
  def copies(self, rngs:tuple[UOp, ...], axis_type=AxisType.WEAK) -> tuple[UOp, ...]: return self.ranges([r.src[0] for r in rngs], axis_type)

def transform_dtype(dt:DType) -> DType: return dt if dt.itemsize >= 4 else dtypes.float32

def winograd_conv(ctx:WinoContext, red:UOp) -> UOp|None:
  if (conv:=match_conv(red)) is None: return None
  w, n, fdt, device = ctx.wino, len(conv.outs), transform_dtype(red.dtype), red.device
  sizes = [o.src[0].arg for o in conv.outs]
  tiles = [math.ceil(s / w.m) for s in sizes]
  opts = BufferizeOpts(device=device, removable=False)

  # XHAT: input tiles (alpha wide, stride m) through Bt. Tile positions past the last valid input (o + k <= size + 1) read the
  # clamped last position, so no load goes out of bounds, and the gate zeroes them.
  xa, xt, xc, xo = ctx.ranges([w.alpha]*n), ctx.ranges(tiles), ctx.copies(conv.chans), ctx.copies(conv.act_others)
  def input_at(j:tuple[int, ...]) -> UOp:
    pos = [t * w.m + ji for t, ji in zip(xt, j)]
    past = [(t - 1) * w.m + ji >= s + 2 for t, ji, s in zip(tiles, j, sizes)]
    gates = [p < s + 2 for p, s, over in zip(pos, sizes, past) if over]
    subs = {o: (p < s + 2).where(p, UOp.const(s + 1)) if over else p for o, p, s, over in zip(conv.outs, pos, sizes, past)}
    subs |= {k: UOp.const(0) for k in conv.taps} | dict(zip(conv.chans, xc)) | dict(zip(conv.act_others, xo))
    val = gated_substitute(conv.act, subs).cast(fdt)
    return val if not gates else UOp.const(True).uprod(gates).where(val, UOp.const(0.0, fdt))
  xhat = kron(input_at, (w.Bt,)*n, xa, fdt).bufferize(*xa, *xc, *xo, *xt, arg=opts)

  # GHAT: kernel taps through G
  ga, gc, go = ctx.ranges([w.alpha]*n), ctx.copies(conv.chans), ctx.copies(conv.wgt_others)
  def tap_at(j:tuple[int, ...]) -> UOp:
    subs = {k: UOp.const(ji) for k, ji in zip(conv.taps, j)} | dict(zip(conv.chans, gc)) | dict(zip(conv.wgt_others, go))
    return gated_substitute(conv.wgt, subs).cast(fdt)
  ghat = kron(tap_at, (w.G,)*n, ga, fdt).bufferize(*ga, *gc, *go, arg=opts)

  # MHAT: the Hadamard product reduced over the input channels, a batched matmul over the alpha^n positions
  ma, mt, mc, mo = ctx.ranges([w.alpha]*n), ctx.ranges(tiles), ctx.copies(conv.chans, AxisType.REDUCE), ctx.copies(conv.others)
  at = dict(zip(conv.others, mo))
  prod = xhat.index(*ma, *mc, *[at[r] for r in conv.act_others], *mt) * ghat.index(*ma, *mc, *[at[r] for r in conv.wgt_others])
  mhat = (prod.reduce(*mc, arg=Ops.ADD, dtype=fdt) if mc else prod).bufferize(*ma, *mo, *mt, arg=opts)

  # output: At folded into the consumer, which reads row o % m of tile o // m
  def mhat_at(a:tuple[int, ...]) -> UOp: return mhat.index(*[UOp.const(x) for x in a], *conv.others, *[o // w.m for o in conv.outs])
  out = kron(mhat_at, (w.At,)*n, tuple(o % w.m for o in conv.outs), fdt).cast(red.dtype)
  ctx.outputs.add(out)
  ctx.rewritten.append(f"{n}-D conv, spatial {sizes}, F({w.m},{w.r}), {len(conv.chans)} channel axes")
  if DEBUG >= 2: print(f"winograd: rewrote {ctx.rewritten[-1]}")
  return out

def keep_conv_buffer(ctx:WinoContext, b:UOp) -> UOp|None:
  # tinygrad keeps a buffer whose value reduces over another buffer (pm_remove_bufferize), which kept the conv's output buffered.
  # The winograd output has no REDUCE left, so keep that buffer explicitly: inlined into a consumer that reads it at many
  # positions (the next conv, a backward conv), the output transform would be recomputed at each of them.
  if not b.arg.removable or not ctx.outputs or ctx.outputs.isdisjoint(b.src[0].toposort(gate=lambda u: u.op is not Ops.STAGE)): return None
  return b.replace(arg=replace(b.arg, removable=False))

pm_winograd = PatternMatcher([(UPat(Ops.REDUCE, name="red"), winograd_conv), (UPat(Ops.STAGE, name="b"), keep_conv_buffer)])

def new_context(sink:UOp, m:int) -> WinoContext:
  next_id = max((u.arg[0] for u in sink.toposort() if u.op is Ops.RANGE), default=-1) + 1
  return WinoContext(cook_toom(m), itertools.count(next_id))
