"""Level programs kept on disk as StableHLO, so that a second run skips tracing.

JAX's persistent compilation cache skips XLA's compilation on a second run,
but it finds its cache key by tracing and lowering every program first: about
14 s of single-threaded Python for the 30 level programs of a 13x144x256
video on a 2-core CPU, half of a cached run. This cache keeps each program
lowered and serialized (`jax.export`, a stable, portable format), keyed by
everything that shapes it: a description of the program, its argument shapes,
the source of this package, the JAX version, the backend and XLA_FLAGS. A
second run deserializes it (milliseconds) and compiles it, which JAX's
compilation cache answers: 3 s instead of 14 s for those 30 programs. Within
one process a program is loaded once and kept.

Compiled executables are never serialized by this module (deserialized
XLA:CPU executables loaded by hand crashed now and then; JAX's own
compilation cache handles those).

It is on only where JAX's compilation cache is (`jax_compilation_cache_dir`,
which the command line sets), in a subfolder of it. Anything unreadable is
lowered again; a file is written under a temporary name and renamed, so it is
complete or absent.
"""

import functools
import hashlib
import os
import pathlib
import tempfile
from typing import Callable, Sequence

import jax
from jax import export
import jaxlib

_SUBFOLDER = 'vgpnn_jax_programs'

# Programs compiled in this process, by file: loading one from the caches
# again (tracing the exported call, reading and linking the executable) cost
# 2-3 s of CPU per 13x144x256 generation after the first.
_compiled: dict[pathlib.Path, Callable] = {}


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
  """Hash of this package's source: a code change invalidates the cache."""
  digest = hashlib.sha256()
  for path in sorted(pathlib.Path(__file__).parent.glob('*.py')):
    digest.update(path.name.encode())
    digest.update(path.read_bytes())
  return digest.hexdigest()


def folder() -> pathlib.Path | None:
  """Where programs are kept, or None when JAX's compilation cache is off."""
  cache = jax.config.jax_compilation_cache_dir
  return pathlib.Path(cache) / _SUBFOLDER if cache else None


def _file_name(name: str, specs: Sequence[jax.ShapeDtypeStruct]) -> str:
  device = jax.devices()[0]
  parts = [name, repr(jax.tree.map(lambda s: (tuple(s.shape), str(s.dtype)),
                                    tuple(specs))),
           _source_digest(), jax.__version__, jaxlib.__version__,
           device.platform, device.device_kind,
           device.client.platform_version,
           os.environ.get('XLA_FLAGS', '')]
  return hashlib.sha256('\n'.join(parts).encode()).hexdigest() + '.stablehlo'


def _load(path: pathlib.Path) -> export.Exported | None:
  try:
    return export.deserialize(bytearray(path.read_bytes()))
  except Exception:  # pylint: disable=broad-except
    return None  # missing, truncated or from another build: lower again


def _save(path: pathlib.Path, exported: export.Exported) -> None:
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False,
                                     suffix='.tmp') as f:
      f.write(exported.serialize())
    os.replace(f.name, path)
  except OSError:
    pass  # a cache that cannot be written is slower, not wrong


def compile_program(fn, specs: Sequence[jax.ShapeDtypeStruct],
                    name: str) -> Callable:
  """`fn` compiled for arguments of `specs`, lowered from disk if it was before.

  Args:
    fn: a `jax.jit`-wrapped function of positional arrays.
    specs: its arguments' shapes and dtypes (ShapeDtypeStructs, or pytrees
      of them, None included).
    name: a description of `fn` unique among the programs cached (e.g. the
      repr of its static options).

  Returns:
    The compiled program, called as `fn(*args)` with arrays of `specs` on
    the default device.
  """
  where = folder()
  if where is None:
    return fn.lower(*specs).compile()  # JAX keeps it for the next call
  path = where / _file_name(name, specs)
  compiled = _compiled.get(path)
  if compiled is not None:
    return compiled
  exported = _load(path)
  if exported is None:
    exported = export.export(fn)(*specs)
    _save(path, exported)
  # The same module on the first run as on later ones: JAX's compilation
  # cache then answers the later ones.
  compiled = jax.jit(exported.call).lower(*specs).compile()
  _compiled[path] = compiled
  return compiled
