"""Test settings: strict numerics, several fake CPU devices for sharding, and
one program cache for the whole run."""

import atexit
import os
import shutil
import tempfile

# Must be set before JAX starts (DESIGN.md §5).
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=4')
# The command line (run in this process or in children) points JAX's
# compilation cache at VGPNN_JAX_CACHE. One folder for the whole run: JAX
# drops its in-memory compiled programs whenever that folder changes, and a
# folder per test made every later test compile again (a third of the CLI
# tests' time).
if 'VGPNN_JAX_CACHE' not in os.environ:
  _CACHE = tempfile.mkdtemp(prefix='vgpnn_jax_tests_')
  atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
  os.environ['VGPNN_JAX_CACHE'] = _CACHE

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

jax.config.update('jax_numpy_rank_promotion', 'raise')
jax.config.update('jax_numpy_dtype_promotion', 'strict')

# What a command line run switches on for the rest of its process.
_CLI_SETTINGS = ('jax_compilation_cache_dir',
                 'jax_persistent_cache_min_compile_time_secs')


@pytest.fixture(autouse=True)
def _cli_cache_stays_in_its_test():
  """Each test starts with the compilation cache as the run began (off).

  A command line run in this process turns JAX's compilation cache on, and
  with it `program_cache`: every later library test's generations then went
  through exported programs, compiled apart from the level programs the same
  test had compiled directly (test_quality: 76 s alone, 117 s after a
  command line test). The whole run took about as long either way (1315 s,
  1309 s: other tests had shared programs through that cache), but each test
  now runs as it does alone.
  """
  saved = {name: getattr(jax.config, name) for name in _CLI_SETTINGS}
  yield
  for name, value in saved.items():
    if getattr(jax.config, name) != value:
      jax.config.update(name, value)


@pytest.fixture(autouse=True)
def _no_resident_credit(monkeypatch):
  """Memory checks see only the free memory a test patches in.

  `memory.request_available_bytes` adds what this process already holds of
  a request's estimate (its resident memory, up to the runtime and input):
  in tests that is the test process's, different in every run, and it made
  the refusals the tests provoke with a patched `available_bytes` pass.
  `tests/test_memory.py` checks the credit itself.
  """
  from vgpnn_jax import memory  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(memory, '_resident_bytes', lambda: 0)
