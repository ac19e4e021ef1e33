"""A ResNet-18 (CIFAR layout: a 3x3 stem, four stages of two basic blocks, 64 to 512 channels) under direct conv, OLD and NEW.

It runs the forward pass (inference: batchnorm on running statistics) and one SGD training step (forward in training mode,
cross-entropy, the gradient of every parameter, the updated parameters), and the forward pass as a program serves it: captured by
TinyJit and replayed, with prune off and on (TinyJit(prune=True) runs the kernels that read none of the jitted function's inputs
once, at capture: the winograd convs' weight transforms, which do not change in inference); and the forward pass and the training
step called as a plain program calls them without TinyJit (each call builds the graph, takes its schedule from tinygrad's cache,
runs and reads the outputs back: wall time a call). It checks NEW's logits, and its loss and gradients, against direct conv
(relative L2 error, all gradients together), and times each as bench/phases.py does: schedule, compile and load wall time of each
mode's first call (cold), then kernel device time by the runtime's timers (each kernel synchronized), median of --runs after a
warm-up run, the modes timed round-robin. 14 of the 20 convs are 3x3 stride-1 (the stride-2 and 1x1 ones stay direct): OLD and
NEW take the winograd path there, and in the training step NEW rewrites their weight gradients too.

  python examples/resnet18.py [--batch 8] [--size 32] [--width 64] [--groups 1] [--runs 5] [--steps forward,train,jit,jit-prune,calls,train-calls]
                                [--modes old,new] [--no-cold] [--json out.json]

The modes are selected with tinygrad_wino.using(), the switch that WINO=1 and WINO_OLD=1 set from the environment."""
import argparse, gc, json, statistics, sys, time
import numpy as np
import tinygrad_wino
from tinygrad import Tensor, TinyJit, Context, Device, dtypes, nn
from tinygrad_wino.tg import compile_schedule, load_programs, replay_jit, run_kernels, schedule, clear_caches

class BasicBlock:
  def __init__(self, cin:int, cout:int, stride:int, groups:int=1):
    self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False), nn.BatchNorm2d(cout)
    self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, padding=1, groups=groups, bias=False), nn.BatchNorm2d(cout)
    self.down = [nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)] if stride != 1 or cin != cout else []
  def __call__(self, x:Tensor) -> Tensor:
    out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
    return (out + (x.sequential(self.down) if self.down else x)).relu()

class ResNet18:
  def __init__(self, classes:int=10, width:int=64, groups:int=1):
    self.stem, self.bn = nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
    chans = [width, width * 2, width * 4, width * 8]
    # each stage: a block that changes width and resolution (stride 2 after the first stage), then one that keeps them
    self.blocks = [b for cin, cout, s in zip([width] + chans[:-1], chans, [1, 2, 2, 2])
                   for b in (BasicBlock(cin, cout, s, groups), BasicBlock(cout, cout, 1, groups))]
    self.fc = nn.Linear(chans[-1], classes)
  def __call__(self, x:Tensor) -> Tensor:
    x = self.bn(self.stem(x)).relu().sequential(self.blocks)
    return self.fc(x.mean((2, 3)))

def init(model:ResNet18, seed:int=0) -> list[Tensor]:
  """Deterministic parameters (the same for every mode) and running statistics; returns the trainable parameters."""
  rng, params = np.random.default_rng(seed), []
  for name, t in nn.state.get_state_dict(model).items():
    if "num_batches" in name: continue
    if "running_mean" in name: val = rng.standard_normal(t.shape) * 0.1
    elif "running_var" in name or (t.ndim == 1 and name.endswith("weight")): val = rng.uniform(0.5, 1.5, t.shape)  # and bn scales
    elif t.ndim == 1: val = rng.standard_normal(t.shape) * 0.1
    else: val = rng.standard_normal(t.shape) * np.sqrt(2 / np.prod(t.shape[1:]))
    t.assign(Tensor(val.astype(np.float32), device=t.device)).realize()
    if "running" not in name: params.append(t)
  return params

