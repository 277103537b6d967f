"""Tests of the antialiased cubic resize against a NumPy loop reference."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from tests import reference
from vgpnn_jax import resampling as resize_lib


class ResizeTest(parameterized.TestCase):

  @parameterized.product(
      axis=(0, 1, 2),
      sizes=((9, 5), (5, 9), (7, 3), (3, 8), (13, 11), (11, 13), (17, 2),
             (1, 4), (4, 1)),
      jit=(False, True))
  def test_matches_numpy_reference(self, axis, sizes, jit):
    in_size, out_size = sizes
    shape = [5, 6, 7, 2]
    shape[axis] = in_size
    x = np.random.default_rng(axis + in_size).uniform(size=shape)
    x = x.astype(np.float32)
    target = list(shape[:3])
    target[axis] = out_size
    fn = jax.jit(resize_lib.resize, static_argnums=1) if jit else (
        resize_lib.resize)
    got = np.asarray(fn(x, tuple(target)))
    want = reference.resize(x, target)
    self.assertEqual(got.shape, tuple(target) + (2,))
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)

  def test_all_axes_at_once(self):
    x = np.random.default_rng(0).uniform(size=(7, 11, 13, 3))
    x = x.astype(np.float32)
    got = resize_lib.resize(x, (4, 15, 9))
    np.testing.assert_allclose(got, reference.resize(x, (4, 15, 9)),
                               atol=1e-5)

  def test_same_size_is_identity(self):
    x = np.random.default_rng(1).uniform(size=(3, 5, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(resize_lib.resize(x, (3, 5, 6)), x)

  def test_constant_stays_constant(self):
    # Weights sum to one, so a constant video keeps its value at any size.
    x = np.full((4, 9, 10, 3), 0.3, np.float32)
    got = resize_lib.resize(x, (2, 4, 17))
    np.testing.assert_allclose(got, 0.3, atol=1e-6)

  def test_taps_sum_to_one(self):
    for sizes in ((10, 3), (3, 10), (100, 15), (15, 15)):
      _, weights = resize_lib.resize_taps(*sizes)
      np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)

  def test_rejects_bad_shapes(self):
    x = np.zeros((2, 3, 4, 3), np.float32)
    with self.assertRaisesRegex(ValueError, 'more axes'):
      resize_lib.resize(x, (1, 2, 3, 4, 5))
    with self.assertRaisesRegex(ValueError, '>= 1'):
      resize_lib.resize(x, (0, 3, 4))


class ResizeFramesTest(parameterized.TestCase):

  @parameterized.parameters(((20, 13, 15),), ((17, 13, 15),), ((40, 9, 13),),
                            ((9, 11, 13),))
  def test_a_window_of_frames_is_those_frames_of_the_whole(self, shape):
    x = np.random.default_rng(0).random((17, 11, 13, 3)).astype(np.float32)
    whole = np.asarray(resize_lib.resize(x, shape))
    window = jax.jit(lambda first, count: resize_lib.resize_frames(
        x, shape, first, count), static_argnums=1)
    for first, count in ((0, 5), (3, 6), (shape[0] - 4, 4), (0, shape[0])):
      # The axes are resized in another order: float rounding only.
      np.testing.assert_allclose(window(first, count),
                                 whole[first:first + count], atol=1e-6)
    with self.assertRaisesRegex(ValueError, 'count must be in'):
      resize_lib.resize_frames(x, shape, 0, shape[0] + 1)


if __name__ == '__main__':
  absltest.main()
