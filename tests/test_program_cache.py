"""Tests of the on-disk program cache (lowered programs kept as StableHLO)."""

import jax
import jax.numpy as jnp
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

  def no_load(path):
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


def test_generation_same_output_with_and_without_cache(cache_dir):
  video = jax.random.uniform(jax.random.key(3), (4, 20, 24, 3))
  keys = jax.random.split(jax.random.key(4), 2)
  config = vgpnn_jax.make_config(search='patchmatch', num_iters=2)
  first = vgpnn_jax.generate_batch(keys, video, config)
  assert list((cache_dir / 'vgpnn_jax_programs').iterdir())
  second = vgpnn_jax.generate_batch(keys, video, config)
  jax.config.update('jax_compilation_cache_dir', None)
  uncached = vgpnn_jax.generate_batch(keys, video, config)
  np.testing.assert_array_equal(first, second)
  np.testing.assert_array_equal(first, uncached)