def forward(model, params, x, y) -> list[Tensor]:
  with Context(TRAINING=0): return [model(x)]

def train_step(model, params, x, y, lr=0.01) -> list[Tensor]:
  with Context(TRAINING=1):
    loss = model(x).sparse_categorical_crossentropy(y)
    grads = loss.gradient(*params)
  return [loss, *grads, *(p - lr * g for p, g in zip(params, grads))]

def compile_step(step, mode, model, params, x, y) -> dict:
  """Build, schedule, compile and load one mode's step afresh (on CUDA the driver compiles each program's PTX when it loads it):
  the first call's times, and what running it needs."""
  clear_caches()
  gc.collect()
  tinygrad_wino.stats.reset()
  with tinygrad_wino.using(mode):
    t0 = time.perf_counter()
    outs = step(model, params, x, y)
    t1 = time.perf_counter()
    linear, var_vals = schedule(*outs)
    t2 = time.perf_counter()
    compiled = compile_schedule(linear)
    t3 = time.perf_counter()
    load_programs(compiled)
    t4 = time.perf_counter()
  return dict(build_ms=(t1 - t0) * 1e3, schedule_ms=(t2 - t1) * 1e3, compile_ms=(t3 - t2) * 1e3, load_ms=(t4 - t3) * 1e3,
              rewrites=len(tinygrad_wino.stats.rewritten), outs=outs, run=lambda: run_kernels(compiled, var_vals))

def measure(step, modes:tuple, model, params, x, y, runs:int, cold:bool=True) -> dict:
  """Each mode's first call, cold: compiled with nothing of another mode alive (tinygrad caches analyses on its hash-consed
  UOps, so the kernels two modes share, the batchnorms, the loss and the optimizer, would compile warm for the second). Then the
  modes compiled again and timed round-robin, one run of each in turn, so the machine's drift falls on all of them alike (run one
  mode after another, OLD's training step read 13.4 and 14.4 ms in two runs of one call on the H100)."""
  keys = ("build_ms", "schedule_ms", "compile_ms", "load_ms", "rewrites")
  first = {}
  for mode in modes if cold else ():
    r = compile_step(step, mode, model, params, x, y)
    first[mode] = {k: r[k] for k in keys}
  steps = {mode: compile_step(step, mode, model, params, x, y) for mode in modes}
  # without the cold pass (--no-cold) the first-call columns are the timed compile's, made with the earlier modes' kernels alive
  if not cold: first = {mode: {k: r[k] for k in keys} for mode, r in steps.items()}
  kernels = {mode: len(r["run"]()) for mode, r in steps.items()}  # the warm-up run
  timed: dict = {mode: [] for mode in modes}
  for _ in range(runs):
    for mode, r in steps.items(): timed[mode].append(sum(t for _, t in r["run"]()))
  return {mode: first[mode] | dict(kernel_ms=statistics.median(timed[mode]) * 1e3, kernel_min_ms=min(timed[mode]) * 1e3,
                                   kernel_max_ms=max(timed[mode]) * 1e3, kernels=kernels[mode], values=[o.numpy() for o in r["outs"]])
          for mode, r in steps.items()}

def measure_jit(modes:tuple, model, x, runs:int, prune:bool) -> dict:
  """The forward pass under TinyJit, each mode captured (a plain call, the capture, a replay) and then replayed round-robin, each
  replay's kernels synchronized (captured under JIT=2, without graphs) and timed by the runtime's timers."""
  jits, values, rewrites = {}, {}, {}
  for mode in modes:
    clear_caches()
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using(mode), Context(JIT=2, TRAINING=0):
      jits[mode] = TinyJit(lambda x: model(x).realize(), prune=prune)
      jits[mode](x)
      rewrites[mode] = len(tinygrad_wino.stats.rewritten)  # of the plain call: the capture schedules the graph again
      for _ in range(2): values[mode] = [jits[mode](x).numpy()]
  kernels = {mode: len(replay_jit(jit, x)) for mode, jit in jits.items()}  # the warm-up replay
  timed: dict = {mode: [] for mode in modes}
  for _ in range(runs):
    for mode, jit in jits.items(): timed[mode].append(sum(t for _, t in replay_jit(jit, x)))
  return {mode: dict(kernel_ms=statistics.median(timed[mode]) * 1e3, kernel_min_ms=min(timed[mode]) * 1e3, kernel_max_ms=max(timed[mode]) * 1e3,
                     kernels=kernels[mode], rewrites=rewrites[mode], values=values[mode]) for mode in modes}

