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

jax.config.update('jax_numpy_rank_promotion', 'raise')
jax.config.update('jax_numpy_dtype_promotion', 'strict')
