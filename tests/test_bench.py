# The timing harnesses end to end at a tiny size: bench/phases.py (the committed sweeps, 2-D, 1-D and grouped) runs, checks every row
# against direct conv (exit status 1 on a mismatch) and writes a first call (schedule, compile and load) for each complete conv; bench/jit.py replays
# TinyJit captures; bench/first_call.py times each row's first call in a process of its own; bench/schedule.py times the schedule
# under each package it is given; bench/grads.py times a conv's gradients in each mode; bench/cpu_opts.py applies each kind's candidates.
import json, os, pathlib, re, subprocess, sys
import pytest

BENCH = pathlib.Path(__file__).parent.parent / "bench"

@pytest.mark.parametrize("dims,shape,groups", [(2, "1,8,8,12", 1), (1, "2,8,8,40", 1), (2, "1,8,12,12", 4)])
def test_phases_harness_runs_and_reports_each_complete_convs_first_call(tmp_path, dims, shape, groups):
  # OLD's truncations (phases 1-3) must run kernels of OLD's complete conv, grouped too (the harness checks that)
  cmd = [sys.executable, str(BENCH / "phases.py"), "--dims", str(dims), "--shapes", shape, "--groups", str(groups), "--runs", "1", "--warmup", "1",
         "--no-torch", "--no-plot", "--out", str(tmp_path), "--name", "t"]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  res = json.loads((tmp_path / "t.json").read_text())["results"][0]
  complete = {r["impl"]: r for r in res["rows"] if r["phase"] == 4}
  assert set(complete) == {"direct", "OLD", "NEW", "NEW auto"}
  assert all(r["schedule_ms"] > 0 and r["compile_ms"] > 0 and r["load_ms"] > 0 and len(r["compile_kernel_ms"]) == len(r["load_kernel_ms"])
             == r["kernels"] for r in complete.values())
  # each kernel's compile splits into tinygrad's codegen and the device's compiler (clang here)
  assert all(0 < d < c for r in complete.values() for c, d in zip(r["compile_kernel_ms"], r["device_compile_kernel_ms"], strict=True))
  # NEW's rows rewrote the conv (its four kernels), OLD's ran tinygrad's winograd
  assert complete["NEW"]["rewrites"] and complete["NEW"]["kernels"] == complete["OLD"]["kernels"] == 4

def test_jit_harness_replays_every_row_and_prunes_the_weight_transform(tmp_path):
  cmd = [sys.executable, str(BENCH / "jit.py"), "--shapes", "2,8,8,12", "--runs", "1", "--warmup", "1", "--out", str(tmp_path), "--name", "t"]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  rows = {(r["impl"], r["prune"]): r for r in json.loads((tmp_path / "t.json").read_text())["results"][0]["rows"]}
  assert all(r["check"]["ok"] and r["kernel_ms"] > 0 for r in rows.values())
  assert rows[("NEW", False)]["rewrites"] and rows[("NEW", False)]["kernels"] == rows[("OLD", False)]["kernels"] == 4
  assert rows[("NEW", True)]["kernels"] == rows[("OLD", True)]["kernels"] == 3 and rows[("direct", False)]["kernels"] == 1

def test_first_call_harness_runs_each_row_in_a_fresh_process(tmp_path):
  cmd = [sys.executable, str(BENCH / "first_call.py"), "--shapes", "2,8,8,12", "--repeats", "1", "--out", str(tmp_path), "--name", "t"]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  rows = {r["impl"]: r for r in json.loads((tmp_path / "t.json").read_text())["results"][0]["rows"]}
  assert set(rows) == {"direct", "OLD", "NEW+cost", "NEW"} and all(r["ok"] and r["first_call_ms"] > 0 for r in rows.values())
  # NEW rewrote the conv into its four kernels; NEW+cost kept this tiny conv direct
  assert rows["NEW"]["rewrites"] and rows["NEW"]["kernels"] == rows["OLD"]["kernels"] == 4 and rows["NEW+cost"]["kernels"] == 1

