"""Level programs kept on disk as StableHLO, so that a second run skips tracing.

JAX's persistent compilation cache skips XLA's compilation on a second run,
but it finds its cache key by tracing and lowering every program first: about
14 s of single-threaded Python for the 30 level programs of a 13x144x256
video on a 2-core CPU, half of a cached run. This cache keeps each program
lowered and serialized (`jax.export`, a stable, portable format), keyed by
everything that shapes it: a description of the program, its argument shapes,
the source of this package, the jax and jaxlib versions, the JAX settings that
change a lowered program (x64, matmul precision, PRNG), the backend and
XLA_FLAGS. A second run deserializes it (milliseconds) and compiles it, which
JAX's compilation cache answers: 3 s instead of 14 s for those 30 programs.
Within one process a program is loaded once and kept.

Compiled executables are never serialized by this module (deserialized
XLA:CPU executables loaded by hand crashed now and then; JAX's own
compilation cache handles those).

It is on only where JAX's compilation cache is (`jax_compilation_cache_dir`,
which the command line sets), in a subfolder of it. Each file starts with a
header holding its whole key and the size and sha256 of the program after it;
a file whose header does not match (another build, a hash collision, a file
copied in), or that is truncated or unreadable, is lowered again and written
over. A file is written under a temporary name and renamed, so it is complete
or absent, and a failed write leaves no temporary file.
"""

import contextlib
import functools
import hashlib
import json
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


# JAX settings that change the program lowered from the same function and
# shapes (dtypes, dot precision, random bits, partitioner): a program lowered
# under other values must not be reused.
_SETTINGS = ('jax_enable_x64', 'jax_default_matmul_precision',
             'jax_threefry_partitionable', 'jax_default_prng_impl',
             'jax_use_shardy_partitioner')

# The first line of every file; bump it when the file layout changes.
_MAGIC = b'vgpnn_jax program v2\n'


def _key(name: str, specs: Sequence[jax.ShapeDtypeStruct]) -> list[str]:
  """Everything that shapes the lowered program, as strings."""
  device = jax.devices()[0]
  return [name, repr(jax.tree.map(lambda s: (tuple(s.shape), str(s.dtype)),
                                  tuple(specs))),
          _source_digest(), f'jax {jax.__version__}',
          f'jaxlib {jaxlib.__version__}',
          *(f'{s}={getattr(jax.config, s, None)}' for s in _SETTINGS),
          device.platform, device.device_kind,
          device.client.platform_version,
          os.environ.get('XLA_FLAGS', '')]


def _file_name(key: Sequence[str]) -> str:
  return hashlib.sha256('\n'.join(key).encode()).hexdigest() + '.stablehlo'


def _load(path: pathlib.Path, key: Sequence[str]) -> export.Exported | None:
  """The program in `path` if its header matches `key` and it is whole."""
  try:
    data = path.read_bytes()
  except OSError:
    return None  # missing or unreadable: lower again
  if not data.startswith(_MAGIC):
    return None  # another layout or not ours
  header, sep, program = data[len(_MAGIC):].partition(b'\n')
  try:
    header = json.loads(header)
  except ValueError:
    return None
  if (not sep or not isinstance(header, dict)
      or header.get('key') != list(key)
      or header.get('size') != len(program)
      or header.get('sha256') != hashlib.sha256(program).hexdigest()):
    return None  # another build's program, or truncated or damaged
  try:
    return export.deserialize(bytearray(program))
  except Exception:  # pylint: disable=broad-except
    return None  # whole but unreadable by this jax: lower again


def _save(path: pathlib.Path, key: Sequence[str],
          exported: export.Exported) -> None:
  """Writes `exported` with its header, whole or not at all."""
  program = exported.serialize()
  header = json.dumps({'key': list(key), 'size': len(program),
                       'sha256': hashlib.sha256(program).hexdigest()})
  temporary = None
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + '.',
                                     suffix='.tmp')
    with os.fdopen(fd, 'wb') as f:
      f.write(_MAGIC + header.encode() + b'\n' + program)
    os.replace(temporary, path)
    temporary = None
  except OSError:
    pass  # a cache that cannot be written is slower, not wrong
  finally:
    # Also on an interrupt: no half-written file is left to pile up.
    if temporary is not None:
      with contextlib.suppress(OSError):
        os.unlink(temporary)


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
  key = _key(name, specs)
  path = where / _file_name(key)
  compiled = _compiled.get(path)
  if compiled is not None:
    return compiled
  exported = _load(path, key)
  if exported is None:
    exported = export.export(fn)(*specs)
    _save(path, key, exported)
  # The same module on the first run as on later ones: JAX's compilation
  # cache then answers the later ones.
  compiled = jax.jit(exported.call).lower(*specs).compile()
  _compiled[path] = compiled
  return compiled
