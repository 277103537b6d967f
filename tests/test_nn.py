"""Tests of the exact chunked nearest-neighbour search."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from tests import reference
from vgpnn_jax import nn


class ExactNearestTest(parameterized.TestCase):

  @parameterized.parameters((1, 500), (7, 64), (1024, 300), (4096, 50))
  def test_matches_brute_force(self, chunk_size, num_keys):
    rng = np.random.default_rng(chunk_size)
    queries = rng.normal(size=(333, 27)).astype(np.float32)
    keys = rng.normal(size=(num_keys, 27)).astype(np.float32)
    index, dist = nn.exact_nearest(queries, keys, chunk_size=chunk_size)
    want_index, want_dist = reference.nearest(queries, keys)
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_allclose(dist, want_dist, rtol=1e-4, atol=1e-4)

  def test_first_index_on_ties(self):
    keys = np.array([[1., 0], [0, 0], [0, 0], [1, 1]], np.float32)
    index, dist = nn.exact_nearest(np.zeros((3, 2), np.float32), keys)
    np.testing.assert_array_equal(index, [1, 1, 1])
    np.testing.assert_array_equal(dist, [0, 0, 0])

  def test_completeness_term(self):
    rng = np.random.default_rng(5)
    queries = rng.normal(size=(40, 6)).astype(np.float32)
    keys = rng.normal(size=(30, 6)).astype(np.float32)
    alpha = 0.5
    index, dist = nn.exact_nearest(queries, keys, alpha=alpha, chunk_size=16)
    d = ((queries[:, None].astype(np.float64) - keys[None])**2).sum(-1)
    scores = d / (alpha + d.min(axis=0))[None, :]
    np.testing.assert_array_equal(index, scores.argmin(axis=1))
    np.testing.assert_allclose(dist, d[np.arange(40), scores.argmin(axis=1)],
                               rtol=1e-4)

  def test_min_distance_to(self):
    rng = np.random.default_rng(6)
    a = rng.normal(size=(50, 5)).astype(np.float32)
    b = rng.normal(size=(20, 5)).astype(np.float32)
    np.testing.assert_allclose(nn.min_distance_to(a, b, chunk_size=8),
                               reference.nearest(a, b)[1], rtol=1e-4)

  @parameterized.parameters(2, 3, 5)
  def test_a_batch_under_vmap_equals_each_member_alone(self, batch):
    # The chosen keys and the completeness term's minima bit for bit: a
    # generation made in a batch must equal the same key's made alone, and a
    # near tie flipped by rounding changes the output.
    rng = np.random.default_rng(batch)
    queries = rng.uniform(size=(batch, 300, 75)).astype(np.float32)
    keys = rng.uniform(size=(400, 75)).astype(np.float32)
    search = jax.jit(jax.vmap(
        lambda q: nn.exact_nearest(q, keys, alpha=1.0, chunk_size=128)))
    nearest = jax.jit(jax.vmap(
        lambda q: nn.min_distance_to(keys, q, chunk_size=128)))
    index, dist = search(queries)
    to_queries = nearest(queries)
    for i in range(batch):
      one_index, one_dist = nn.exact_nearest(queries[i], keys, alpha=1.0,
                                             chunk_size=128)
      np.testing.assert_array_equal(index[i], one_index)
      np.testing.assert_allclose(dist[i], one_dist, rtol=1e-6)
      np.testing.assert_array_equal(
          to_queries[i], nn.min_distance_to(keys, queries[i], chunk_size=128))

  def test_rejects_mismatched_dims(self):
    with self.assertRaisesRegex(ValueError, 'expected'):
      nn.exact_nearest(np.zeros((3, 4)), np.zeros((3, 5)))


if __name__ == '__main__':
  absltest.main()