def test_schedule_harness_times_each_mode_under_each_package(tmp_path):
  root = str(BENCH.parent)
  cmd = [sys.executable, str(BENCH / "schedule.py"), "--shapes", "2,8,8,12", "--runs", "1", "--packages", f"a={root},b={root}",
         "--out", str(tmp_path / "t.md")]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  rows = [line.split("|")[2:-1] for line in (tmp_path / "t.md").read_text().splitlines() if line.startswith("| (2, 8, 8, 12)")]
  assert [r[0].strip() for r in rows] == ["direct", "OLD", "NEW+cost", "NEW"] and all(len(r) == 3 and float(r[1].split()[0]) > 0 for r in rows)

def test_schedule_harness_generates_a_gpus_code_without_the_gpu(tmp_path):
  # --target: tinygrad's NULL device with CUDA's renderer, its NVRTC compiler neither loaded nor called (it isn't installed here):
  # each mode's codegen summed and per kernel, NEW's four kernels among them
  cmd = [sys.executable, str(BENCH / "schedule.py"), "--shapes", "2,8,8,12", "--runs", "1", "--target", "CUDA:sm_90", "--dtype", "float16",
         "--out", str(tmp_path / "t.md")]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  text = (tmp_path / "t.md").read_text()
  rows = [line.split("|")[2:-1] for line in text.split("Codegen for CUDA:sm_90")[1].splitlines() if line.startswith("| (2, 8, 8, 12)")]
  sums, per_kernel = rows[:4], {r[0].strip(): r[2] for r in rows[4:]}
  assert [r[0].strip() for r in sums] == ["direct", "OLD", "NEW+cost", "NEW"] and all(float(r[1].split()[0]) > 0 for r in sums)
  assert per_kernel["NEW"].count("`") == 2 * 4 and per_kernel["direct"].count("`") == 2

@pytest.mark.parametrize("dtype,tol", [("float32", 1e-4), ("float16", 1e-2)])
def test_grads_harness_times_each_mode_and_says_what_the_cost_model_rewrote(tmp_path, dtype, tol):
  cmd = [sys.executable, str(BENCH / "grads.py"), "--shapes", "2,8,8,12", "--runs", "1", "--dtype", dtype, "--out", str(tmp_path / "t.md")]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  row = next(line.split("|")[2:-1] for line in (tmp_path / "t.md").read_text().splitlines() if line.startswith("| (2, 8, 8, 12)"))
  direct, old, new, new_cost, _, _, rewrote, _, err, kernels = (c.strip() for c in row)
  assert all(float(t) > 0 for t in (direct, old, new, new_cost)) and rewrote in {f"{n} of 3" for n in range(4)}
  # NEW's gradients match direct conv's, from NEW's kernels (its forward conv, input gradient and weight gradient rewritten)
  assert float(err) < tol and kernels.count("`") >= 2 * 9 and f"`: {dtype}, kernel ms" in (tmp_path / "t.md").read_text()

@pytest.mark.parametrize("kind,candidate", [("mhat", "4, 8, 4"), ("wgmhat", "8, 4, 4"), ("xhat", "the whole row, alpha^2 upcast"),
                                            ("ghat", "K by 1, M by 1"), ("output", "1 ch, threads on batch")])
def test_cpu_opts_harness_applies_each_kinds_candidates(tmp_path, kind, candidate):
  # bench/cpu_opts.py: a candidate whose kind's finder misses its kernel, or whose opts don't apply, gets no row; each kind's row here
  # is there, with opts.py's and the heuristic's, and computes the heuristic's result
  cmd = [sys.executable, str(BENCH / "cpu_opts.py"), "--kernel", kind, "--shapes", "2,16,16,16", "--runs", "1",
         "--match", f"^{re.escape(candidate)}$", "--out", str(tmp_path / "t.md")]
  subprocess.run(cmd, check=True, capture_output=True, env={k: v for k, v in os.environ.items() if k not in ("WINO", "WINO_OLD")}, timeout=600)
  rows = [line.split("|")[2:-1] for line in (tmp_path / "t.md").read_text().splitlines() if line.startswith("| (2, 16, 16, 16)")]
  assert [r[0].strip() for r in rows] == ["opts.py", candidate, "heuristic"], rows
  assert all(float(r[2]) > 0 and float(r[4]) < 1e-5 for r in rows), rows
