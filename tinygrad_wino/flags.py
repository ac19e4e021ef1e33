# The environment flags, checked before tinygrad reads them (tinygrad's own getenv fails on WINO=abc without naming the flag).
import os

FLAGS = {"WINO": ("0", "1"), "WINO_OLD": ("0", "1"), "WINO_TILE": ("0", "2", "4", "6"), "WINO_PHASE": ("1", "2", "3", "4"), "WINO_STRICT": ("0", "1"),
         "WINO_COST": ("0", "1"), "WINO_OPTS": ("0", "1")}

def flag_error(name:str, value) -> ValueError:
  return ValueError(f"{name} must be one of {', '.join(FLAGS[name])}, got {value!r}")

def check_environment(env=os.environ) -> None:
  for name, allowed in FLAGS.items():
    # tinygrad parses an empty value as int(""), which fails without naming the flag
    if (value:=env.get(name)) is not None and value.strip() not in allowed: raise flag_error(name, value)
  if all(env.get(name, "").strip() == "1" for name in ("WINO", "WINO_OLD")):
    raise ValueError("WINO=1 (winograd as a rangeify rewrite) and WINO_OLD=1 (tinygrad's tensor-level winograd) are both set: choose one")

