# The backward of a NEW conv, written so that its two convs reach the rangeify rule in a form it rewrites.
# tinygrad differentiates conv2d through _pool, which turns the input gradient into an overlap-accumulation of two reduces that
# no longer reads as a conv. So NEW's conv2d is a CALL whose gradient function states the math directly:
#   dx = the correlation of the (re-padded) upstream gradient with the flipped kernel, channels swapped per group: a 3x3
#        stride-1 conv, rewritten like the forward one;
#   dw = sum over batch and positions of grad[p] * x[p + k]: a correlation with 3 outputs per dim, rewritten by the transposed
#        algorithm. It is written with the upstream gradient as the first factor, the order the rule takes as "weight gradient".
from __future__ import annotations
import functools, math
from typing import Callable
from tinygrad_wino.tg import Context, Tensor, UOp, unclone

def grouped_pads(padding, nd:int) -> list[tuple[int, int]]:
  """tinygrad's conv padding (an int, one per spatial dim, or flat (left, right, top, bottom, ...)) as (before, after) per dim."""
  if isinstance(padding, int): return [(padding, padding)] * nd
  if len(padding) == nd: return [(p, p) for p in padding]
  if len(padding) != 2 * nd: raise ValueError(f"padding must be an int or a sequence of {nd} or {2*nd} ints, got {padding}")
  return [(padding[2*i], padding[2*i+1]) for i in range(nd)][::-1]

def _uniform(u:UOp) -> bool:
  """u is one value everywhere: a deviceless scalar, broadcast (a device buffer or a deviceless arange is not)."""
  return u.device is None and math.prod(u.base.shape) == 1

def _flat(pads:list[tuple[int, int]]) -> list[int]: return [p for pair in pads[::-1] for p in pair]

def conv_grads(conv2d:Callable, grad_out:UOp, call:UOp, groups:int, padding, dtype) -> tuple[UOp|None, ...]:
  x, w, g = Tensor(call.src[1]), Tensor(call.src[2]), Tensor(unclone(grad_out))
  nd, (cout, cin), ks = w.ndim - 2, w.shape[:2], w.shape[2:]
  g = g.reshape(g.shape[0], cout, *g.shape[3:])  # the CALL's (batch, groups, cout / groups, *spatial)
  pads, spatial = grouped_pads(padding, nd), tuple(range(2, 2 + nd))
  # dx[i] = sum_k g[i + before - 2 + k] * w[2 - k]
  wt = w.reshape(groups, cout // groups, cin, *ks).transpose(1, 2).reshape(groups * cin, cout // groups, *ks).flip(spatial)
  # tinygrad's conv2d, built as a direct conv for the rule to rewrite: under NEW tinygrad's own WINO flag is set too (it selects
  # NEW), and the gradient is built whenever the user asks for it, so without the Context it would take OLD's tensor-level winograd
  with Context(WINO=0): dx = conv2d(g, wt, None, groups, 1, 1, _flat([(k - 1 - b, k - 1 - a) for k, (b, a) in zip(ks, pads)]), dtype)
  # dw[k] = sum_{batch, p} g[p] * x_padded[p + k]: windows of the output's size at each of the 3 taps
  xw = x.pad(((0, 0), (0, 0), *pads))
  # unfold keeps the window count in place and appends the window: (bs, groups*cin, *ks, *out_sp)
  for i, o in enumerate(g.shape[2:]): xw = xw.unfold(2 + i, o, 1)
  bs, out_sp = x.shape[0], g.shape[2:]
  xw = xw.reshape(bs, groups, 1, cin, *ks, *out_sp)
  reduced = (0, *range(4 + nd, 4 + 2 * nd))
  if _uniform(g.uop):
    # a uniform upstream gradient c (that of a mean or sum loss on the conv's output): dw = c * the window sums of x, the same for
    # every output channel, so sum once instead of once per output channel
    c = g.shrink(tuple((0, 1) for _ in g.shape)).reshape(())
    dw = (xw.sum(reduced, dtype=dtype) * c).expand(groups, cout // groups, cin, *ks).reshape(cout, cin, *ks).cast(w.dtype)
  else:
    gw = g.reshape(bs, groups, cout // groups, 1, *[1] * nd, *out_sp)
    dw = (gw * xw).sum(reduced, dtype=dtype).reshape(cout, cin, *ks).cast(w.dtype)
  db = g.sum((0, *spatial), dtype=dtype).cast(g.dtype) if len(call.src) > 3 else None
  return (dx.uop, dw.uop) + ((db.uop,) if db is not None else ())

def conv2d_with_winograd_backward(conv2d:Callable, x:Tensor, weight:Tensor, bias:Tensor|None, groups:int, padding, dtype) -> Tensor:
  """conv2d(x, weight, bias) for a 3x3 stride-1 conv, as a CALL whose gradient is conv_grads."""
  args = (x, weight) + ((bias,) if bias is not None else ())
  params = [t.as_param(i) for i, t in enumerate(args)]
  body = conv2d(params[0], params[1], params[2] if bias is not None else None, groups, 1, 1, padding, dtype)
  # the CALL returns the output as (batch, groups, cout / groups, *spatial), the shape tinygrad's conv computes it in: returned as
  # (batch, cout, ...) the CALL's buffer gave a grouped conv one range over the output channels, read as c // (cout / groups) by the
  # input, and tinygrad's direct conv of that graph ran 2.2x slower at (8,128,128,56) with 32 groups
  grouped = (body.shape[0], groups, body.shape[1] // groups, *body.shape[2:])
  ret = args[0].call(*args[1:], fxn=body.reshape(grouped),
                     grad_fxn=_grad_fxn(conv2d, groups, padding if isinstance(padding, int) else tuple(padding), dtype))
  return ret.reshape(body.shape)

@functools.cache
def _grad_fxn(conv2d:Callable, groups:int, padding, dtype) -> Callable:
  # one gradient function per conv signature: the CALL's key (and so tinygrad's schedule cache key) holds the function's id, so
  # a function made afresh each call missed the cache, rescheduled every call and grew the cache by an entry a call
  return functools.partial(conv_grads, conv2d, groups=groups, padding=padding, dtype=dtype)
