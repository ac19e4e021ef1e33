# Property-based: random convs, eligible or not (1 to 3 spatial dims, pads, groups, stride, dilation, kernel sizes, dtypes).
# An eligible conv is rewritten and matches a float64 reference; any other is untouched: bit-identical to direct conv. A kernel
# dim of 1 leaves no trace in the rangeified graph, so a 3x1 kernel is a conv along its 3-tap dim and may be rewritten there, and
# so is a dim with one output, whose taps reduce like channels; a stride equal to the dilation reads input s*(o+k): a stride-1
# conv of every s-th input, which may be rewritten too.
# CI runs WINO_FUZZ_EXAMPLES (default 40) examples; `WINO_FUZZ_EXAMPLES=600 python -m pytest tests/test_fuzz.py` runs more.
import os
import numpy as np
from hypothesis import HealthCheck, given, reject, settings, strategies as st
from tinygrad import dtypes
from helpers import conv_ref, grouped_pads, rel_err, run_conv

@st.composite
def convs(draw):
  nd = draw(st.sampled_from([1, 2, 2, 2, 3]))
  ks = tuple(draw(st.sampled_from([3, 3, 3, 3, 1, 2, 5])) for _ in range(nd)) if draw(st.booleans()) else (3,) * nd
  stride = draw(st.sampled_from([1, 1, 1, 2]))
  dilation = draw(st.sampled_from([1, 1, 1, 2]))
  groups = draw(st.sampled_from([1, 1, 2, 3]))
  cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
  padding = draw(st.one_of(st.integers(0, 3), st.tuples(*[st.integers(0, 2)] * nd), st.tuples(*[st.integers(0, 3)] * (2 * nd))))
  pads = grouped_pads(padding, nd)
  # every output dim at least 1: size + pads >= the dilated kernel
  sizes = tuple(max(1, (k - 1) * dilation + 1 - b - a) + draw(st.integers(0, 9 if nd < 3 else 4)) for k, (b, a) in zip(ks, pads))
  dtype = draw(st.sampled_from([dtypes.float32] * 6 + [dtypes.float16] * 2 + [dtypes.int32]))
  return dict(x=(draw(st.integers(1, 2)), cin, *sizes), w=(cout, cin // groups, *ks), stride=stride, dilation=dilation, groups=groups,
              padding=padding, dtype=dtype, seed=draw(st.integers(0, 2**16)))

@settings(max_examples=int(os.getenv("WINO_FUZZ_EXAMPLES", "40")), deadline=None, suppress_health_check=list(HealthCheck))
@given(convs())
def test_random_convs(cfg):
  rng = np.random.default_rng(cfg["seed"])
  x = rng.standard_normal(cfg["x"]).astype(np.float32)
  w = (rng.standard_normal(cfg["w"]) / np.sqrt(np.prod(cfg["w"][1:]))).astype(np.float32)
  if cfg["dtype"] == dtypes.int32: x, w = np.round(x * 4), np.round(w * 4)
  kwargs = dict(stride=cfg["stride"], dilation=cfg["dilation"], groups=cfg["groups"], padding=cfg["padding"])
  ref = conv_ref(x, w, **kwargs)
  try: direct, _ = run_conv(None, x, w, dtype=cfg["dtype"], **kwargs)
  except ValueError: reject()  # a few degenerate shapes fail in tinygrad itself (a bad reshape), with or without the plugin
  new, rewrites = run_conv("new", x, w, dtype=cfg["dtype"], **kwargs)
  nd = len(cfg["x"]) - 2
  allowed = dtypes.is_float(cfg["dtype"]) and cfg["stride"] == cfg["dilation"] and \
    all(k in (1, 3) or o == 1 for k, o in zip(cfg["w"][2:], ref.shape[2:]))
  assert new.shape == direct.shape == ref.shape
  # (an input or output of extent 1 along a dim leaves tinygrad nothing to index along it: such a conv may stay direct)
  must = allowed and cfg["stride"] == 1 and set(cfg["w"][2:]) == {3} and all(s > 1 for s in ref.shape[2:] + cfg["x"][2:])
  if must: assert rewrites, f"an eligible conv was not rewritten: {cfg}"
  if not rewrites:
    assert np.array_equal(new, direct, equal_nan=True), f"an untouched conv changed: {cfg}"
    return
  assert allowed, f"an ineligible conv was rewritten: {cfg} {rewrites}"
  # fp16 over random small convs (a few channels: few terms to average the half rounding of XHAT and GHAT) has a longer tail
  # than test_forward's fixed draws
  tol = 2e-5 if cfg["dtype"] == dtypes.float32 else 2e-2 if nd == 3 else 1e-2
  if np.abs(ref).max() > 0: assert rel_err(new, ref) <= tol, f"{cfg}: error {rel_err(new, ref):.2e}"
