# How the timing harnesses check a row's output against direct conv's: the largest error relative to the
# reference's largest magnitude. One definition for bench/phases.py, bench/jit.py and bench/first_call.py, which import it from here
# (a script's own folder is first on its import path).
import numpy as np

def rel_err(out:np.ndarray, ref:np.ndarray) -> float:
  return float(np.abs(out.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))

def check(out:np.ndarray, ref:np.ndarray, tol:float) -> dict:
  """A row's check against direct conv's output, as the results files record it."""
  err = rel_err(out, ref)
  return dict(vs="direct", rel_err=err, tol=tol, ok=err <= tol)
