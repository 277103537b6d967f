"""Tests of the on-disk program cache (lowered programs kept as StableHLO)."""

import errno
import os

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import pytest

import vgpnn_jax
from vgpnn_jax import program_cache


@pytest.fixture
def no_cache_dir():
  previous = jax.config.jax_compilation_cache_dir
  jax.config.update('jax_compilation_cache_dir', None)
  yield
  jax.config.update('jax_compilation_cache_dir', previous)


@pytest.fixture
def cache_dir(tmp_path):
  previous = jax.config.jax_compilation_cache_dir
  jax.config.update('jax_compilation_cache_dir', str(tmp_path))
  yield tmp_path
  jax.config.update('jax_compilation_cache_dir', previous)


def _forget_this_process():
  """What a new process would see: the files on disk only."""
  program_cache._compiled.clear()  # pylint: disable=protected-access


def _program():
  return jax.jit(lambda x, key: jnp.sin(x) * jax.random.normal(key, x.shape))


def _specs():
  return (jax.ShapeDtypeStruct((4, 5), jnp.float32),
          jax.ShapeDtypeStruct((), jax.random.key(0).dtype))


def test_off_without_compilation_cache(no_cache_dir):
  del no_cache_dir
  assert program_cache.folder() is None
  compiled = program_cache.compile_program(_program(), _specs(), 'sin')
  x = jnp.arange(20.0).reshape(4, 5)
  np.testing.assert_array_equal(compiled(x, jax.random.key(1)),
                                _program()(x, jax.random.key(1)))


def test_second_call_loads_from_disk_and_matches(cache_dir, monkeypatch):
  x = jnp.arange(20.0).reshape(4, 5)
  first = program_cache.compile_program(_program(), _specs(), 'sin')
  files = list((cache_dir / 'vgpnn_jax_programs').glob('*.stablehlo'))
  assert len(files) == 1

  def no_export(*args, **kwargs):
    raise AssertionError('the program was traced again')

  monkeypatch.setattr(program_cache.export, 'export', no_export)
  _forget_this_process()
  second = program_cache.compile_program(_program(), _specs(), 'sin')
  expected = _program()(x, jax.random.key(1))
  np.testing.assert_array_equal(first(x, jax.random.key(1)), expected)
  np.testing.assert_array_equal(second(x, jax.random.key(1)), expected)


def test_same_process_reuses_the_compiled_program(cache_dir, monkeypatch):
  del cache_dir
  first = program_cache.compile_program(_program(), _specs(), 'sin')

  def no_load(path, key):
    del key
    raise AssertionError(f'{path} was read again')

  monkeypatch.setattr(program_cache, '_load', no_load)
  assert program_cache.compile_program(_program(), _specs(), 'sin') is first
  # Another name is another program.
  with pytest.raises(AssertionError, match='read again'):
    program_cache.compile_program(_program(), _specs(), 'other')


def test_names_and_shapes_key_the_files(cache_dir):
  program_cache.compile_program(_program(), _specs(), 'sin')
  program_cache.compile_program(_program(), _specs(), 'other')
  wider = (jax.ShapeDtypeStruct((4, 6), jnp.float32), _specs()[1])
  program_cache.compile_program(_program(), wider, 'sin')
  assert len(list((cache_dir / 'vgpnn_jax_programs').iterdir())) == 3


def test_corrupt_file_is_lowered_again(cache_dir):
  program_cache.compile_program(_program(), _specs(), 'sin')
  (path,) = (cache_dir / 'vgpnn_jax_programs').glob('*.stablehlo')
  path.write_bytes(b'not a program')
  _forget_this_process()
  compiled = program_cache.compile_program(_program(), _specs(), 'sin')
  x = jnp.ones((4, 5))
  np.testing.assert_array_equal(compiled(x, jax.random.key(2)),
                                _program()(x, jax.random.key(2)))
  assert path.read_bytes() != b'not a program'  # rewritten whole


def _counting_exports(monkeypatch):
  """A list that gets one entry per program traced and exported."""
  calls = []
  real = program_cache.export.export

  def counting(*args, **kwargs):
    calls.append(args)
    return real(*args, **kwargs)

  monkeypatch.setattr(program_cache.export, 'export', counting)
  return calls


def _assert_fresh_result(compiled):
  x = jnp.arange(20.0).reshape(4, 5)
  np.testing.assert_array_equal(compiled(x, jax.random.key(5)),
                                _program()(x, jax.random.key(5)))