def measure_calls(step, modes:tuple, model, params, x, y, runs:int) -> dict:
  """A step called as a plain program calls it, without TinyJit: each call builds the graph, schedules it (from tinygrad's schedule
  cache after the first call), runs it and reads its outputs back. Wall time a call after each mode's first call, the modes called
  round-robin. NEW's rule runs only where a graph is scheduled, so NEW's later calls must rewrite nothing."""
  values, rewrites, later, timed = {}, {}, {}, {mode: [] for mode in modes}
  def call(mode) -> float:
    tinygrad_wino.stats.reset()
    with tinygrad_wino.using(mode):
      t0 = time.perf_counter()
      Tensor.realize(*(outs:=step(model, params, x, y)))  # one schedule for all the outputs
      values[mode] = [o.numpy() for o in outs]
      return time.perf_counter() - t0
  clear_caches()  # the schedules too: an earlier step (a TinyJit's plain call) scheduled these very graphs
  for mode in modes:
    call(mode)
    rewrites[mode], later[mode] = len(tinygrad_wino.stats.rewritten), 0
  for _ in range(runs):
    for mode in modes:
      timed[mode].append(call(mode))
      later[mode] += len(tinygrad_wino.stats.rewritten)
  return {mode: dict(wall_ms=statistics.median(timed[mode]) * 1e3, wall_min_ms=min(timed[mode]) * 1e3, wall_max_ms=max(timed[mode]) * 1e3,
                     rewrites=rewrites[mode], later_rewrites=later[mode], values=values[mode]) for mode in modes}

def rel_err(a:list[np.ndarray], b:list[np.ndarray]) -> float:
  """||a - b|| / ||b|| over all the tensors together: the gradients of a deep network hold entries (a batchnorm's shift ahead of
  another batchnorm, say) that are rounding noise in every mode, which a per-tensor max-norm would report as large errors."""
  num = sum(float(np.square(p.astype(np.float64) - q).sum()) for p, q in zip(a, b))
  return (num / max(sum(float(np.square(q.astype(np.float64)).sum()) for q in b), 1e-300)) ** 0.5

def ms0(v:float|None) -> str: return "" if v is None else f"{v:.0f}"

