"""Sharding a batch of variations over (fake CPU) devices."""

from absl.testing import absltest
import jax
import numpy as np

import vgpnn_jax
from vgpnn_jax import sharding

_CONFIG = vgpnn_jax.make_config(patch_size=(3, 5, 5), min_side=10,
                                max_levels=2, num_iters=1, search='exact',
                                noise_std=0.5)


class ShardingTest(absltest.TestCase):

  def test_sharded_batch_equals_unsharded(self):
    self.assertGreaterEqual(jax.device_count(), 4)  # set in conftest.py
    video = np.random.default_rng(0).uniform(size=(4, 14, 16, 3))
    video = video.astype(np.float32)
    keys = jax.random.split(jax.random.key(7), 4)
    sharded_keys = sharding.shard_keys(keys)
    self.assertLen(sharded_keys.sharding.device_set, 4)
    sharded = vgpnn_jax.generate_batch(sharded_keys, video, _CONFIG)
    self.assertLen(sharded.sharding.device_set, 4)
    plain = vgpnn_jax.generate_batch(keys, video, _CONFIG)
    np.testing.assert_allclose(sharded, plain, atol=1e-6)

  def test_uneven_batch_is_refused(self):
    with self.assertRaisesRegex(ValueError, 'multiple of 4'):
      sharding.shard_keys(jax.random.split(jax.random.key(0), 3))


if __name__ == '__main__':
  absltest.main()
