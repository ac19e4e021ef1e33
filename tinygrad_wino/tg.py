# Every touch point with tinygrad's internals lives here, so a tinygrad upgrade is a one-file change (pinned: tinygrad==0.14.0).
import contextlib, functools, time
from typing import Callable, Iterator
import tinygrad.schedule as _schedule
import tinygrad.schedule.rangeify as _rangeify
import tinygrad.codegen.opt.heuristic as _heuristic
import tinygrad.engine.worker as _worker
import tinygrad.schedule.indexing as _indexing
import tinygrad.uop.divandmod as _divandmod
import tinygrad.codegen.late.coalesce as _coalesce
from tinygrad import Tensor, Device
from tinygrad.dtype import DType, dtypes, AddrSpace
from tinygrad.helpers import Context, ContextVar, DEBUG, WINO, USE_TC, TC_SELECT, TC_OPT, ansistrip, make_tuple, to_tuple, tqdm
from tinygrad.codegen import to_program, to_program_cache
from tinygrad.codegen.opt import Opt, OptOps, KernelOptError
from tinygrad.codegen.opt.postrange import Scheduler
from tinygrad.engine.jit import _TinyJit, _prepare_jit_inputs, _copy_input
from tinygrad.engine.realize import ExecContext, compile_linear, link_linear, pm_exec, _get_call_to_compile, get_runtime, runtime_cache
from tinygrad.schedule.indexing import BufferizeOpts
from tinygrad.uop.ops import UOp, UPat, Ops, GroupOp, PatternMatcher, AxisType, BottomUpGate, graph_rewrite
from tinygrad.uop.symbolic import symbolic, pm_simplify_valid

__all__ = ["Tensor", "DType", "dtypes", "AddrSpace", "Context", "ContextVar", "DEBUG", "WINO", "USE_TC", "TC_SELECT", "TC_OPT", "make_tuple",
           "BufferizeOpts", "UOp", "UPat", "Ops", "PatternMatcher", "AxisType", "graph_rewrite", "gated_substitute", "simplify_loads",
           "simplify_each", "install_rangeify_pass", "install_schedule_cache_key", "install_conv2d_wrapper", "install_kernel_opts", "loop_innermost",
           "Opt", "OptOps", "KernelOptError", "Scheduler", "unclone", "tqdm", "schedule", "compile_times", "compile_schedule", "load_programs",
           "run_kernels", "replay_jit", "kernel_keys", "forget_programs", "clear_schedules", "clear_caches", "without_device_compiler"]

def _skip_untouched(ctx:tuple[dict[UOp, UOp], frozenset[UOp]], u:UOp) -> None:
  if ctx[1].isdisjoint(u.ranges): raise BottomUpGate()
_pm_substitute = PatternMatcher([(UPat(GroupOp.All, name="u"), _skip_untouched),
                                 (UPat(GroupOp.All, name="u"), lambda ctx, u: ctx[0].get(u))], compiled=False)

def gated_substitute(u:UOp, subs:dict[UOp, UOp]) -> UOp:
  """u.substitute(subs), entering only the subgraphs that use a range of a key (the rest of a rangeified graph is large)."""
  keys_ranges = frozenset(r for k in subs for r in k.ranges)
  return graph_rewrite(u, _pm_substitute, ctx=(subs, keys_ranges), bottom_up=True, name="winograd substitute")

def _stop_at_buffers(u:UOp) -> None: raise BottomUpGate()
_pm_stop_at_buffers = PatternMatcher([(UPat((Ops.STAGE, Ops.AFTER, Ops.BUFFER, Ops.PARAM), name="u"), _stop_at_buffers)], compiled=False)

def _simplify(u:UOp, gates:bool) -> UOp:
  return graph_rewrite(u, symbolic+pm_simplify_valid if gates else symbolic, bpm=_pm_stop_at_buffers, name="winograd simplify loads")

def simplify_loads(u:UOp) -> UOp:
  """Simplify u's index math and load gates, as far as its sources' buffers. A load whose gate is always false folds to 0 here:
  left to get_kernel_graph, its index can fold to Invalid first, and pm_remove_bufferize then leaves that load reading a range
  that no kernel closes (a padded conv with more padding than input along a dim)."""
  return _simplify(u, True)

