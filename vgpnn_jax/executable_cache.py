"""Compiled programs kept on disk, so that a second run skips tracing too.

JAX's persistent compilation cache skips XLA's compilation on a second run,
but every program is still traced and lowered to find its cache key: about
12 s of Python for the 30 level programs of a 13x144x256 video on a 2-core
CPU, a third of a cached run. This cache stores the compiled executables
themselves (`jax.experimental.serialize_executable`), keyed by everything that
shapes them: the program's static description, the argument shapes, the
source of this package, the JAX version, the backend and its devices, and
XLA_FLAGS.

It is on only where JAX's compilation cache is (`jax_compilation_cache_dir`,
which the command line sets), in a subfolder of it; the files are pickles,
trusted as the rest of that folder is. Anything unreadable is compiled again.
"""

import functools
import hashlib
import os
import pathlib
import pickle
import tempfile
from typing import Callable, Sequence

import jax
from jax.experimental import serialize_executable

_SUBFOLDER = 'vgpnn_jax_executables'


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
  """Hash of this package's source: a code change invalidates the cache."""
  digest = hashlib.sha256()
  for path in sorted(pathlib.Path(__file__).parent.glob('*.py')):
    digest.update(path.name.encode())
    digest.update(path.read_bytes())
  return digest.hexdigest()


def _folder() -> pathlib.Path | None:
  cache = jax.config.jax_compilation_cache_dir
  return pathlib.Path(cache) / _SUBFOLDER if cache else None


def _key(name: str, specs: Sequence[jax.ShapeDtypeStruct]) -> str:
  devices = jax.devices()
  parts = [name, repr([(s.shape, str(s.dtype)) for s in specs]),
           _source_digest(), jax.__version__, jax.lib.__version__,
           devices[0].platform, devices[0].device_kind, str(len(devices)),
           os.environ.get('XLA_FLAGS', '')]
  return hashlib.sha256('\n'.join(parts).encode()).hexdigest()


def compile_program(fn, specs: Sequence[jax.ShapeDtypeStruct],
                    name: str) -> Callable:
  """`fn.lower(*specs).compile()`, from disk when this was compiled before.

  Args:
    fn: a `jax.jit`-wrapped function.
    specs: its arguments' shapes and dtypes.
    name: a description of `fn` that is unique among the programs cached
      (e.g. the repr of its static options).

  Returns:
    The compiled program.
  """
  folder = _folder()
  if folder is None:
    return fn.lower(*specs).compile()
  path = folder / (_key(name, specs) + '.pkl')
  try:
    with open(path, 'rb') as f:
      # On the default device, as `fn.lower(...).compile()` would be.
      return serialize_executable.deserialize_and_load(
          *pickle.load(f), execution_devices=jax.devices()[:1])
  except Exception:  # pylint: disable=broad-except
    pass  # missing, truncated or from an incompatible build: compile again
  compiled = fn.lower(*specs).compile()
  try:
    folder.mkdir(parents=True, exist_ok=True)
    data = pickle.dumps(serialize_executable.serialize(compiled))
    # Complete or absent: write a temporary file, then rename it.
    with tempfile.NamedTemporaryFile(dir=folder, delete=False,
                                     suffix='.tmp') as f:
      f.write(data)
    os.replace(f.name, path)
  except Exception:  # pylint: disable=broad-except
    pass  # a cache that cannot be written is slower, not wrong
  return compiled
