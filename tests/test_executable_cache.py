"""Tests of the on-disk cache of compiled programs."""

import pathlib
import tempfile

from absl.testing import absltest
import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import executable_cache
from vgpnn_jax import generation


class ExecutableCacheTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self._folder = tempfile.mkdtemp()
    self._before = jax.config.jax_compilation_cache_dir
    jax.config.update('jax_compilation_cache_dir', self._folder)

  def tearDown(self):
    jax.config.update('jax_compilation_cache_dir', self._before)
    super().tearDown()

  def _files(self):
    return sorted(pathlib.Path(self._folder).glob('vgpnn_jax_executables/*'))

  def test_second_compile_loads_the_same_program(self):
    fn = jax.jit(lambda k, x: x * 2 + jax.random.normal(k, x.shape))
    specs = [jax.ShapeDtypeStruct((), jax.random.key(0).dtype),
             jax.ShapeDtypeStruct((5,), jnp.float32)]
    first = executable_cache.compile_program(fn, specs, 'double')
    files = self._files()
    self.assertLen(files, 1)
    self.assertEqual(files[0].suffix, '.pkl')
    second = executable_cache.compile_program(fn, specs, 'double')
    x = jnp.arange(5, dtype=jnp.float32)
    np.testing.assert_array_equal(second(jax.random.key(3), x),
                                  first(jax.random.key(3), x))
    # Another name or shape is another program.
    executable_cache.compile_program(fn, specs, 'other')
    executable_cache.compile_program(
        fn, [specs[0], jax.ShapeDtypeStruct((6,), jnp.float32)], 'double')
    self.assertLen(self._files(), 3)

  def test_corrupt_file_is_compiled_again(self):
    fn = jax.jit(lambda x: x + 1)
    specs = [jax.ShapeDtypeStruct((3,), jnp.float32)]
    executable_cache.compile_program(fn, specs, 'plus one')
    (path,) = self._files()
    path.write_bytes(b'not a pickle')
    again = executable_cache.compile_program(fn, specs, 'plus one')
    np.testing.assert_array_equal(again(jnp.zeros(3)), np.ones(3))
    self.assertGreater(path.stat().st_size, 100)  # rewritten

  def test_generation_from_cache_equals_uncached(self):
    video = np.random.default_rng(0).uniform(
        size=(4, 20, 24, 3)).astype(np.float32)
    config = generation.make_config(num_iters=2, min_side=16)
    key = jax.random.key(1)
    cached_runs = [generation.generate(key, video, config) for _ in range(2)]
    self.assertNotEmpty(self._files())
    jax.config.update('jax_compilation_cache_dir', self._before)
    uncached = generation.generate(key, video, config)
    np.testing.assert_array_equal(cached_runs[0], uncached)
    np.testing.assert_array_equal(cached_runs[1], uncached)


if __name__ == '__main__':
  absltest.main()