def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--batch", type=int, default=8)
  ap.add_argument("--size", type=int, default=32, help="input height and width")
  ap.add_argument("--width", type=int, default=64, help="channels of the first stage")
  ap.add_argument("--groups", type=int, default=1, help="groups of the blocks' 3x3 convs (ResNeXt's grouped convs; the stem keeps 1)")
  ap.add_argument("--runs", type=int, default=5)
  ap.add_argument("--steps", default="forward,train,jit,jit-prune,calls,train-calls",
                  help="which of forward, train, jit, jit-prune, calls and train-calls to run")
  ap.add_argument("--modes", default="old,new", help="the winograd modes to run besides direct conv (the reference): old, new")
  ap.add_argument("--no-cold", action="store_true", help="skip each mode's cold first call (compile each step once, not twice)")
  # the training step's gradients pass 18 training-mode batchnorms, which amplify rounding: OLD and NEW land at 1e-3 to 7e-3
  ap.add_argument("--tol", type=float, default=1e-2, help="||out - direct|| / ||direct|| allowed for OLD and NEW")
  ap.add_argument("--json", help="write the results here")
  args = ap.parse_args(argv)
  if not set(wino:=args.modes.split(",")) <= {"old", "new"}: ap.error(f"--modes takes old and new, got {args.modes!r}")
  modes = (None, *dict.fromkeys(wino))
  tinygrad_wino.install()
  model = ResNet18(width=args.width, groups=args.groups)
  params = init(model)
  rng = np.random.default_rng(1)
  x = Tensor(rng.standard_normal((args.batch, 3, args.size, args.size)).astype(np.float32)).realize()
  y = Tensor(rng.integers(0, 10, args.batch).astype(np.int32), dtype=dtypes.int32).realize()
  results, ok = {}, True
  grouped = f", {args.groups} groups" if args.groups > 1 else ""
  print(f"ResNet-18 (width {args.width}{grouped}), batch {args.batch}, {args.size}x{args.size}, {Device.DEFAULT}, median of {args.runs}")
  print("| step | mode | kernel ms (plain calls: wall ms) | min-max | kernels | convs rewritten | schedule ms | compile ms | load ms | vs direct | "
        "rel err |")
  print("|---|---|---|---|---|---|---|---|---|---|---|")
  steps = {"forward": ("forward", lambda: measure(forward, modes, model, params, x, y, args.runs, not args.no_cold)),
           "train": ("train step", lambda: measure(train_step, modes, model, params, x, y, args.runs, not args.no_cold)),
           "jit": ("forward, TinyJit", lambda: measure_jit(modes, model, x, args.runs, prune=False)),
           "jit-prune": ("forward, TinyJit(prune=True)", lambda: measure_jit(modes, model, x, args.runs, prune=True)),
           "calls": ("forward, plain calls (wall ms a call)", lambda: measure_calls(forward, modes, model, params, x, y, args.runs)),
           "train-calls": ("train step, plain calls (wall ms a call)", lambda: measure_calls(train_step, modes, model, params, x, y, args.runs))}
  for name, run in (steps[step] for step in args.steps.split(",")):
    for mode, r in run().items():
      base = results.get((name, None), r)
      checked = slice(0, 1 + len(params))  # the logits; or the loss and the gradients (an updated parameter is mostly the parameter)
      err = rel_err(r["values"][checked], base["values"][checked])
      # OLD's error is reported, not judged; NEW's later plain calls must come from the schedule cache
      ok &= mode != "new" or (err <= args.tol and r["rewrites"] > 0 and r.get("later_rewrites", 0) == 0)
      results[(name, mode)] = r
      kind = "kernel" if "kernel_ms" in r else "wall"  # the plain calls' row: wall time a call
      ms, lo, hi = r[f"{kind}_ms"], r[f"{kind}_min_ms"], r[f"{kind}_max_ms"]
      rewritten = f"{r['rewrites']}" + (f" (later calls {r['later_rewrites']})" if "later_rewrites" in r else "") if mode == "new" else ""
      print(f"| {name} | {mode or 'direct'} | {ms:.3f} | {lo:.3f}-{hi:.3f} | {r.get('kernels', '')} | {rewritten} | {ms0(r.get('schedule_ms'))} | "
            f"{ms0(r.get('compile_ms'))} | {ms0(r.get('load_ms'))} | {ms / base[f'{kind}_ms']:.2f} | {err:.1e} |")
  if args.json:
    out = [dict(step=s, mode=m or "direct", **{k: v for k, v in r.items() if k != "values"}) for (s, m), r in results.items()]
    meta = dict(device=Device.DEFAULT, batch=args.batch, size=args.size, width=args.width, groups=args.groups)
    with open(args.json, "w") as f: json.dump(dict(**meta, runs=out), f, indent=1)
  if not ok: print(f"FAILED: NEW's output differs from direct conv's by more than {args.tol} (or NEW rewrote nothing, or rescheduled a later call)")
  return 0 if ok else 1

if __name__ == "__main__": sys.exit(main())