def simplify_each(us:list[UOp], gates:bool=True) -> list[UOp]:
  """simplify_loads of each of us, in one rewrite: a rewrite's fixed work dominates a small graph such as a transform's source at
  one of its alpha^n positions (bench/schedule.py). gates=False simplifies the index math alone (symbolic), not the loads' gates by
  their valid (pm_simplify_valid), which takes most of the time."""
  # symbolic keeps a SINK's sources one to one (tinygrad flattens nested SINKs in a matcher of its own, pm_clean_up_group_sink)
  return list(_simplify(UOp.sink(*us), gates).src) if us else []

def install_rangeify_pass(rewrite:Callable[[UOp], UOp]) -> None:
  """Run `rewrite` on the graph that run_rangeify returns, before get_kernel_graph's symbolic cleanups and kernel splitting."""
  original = getattr(_rangeify.run_rangeify, "__wrapped_by_wino__", _rangeify.run_rangeify)
  def run_rangeify(tsink:UOp, debug:bool=False) -> UOp: return rewrite(original(tsink, debug))
  run_rangeify.__wrapped_by_wino__ = original  # type: ignore[attr-defined]
  # get_kernel_graph looks run_rangeify up as a module global at call time
  _rangeify.run_rangeify = run_rangeify

class _KeyedScheduleCache(dict):
  # tinygrad's schedule cache is keyed on the tensor graph, which is the same for direct conv and NEW: add the mode to the key
  def __init__(self, extra_key:Callable[[], tuple], entries:dict):
    super().__init__(entries)
    self.extra_key = extra_key
  def get(self, key, default=None): return super().get((self.extra_key(), key), default)
  def __getitem__(self, key): return super().__getitem__((self.extra_key(), key))
  def __setitem__(self, key, value): super().__setitem__((self.extra_key(), key), value)
  def __contains__(self, key): return super().__contains__((self.extra_key(), key))

def install_schedule_cache_key(extra_key:Callable[[], tuple]) -> None:
  if isinstance(_schedule.schedule_cache, _KeyedScheduleCache): _schedule.schedule_cache.extra_key = extra_key
  # lower_sink_to_linear reads the module global at call time; old entries were made without winograd, under the key ()
  else: _schedule.schedule_cache = _KeyedScheduleCache(extra_key, {((), k): v for k, v in _schedule.schedule_cache.items()})

def unclone(u:UOp) -> UOp:
  """The value a clone() stores, when that value lives on no device (a constant): tinygrad's call gradient clones a constant
  upstream gradient (that of a mean or sum loss) into a buffer, which would hide its constness from the backward's graph."""
  if u.op is Ops.AFTER and len(u.src) == 2 and u.src[1].op is Ops.STORE and (v:=u.src[1].src[1]).device is None: return v
  return u

def _init_worker_with_plugin() -> None:
  # a parallel compile worker is a spawned process: importing the plugin there installs its kernel opts (install_kernel_opts)
  import tinygrad_wino  # noqa: F401
  _init_worker_original()
_init_worker_original = getattr(_worker._init_worker, "__wrapped_by_wino__", _worker._init_worker)

@functools.cache
def renders(device:str|tuple[str, ...], dtype:DType) -> bool:
  """Whether the device's renderer has the dtype itself; for a dtype it hasn't, tinygrad's codegen emulates it (decomp). A device's
  renderer is fixed for the process, so the answer is kept (rules.storage_dtype asks twice a conv)."""
  return dtype in Device[device if isinstance(device, str) else device[0]].renderer.supported_dtypes()

