# Imported at interpreter start by tinygrad_wino.pth, so `WINO=1 python script.py` takes the NEW path without the script importing
# tinygrad_wino. It lives outside the package so that, with neither WINO nor WINO_OLD set, it costs two environment lookups and
# imports nothing. tinygrad_wino checks the flags' values itself.
import os, sys
# a flag set to anything but 0 imports the plugin, which checks the value (tinygrad itself fails on an empty one, unnamed)
if any(os.environ.get(flag, "0").strip() != "0" for flag in ("WINO", "WINO_OLD")):
  try: import tinygrad_wino  # noqa: F401
  except ValueError as e:
    # a bad flag value: stop with one line. site.py only warns about an exception, and a SystemExit here is a fatal error dump. A
    # multiprocessing child skips the check (flags.check_environment): only a value that isn't a number stops it here, as such a
    # value of one of tinygrad's own flags stops tinygrad's import
    sys.stderr.write(f"tinygrad_wino: {e}\n")
    os._exit(2)
