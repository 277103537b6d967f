"""Sharding a batch of variations over (fake CPU) devices."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

import vgpnn_jax
from vgpnn_jax import patches
from vgpnn_jax import pnn
from vgpnn_jax import sharding

# The mean fold: sharding is what these tests check, and the median fold's
# programs take twice as long to compile.
_CONFIG = vgpnn_jax.make_config(patch_size=(3, 5, 5), min_side=10,
                                max_levels=2, num_iters=1, search='exact',
                                noise_std=5.0, noise_unit='value',
                                reduce='mean')
# One level keeps the compilations short; the queries are split the same way
# at every level.
_ONE_LEVEL = vgpnn_jax.make_config(_CONFIG, max_levels=1)


class ShardingTest(absltest.TestCase):

  def test_sharded_batch_equals_unsharded(self):
    self.assertGreaterEqual(jax.device_count(), 4)  # set in conftest.py
    video = np.random.default_rng(0).uniform(size=(4, 14, 16, 3))
    video = video.astype(np.float32)
    keys = jax.random.split(jax.random.key(7), 4)
    sharded_keys = sharding.shard_keys(keys)
    self.assertLen(sharded_keys.sharding.device_set, 4)
    sharded = vgpnn_jax.generate_batch(sharded_keys, video, _CONFIG)
    # Each device computed (and holds) its own variation, not all four.
    self.assertEqual(sharded.sharding.spec[0], sharding.BATCH_AXIS)
    self.assertEqual({shard.data.shape[0]
                      for shard in sharded.addressable_shards}, {1})
    plain = vgpnn_jax.generate_batch(keys, video, _CONFIG)
    np.testing.assert_allclose(sharded, plain, atol=1e-6)
    # The keys matter: the devices did not all make the same variation.
    self.assertGreater(float(np.abs(plain[0] - plain[1]).mean()), 0.05)

  def test_uneven_batch_is_refused(self):
    with self.assertRaisesRegex(ValueError, 'multiple of 4'):
      sharding.shard_keys(jax.random.split(jax.random.key(0), 3))



class LoopOverBatchTest(absltest.TestCase):

  def test_a_loop_unless_the_batch_is_split(self):
    @sharding.loop_over_batch
    def scaled_sum(x, scale):
      return (x * scale[None]).sum(axis=-1), x[0]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 5)).astype(np.float32)
    scale = rng.normal(size=(5,)).astype(np.float32)
    want = (x * scale[None, None]).sum(-1)
    fn = jax.jit(jax.vmap(scaled_sum, in_axes=(0, None)))
    total, first = fn(x, scale)
    np.testing.assert_allclose(total, want, rtol=1e-6)
    np.testing.assert_array_equal(first, x[:, 0])
    self.assertIn('while', fn.lower(x, scale).as_text())  # a loop
    # Split over a 'batch' mesh: batched by vmap, no gather of the batch.
    keys = sharding.shard_keys(jax.random.split(jax.random.key(0), 4))
    split = jax.device_put(x, keys.sharding)
    with sharding.batch_mesh_of(keys):
      compiled = fn.lower(split, scale).compile()
      total, _ = compiled(split, scale)
    np.testing.assert_allclose(total, want, rtol=1e-6)
    self.assertNotIn('while', compiled.as_text())
    self.assertNotIn('all-gather', compiled.as_text())


class SpreadQueriesTest(parameterized.TestCase):
  """One video over several devices: the queries split, the output equal."""

  @parameterized.parameters('exact', 'patchmatch')
  def test_spread_generation_equals_one_device(self, search):
    video = np.random.default_rng(1).uniform(size=(5, 20, 16, 3))
    video = video.astype(np.float32)
    config = vgpnn_jax.make_config(_ONE_LEVEL, search=search, alpha=0.01)
    key = jax.random.key(3)
    plain = vgpnn_jax.generate(key, video, config)
    with sharding.spread_queries():
      self.assertEqual(sharding.query_devices(), 4)
      spread = vgpnn_jax.generate(key, video, config)
    self.assertEqual(sharding.query_devices(), 1)
    np.testing.assert_allclose(spread, plain, atol=1e-6)

  def test_spread_batch_equals_one_device(self):
    video = np.random.default_rng(2).uniform(size=(4, 14, 16, 3))
    video = video.astype(np.float32)
    keys = jax.random.split(jax.random.key(5), 2)
    plain = vgpnn_jax.generate_batch(keys, video, _ONE_LEVEL)
    with sharding.spread_queries():
      spread = vgpnn_jax.generate_batch(keys, video, _ONE_LEVEL)
    np.testing.assert_allclose(spread, plain, atol=1e-6)

  def test_spread_search_needs_less_memory_per_device(self):
    # The exact search's working memory (its chunk of distances) is what
    # grows with the video; each of the 4 devices holds a quarter of it.
    rng = np.random.default_rng(0)
    queries = rng.uniform(size=(6, 40, 32, 3)).astype(np.float32)
    options = pnn.StepOptions(patch_size=(3, 5, 5), num_iters=1,
                              search='exact')
    iteration = pnn.compiled_iteration(options)
    grid = patches.grid_shape(queries.shape[:3], options.patch_size)
    args = (jax.random.key(0), queries, queries, queries,
            np.zeros(grid + (3,), np.int32), np.int32(0), None, None, None)
    def temp_bytes():
      compiled = iteration.lower(*args).compile()
      return compiled.memory_analysis().temp_size_in_bytes
    alone = temp_bytes()
    with sharding.spread_queries():
      spread = temp_bytes()
      output, field = iteration(*args)
    self.assertLess(spread, 0.4 * alone)
    plain_output, plain_field = iteration(*args)
    np.testing.assert_array_equal(field, plain_field)
    np.testing.assert_allclose(output, plain_output, atol=1e-6)

  def test_mesh_without_the_queries_axis_is_refused(self):
    with self.assertRaisesRegex(ValueError, "'queries' axis"):
      sharding.spread_queries(sharding.batch_mesh())


if __name__ == '__main__':
  absltest.main()
