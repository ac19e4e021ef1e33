# The environment flags, checked before tinygrad reads them (tinygrad's own getenv fails on WINO=abc without naming the flag).
import os, sys

FLAGS = {"WINO": ("0", "1"), "WINO_OLD": ("0", "1"), "WINO_TILE": ("0", "2", "4", "6"), "WINO_PHASE": ("1", "2", "3", "4"), "WINO_STRICT": ("0", "1"),
         "WINO_COST": ("0", "1"), "WINO_OPTS": ("0", "1")}

def flag_error(name:str, value) -> ValueError:
  return ValueError(f"{name} must be one of {', '.join(FLAGS[name])}, got {value!r}")

def multiprocessing_child(argv:list[str]|None=None) -> bool:
  """Whether multiprocessing started this interpreter (a Pool's worker, tinygrad's compile workers, the resource tracker)."""
  argv = sys.orig_argv if argv is None else argv
  return "--multiprocessing-fork" in argv or any(a.startswith("from multiprocessing") for a in argv)

def check_environment(env=os.environ) -> None:
  # A multiprocessing child inherits the environment its parent has when it starts the child, which the parent may have changed
  # after its own check (WINO_OLD=1 at start, then WINO=1). A child that fails at start is started again by its Pool, forever
  # (tinygrad's compile workers too), so there a bad flag is an error only where it is read: toggle.mode() when a graph is scheduled,
  # the kernel opts when a kernel compiles (toggle._flag), each of which the parent sees raised.
  if multiprocessing_child(): return
  for name, allowed in FLAGS.items():
    # tinygrad parses an empty value as int(""), which fails without naming the flag
    if (value:=env.get(name)) is not None and value.strip() not in allowed: raise flag_error(name, value)
  if all(env.get(name, "").strip() == "1" for name in ("WINO", "WINO_OLD")):
    raise ValueError("WINO=1 (winograd as a rangeify rewrite) and WINO_OLD=1 (tinygrad's tensor-level winograd) are both set: choose one")