def test_file_from_another_jaxlib_is_rebuilt(cache_dir, monkeypatch):
  programs = cache_dir / 'vgpnn_jax_programs'
  with monkeypatch.context() as m:
    m.setattr(jaxlib, '__version__', '0.0.1')
    program_cache.compile_program(_program(), _specs(), 'sin')
    other_key = program_cache._key('sin', _specs())  # pylint: disable=protected-access
  (other,) = programs.glob('*.stablehlo')
  key = program_cache._key('sin', _specs())  # pylint: disable=protected-access
  assert 'jaxlib 0.0.1' in other_key and 'jaxlib 0.0.1' not in key
  # Another version is another file name; and one renamed to this version's
  # name (a copied cache, a hash collision) is caught by its header.
  path = programs / program_cache._file_name(key)  # pylint: disable=protected-access
  assert other != path
  other.rename(path)
  _forget_this_process()
  exports = _counting_exports(monkeypatch)
  compiled = program_cache.compile_program(_program(), _specs(), 'sin')
  assert len(exports) == 1  # traced again, not loaded
  _assert_fresh_result(compiled)
  assert b'jaxlib 0.0.1' not in path.read_bytes()  # written over
  assert f'jaxlib {jaxlib.__version__}'.encode() in path.read_bytes()
  # The rewritten file is then used.
  _forget_this_process()
  program_cache.compile_program(_program(), _specs(), 'sin')
  assert len(exports) == 1


def test_truncated_file_is_rebuilt(cache_dir, monkeypatch):
  program_cache.compile_program(_program(), _specs(), 'sin')
  (path,) = (cache_dir / 'vgpnn_jax_programs').glob('*.stablehlo')
  whole = path.read_bytes()
  key = program_cache._key('sin', _specs())  # pylint: disable=protected-access
  exports = _counting_exports(monkeypatch)
  for size in (len(whole) - 1, len(whole) // 2, 10, 0):
    path.write_bytes(whole[:size])
    assert program_cache._load(path, key) is None  # pylint: disable=protected-access
    _forget_this_process()
    compiled = program_cache.compile_program(_program(), _specs(), 'sin')
    _assert_fresh_result(compiled)
    # Written whole again (serializing twice need not give the same bytes).
    assert program_cache._load(path, key) is not None  # pylint: disable=protected-access
  assert len(exports) == 4


def test_settings_that_change_programs_key_the_files(cache_dir):
  program_cache.compile_program(_program(), _specs(), 'sin')
  with jax.default_matmul_precision('highest'):
    program_cache.compile_program(_program(), _specs(), 'sin')
  partitionable = jax.config.jax_threefry_partitionable
  jax.config.update('jax_threefry_partitionable', not partitionable)
  try:
    program_cache.compile_program(_program(), _specs(), 'sin')
  finally:
    jax.config.update('jax_threefry_partitionable', partitionable)
  assert len(list((cache_dir / 'vgpnn_jax_programs').iterdir())) == 3
  key = program_cache._key('sin', _specs())  # pylint: disable=protected-access
  assert 'jax_enable_x64=False' in key
  assert f'jax {jax.__version__}' in key


class _FullDisk:
  """`os.fdopen` of a disk that fills after 10 bytes (or an interrupt)."""

  def __init__(self, error):
    self._error = error

  def __call__(self, fd, mode):
    self._file = os.fdopen(fd, mode)
    return self

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self._file.close()

  def write(self, data):
    self._file.write(data[:10])
    self._file.flush()
    raise self._error


class _Os:
  """`os` with some functions replaced, for program_cache only."""

  def __init__(self, **replaced):
    self.__dict__.update(replaced)

  def __getattr__(self, name):
    return getattr(os, name)


def _fail_replace(*args):
  raise OSError(errno.EXDEV, 'Invalid cross-device link', *args)


@pytest.mark.parametrize('failing_os', [
    _Os(replace=_fail_replace),
    _Os(fdopen=_FullDisk(OSError(errno.ENOSPC, 'No space left on device'))),
], ids=['rename', 'write'])
def test_failed_write_leaves_no_file(cache_dir, monkeypatch, failing_os):
  monkeypatch.setattr(program_cache, 'os', failing_os)
  compiled = program_cache.compile_program(_program(), _specs(), 'sin')
  _assert_fresh_result(compiled)
  assert not list((cache_dir / 'vgpnn_jax_programs').iterdir())


def test_interrupted_write_leaves_no_file(cache_dir, monkeypatch):
  monkeypatch.setattr(program_cache, 'os',
                      _Os(fdopen=_FullDisk(KeyboardInterrupt())))
  with pytest.raises(KeyboardInterrupt):
    program_cache.compile_program(_program(), _specs(), 'sin')
  assert not list((cache_dir / 'vgpnn_jax_programs').iterdir())


def test_generation_same_output_with_and_without_cache(cache_dir):
  video = jax.random.uniform(jax.random.key(3), (4, 20, 24, 3))
  keys = jax.random.split(jax.random.key(4), 2)
  # Two levels (a coarsest and a finer start), one iteration and no guard
  # draws: each distinct program is compiled twice here (cached and not).
  config = vgpnn_jax.make_config(search='exact', max_levels=2,
                                 num_iters=1, layout_draws=1)
  first = vgpnn_jax.generate_batch(keys, video, config)
  assert list((cache_dir / 'vgpnn_jax_programs').iterdir())
  second = vgpnn_jax.generate_batch(keys, video, config)
  jax.config.update('jax_compilation_cache_dir', None)
  uncached = vgpnn_jax.generate_batch(keys, video, config)
  np.testing.assert_array_equal(first, second)
  np.testing.assert_array_equal(first, uncached)
