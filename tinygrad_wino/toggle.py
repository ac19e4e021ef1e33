# The mode switch: NEW (WINO=1, this plugin's rangeify rewrite), OLD (WINO_OLD=1, tinygrad's tensor-level winograd) or off.
# tinygrad's own WINO flag selects NEW while the plugin is installed; the mode is read when a graph is scheduled.
from __future__ import annotations
import contextlib, functools
from dataclasses import dataclass, field
from typing import Iterator, Literal
from tinygrad_wino.backward import conv2d_with_winograd_backward
from tinygrad_wino.flags import FLAGS, flag_error
from tinygrad_wino.opts import cpu_output_opts, cpu_xhat_opts, mhat_opts, mhat_tensor_core_opts, output_transform_opts, wg_mhat_opts, xhat_opts
from tinygrad_wino.rules import new_context, pm_winograd
from tinygrad_wino.tg import Tensor, UOp, Scheduler, Context, ContextVar, WINO, graph_rewrite, make_tuple
from tinygrad_wino.tg import install_conv2d_wrapper, install_kernel_opts, install_rangeify_pass, install_schedule_cache_key

Mode = Literal["new", "old"] | None
# WINO_TILE: m of F(m,3), 2, 4 or 6; 0 (the default) picks per conv by dtype (rules.default_tile)
WINO_OLD, WINO_TILE = ContextVar("WINO_OLD", 0), ContextVar("WINO_TILE", 0)
# the timing harness's phase knob: stop NEW after XHAT (1), GHAT (2) or MHAT (3); 4 is the complete conv
WINO_PHASE = ContextVar("WINO_PHASE", 4)
# a rewrite that fails leaves its conv direct with a warning; WINO_STRICT=1 raises instead
WINO_STRICT = ContextVar("WINO_STRICT", 0)
# WINO=1 rewrites every eligible conv, as tinygrad's own WINO=1 does (its tests count winograd's kernels and ops on 4-channel
# convs). WINO_COST=1 rewrites a conv only where the cost model (cost.py) expects winograd to be faster than direct conv.
WINO_COST = ContextVar("WINO_COST", 0)
# WINO_OPTS=0 leaves NEW's XHAT, MHAT and output-transform kernels to tinygrad's heuristic (opts.py). Compile workers read
# it from the environment
WINO_OPTS = ContextVar("WINO_OPTS", 1)

def _flag(var:ContextVar) -> int:
  if isinstance(var.value, int) and str(int(var.value)) in FLAGS[var.key]: return int(var.value)
  raise flag_error(var.key, var.value)

def mode() -> Mode:
  """The winograd mode in effect now."""
  new, old = _flag(WINO), _flag(WINO_OLD)
  if new and old: raise ValueError("WINO=1 (winograd as a rangeify rewrite) and WINO_OLD=1 (tinygrad's tensor-level winograd) are both set")
  return "new" if new else "old" if old else None

def tile() -> int: return _flag(WINO_TILE)

def _flags_for(m:Mode) -> dict[str, int]:
  if m not in ("new", "old", None): raise ValueError(f"winograd mode must be 'new', 'old' or None, got {m!r}")
  return {"WINO": int(m == "new"), "WINO_OLD": int(m == "old")}

def enable(m:Mode="new") -> None:
  """Select the winograd mode for the rest of the process: 'new', 'old' or None (direct convolution)."""
  for k, v in _flags_for(m).items(): ContextVar._cache[k].value = v

@contextlib.contextmanager
def using(m:Mode="new") -> Iterator[None]:
  """Select the winograd mode inside a with block; the graph must be realized (scheduled) inside it too."""
  with Context(**_flags_for(m)): yield

@dataclass
class Stats:
  """What the NEW rule did since the last reset: one entry per rewritten conv, and why each conv-like reduce it left was left."""
  rewritten: list[str] = field(default_factory=list)
  skipped: list[str] = field(default_factory=list)
  def reset(self) -> None:
    self.rewritten.clear()
    self.skipped.clear()
stats = Stats()

def winograd_pass(sink:UOp) -> UOp:
  if mode() != "new": return sink
  ctx = new_context(sink, tile(), bool(_flag(WINO_COST)), _flag(WINO_PHASE), bool(_flag(WINO_STRICT)))
  ret = graph_rewrite(sink, pm_winograd, ctx=ctx, name="winograd")
  stats.rewritten.extend(ctx.rewritten)
  stats.skipped.extend(ctx.skipped.values())
  return ret

# opts.py's kernel opts: each returns None for a kernel that isn't its own
KERNEL_OPTS = (xhat_opts, output_transform_opts, mhat_tensor_core_opts, wg_mhat_opts, mhat_opts, cpu_xhat_opts, cpu_output_opts)

def kernel_opts(k:Scheduler) -> Scheduler|None:
  return next((ret for opts in KERNEL_OPTS if (ret:=opts(k)) is not None), None) if _flag(WINO_OPTS) else None

def schedule_key() -> tuple: return ("new", tile(), _flag(WINO_COST), _flag(WINO_PHASE)) if mode() == "new" else ()

def _winograd_shaped(x:Tensor, weight:Tensor, stride, dilation) -> bool:
  nd = weight.ndim - 2
  return (1 <= nd <= 3 and all(k == 3 for k in weight.shape[2:]) and all(s == 1 for s in make_tuple(stride, nd))
          and all(d == 1 for d in make_tuple(dilation, nd)) and all(isinstance(s, int) for s in x.shape + weight.shape)
          and isinstance(x.device, str))

def wrap_conv2d(conv2d):
  @functools.wraps(conv2d)
  def conv2d_by_mode(self:Tensor, weight:Tensor, bias:Tensor|None=None, groups=1, stride=1, dilation=1, padding=0, dtype=None):
    # OLD is tinygrad's tensor-level path. NEW starts from the direct conv's graph and rewrites it when scheduled; a 3x3
    # stride-1 conv also gets a backward that the rewrite understands (backward.py)
    m = mode()
    with Context(WINO=int(m == "old")):
      if m == "new" and _winograd_shaped(self, weight, stride, dilation):
        return conv2d_with_winograd_backward(conv2d, self, weight, bias, groups, padding, dtype)
      return conv2d(self, weight, bias, groups, stride, dilation, padding, dtype)
  return conv2d_by_mode

def install() -> None:
  install_rangeify_pass(winograd_pass)
  install_schedule_cache_key(schedule_key)
  install_conv2d_wrapper(wrap_conv2d)
  install_kernel_opts(kernel_opts)