def install_kernel_opts(choose:Callable[[Scheduler], Scheduler|None]) -> None:
  """Let `choose` optimize a kernel (BEAM=0, no opts given) before tinygrad's hand-coded heuristic does; it returns None to leave
  the kernel to the heuristic."""
  original = getattr(_heuristic.hand_coded_optimizations, "__wrapped_by_wino__", _heuristic.hand_coded_optimizations)
  def hand_coded_optimizations(k:Scheduler) -> Scheduler: return ret if (ret:=choose(k)) is not None else original(k)
  hand_coded_optimizations.__wrapped_by_wino__ = original  # type: ignore[attr-defined]
  # postrange.apply_opts imports the heuristic from its module at call time; get_worker_pool reads _init_worker likewise
  _heuristic.hand_coded_optimizations = hand_coded_optimizations
  _init_worker_with_plugin.__wrapped_by_wino__ = _init_worker_original  # type: ignore[attr-defined]
  _worker._init_worker = _init_worker_with_plugin

def loop_innermost(k:Scheduler, *rs:UOp) -> list[UOp]:
  """Run the loops over rs inside the kernel's other loops, in the order given (the last innermost): the Scheduler orders a kernel's
  loops by range id (OptOps.SWAP swaps the ids of two GPU globals only), so each r takes a fresh id above every other, as a range a
  later opt makes would, all in one substitute. The renamed ranges."""
  moved = [r.replace(arg=(next(k.opt_range), *r.arg[1:])) for r in rs]
  k.ast = k.ast.substitute(dict(zip(rs, moved)), name="winograd loop innermost")
  return moved

def install_conv2d_wrapper(wrap:Callable[[Callable], Callable]) -> None:
  # Tensor copies the mixin methods into its own class dict, so the method to wrap is Tensor's own
  original = getattr(Tensor.conv2d, "__wrapped_by_wino__", Tensor.conv2d)
  wrapped = wrap(original)
  wrapped.__wrapped_by_wino__ = original  # type: ignore[attr-defined]
  Tensor.conv2d = wrapped  # type: ignore[method-assign]

# *** timing touch points for bench/: schedule, compile and run a schedule separately, with the runtime's own kernel timers

def schedule(*tensors:Tensor) -> tuple[UOp, dict[str, int]]: return Tensor.linear_with_vars(*tensors)
def compile_schedule(linear:UOp) -> UOp: return link_linear(compile_linear(linear))

@contextlib.contextmanager
def _timed_compiler(compiler, spent:list[float]) -> Iterator[None]:
  # a device compiler's compile (nvrtc, clang) timed into spent, which compile_times tells from tinygrad's own codegen
  cls = type(compiler)
  original = cls.compile
  def timed(self, src:str) -> bytes:
    t0 = time.perf_counter()
    try: return original(self, src)
    finally: spent.append(time.perf_counter() - t0)
  cls.compile = timed
  try: yield
  finally: cls.compile = original

def without_device_compiler() -> None:
  """Let a GPU's renderer generate code on a machine without the GPU's libraries, for bench/ (tinygrad's NULL device with that
  renderer, DEV=NULL:CUDA:sm_90): CUDA's NVRTC compiler is neither loaded nor called, a program's binary is empty. Call it before
  the device opens; the process can't run CUDA programs after."""
  from tinygrad.runtime.support import compiler_cuda
  from tinygrad.renderer.cstyle import CUDARenderer
  from tinygrad.helpers import ALLOW_TF32
  compiler_cuda.NVRTCCompiler.__init__ = lambda self, *args, **kwargs: setattr(self, "cachekey", None)  # type: ignore[method-assign]
  compiler_cuda.NVRTCCompiler.compile = lambda self, src: b""  # type: ignore[method-assign]
  # tinygrad leaves out the float (TF32) tensor cores without ALLOW_TF32 only where the renderer's device is CUDA or NV
  # (Scheduler._apply_tc_opt); on NULL its float32 kernels would get them: drop them here too, so they are the GPU's kernels
  original = getattr(CUDARenderer.__init__, "__wrapped_by_wino__", CUDARenderer.__init__)
  def init(self, *args, **kwargs):
    original(self, *args, **kwargs)
    if not ALLOW_TF32: self.tensor_cores = [tc for tc in self.tensor_cores if tc.dtype_in != dtypes.float]
  init.__wrapped_by_wino__ = original  # type: ignore[attr-defined]
  CUDARenderer.__init__ = init  # type: ignore[method-assign]

def compile_times(linear:UOp) -> list[tuple[str, float, float]]:
  """Compile a schedule's kernels one after another into tinygrad's program cache (compile_schedule then finds them there):
  (name without colors, seconds of codegen and compile, seconds of those in the device's compiler) per kernel, in the schedule's
  order."""
  ret = []
  for c in linear.src:
    if c.op is not Ops.CALL or (todo:=_get_call_to_compile(c)) is None: continue
    spent: list[float] = []
    with _timed_compiler(Device[c.device if isinstance(c.device, str) else c.device[0]].compiler, spent):
      t0 = time.perf_counter()
      prg = to_program(*todo)
      ret.append((ansistrip(prg.arg.name), time.perf_counter() - t0, sum(spent)))
  return ret
def load_programs(compiled:UOp) -> list[tuple[str, float]]:
  """Load a compiled schedule's programs onto their devices one after another, as its first run would (on CUDA the driver compiles
  the PTX to machine code here): (name without colors, seconds) per kernel. run_kernels then finds them loaded."""
  ret = []
  for call in compiled.src:
    if call.op is not Ops.CALL or (prg:=call.src[0]).op is not Ops.PROGRAM: continue
    t0 = time.perf_counter()
    for device in to_tuple(call.src[1].device): get_runtime(device, prg)
    ret.append((ansistrip(prg.arg.name), time.perf_counter() - t0))
  return ret
def kernel_keys(linear:UOp) -> list[bytes]: return [c.src[0].key for c in linear.src if c.op is Ops.CALL and c.src[0].op is Ops.SINK]

def run_kernels(compiled:UOp, var_vals:dict[str, int], input_uops:tuple[UOp, ...]=(), jit:bool=False) -> list[tuple[str, float]]:
  """Run a compiled schedule once, each kernel synchronized: (name without colors, seconds by the runtime's timer) per kernel."""
  ctx, ret = ExecContext(var_vals, input_uops, update_stats=False, jit=jit, wait=True), []
  for call in compiled.src:
    ets = pm_exec.rewrite(call, ctx)
    if call.src[0].op is Ops.PROGRAM: ret.append((ansistrip(call.src[0].arg.name), sum(et for et in ets if et is not None)))
  return ret

def replay_jit(jit:_TinyJit, *args:Tensor) -> list[tuple[str, float]]:
  """Replay a captured TinyJit on args as its own call does, each kernel synchronized: (name without colors, seconds by the runtime's
  timer) per kernel. A capture made under JIT=2 has no graphs, so every kernel is a call of its own."""
  if (captured:=jit.captured) is None: raise RuntimeError("the jit has not captured yet")
  input_uops, var_vals, _, _ = _prepare_jit_inputs(args, {})
  # an input the captured kernels write is copied first, as CapturedJit.__call__ does
  concrete = tuple(_copy_input(u) if u in captured._written_uops else u for u in input_uops)
  return run_kernels(captured.linear, var_vals, concrete, jit=True)

def forget_programs(names:set[str]) -> None:
  """Forget the compiled programs of these names (without colors) and the schedules, so only those kernels compile afresh."""
  for key in [key for key, prg in to_program_cache.items() if ansistrip(prg.arg.name) in names]: del to_program_cache[key]
  clear_schedules()

def clear_schedules() -> None:
  """Forget the schedules made in this process (the rangeify pass, and with it the rule, runs only where a graph is scheduled)."""
  _schedule.schedule_cache.clear()

# tinygrad's unbounded caches keyed on UOps (index math): they keep an earlier graph's UOps alive, and with them the analyses
# tinygrad caches on each (hash-consed) UOp, so an equal graph compiled later would compile faster than a first call does
_UOP_CACHES = (_indexing.apply_movement_op, _indexing._apply_reshape, _divandmod.fold_divmod_general, _coalesce._drop_valid_stmts)

def clear_caches() -> None:
  """Forget compiled and loaded programs, schedules and tinygrad's UOp-keyed caches made in this process, so the next call schedules,
  compiles and loads afresh (bench/: collect the garbage after, then nothing of an earlier graph is alive)."""
  to_program_cache.clear()
  runtime_cache.clear()
  clear_schedules()
  for cache in _UOP_CACHES: cache.cache_clear()
