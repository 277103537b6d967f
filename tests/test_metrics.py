"""Tests of the quality metrics against plain NumPy references."""

import math

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from vgpnn_jax import metrics
from vgpnn_jax.resampling import resize

PATCH = (3, 5, 5)


# ----------------------------------------------------------------------------
# NumPy references: float64, brute force, written for clarity.


def np_grey(video):
  video = np.asarray(video, np.float64)
  return 0.299 * video[..., 0] + 0.587 * video[..., 1] + 0.114 * video[..., 2]


def np_diversity(samples, reference):
  return np_grey(samples).std(axis=0).mean() / np_grey(reference).std()


def np_patches(video, patch_size):
  """[N, pt*ph*pw*C] patches ordered (kt, kh, kw, c), corners row-major."""
  video = np.asarray(video, np.float64)
  windows = np.lib.stride_tricks.sliding_window_view(video, patch_size,
                                                     axis=(0, 1, 2))
  # [nT, nH, nW, C, pt, ph, pw] -> [nT, nH, nW, pt, ph, pw, C]
  windows = windows.transpose(0, 1, 2, 4, 5, 6, 3)
  return windows.reshape(-1, math.prod(windows.shape[3:]))


def np_centre_mask(mask, patch_size):
  """Flat bool per patch corner: is the patch centre inside the mask."""
  pt, ph, pw = patch_size
  t, h, w = mask.shape
  inside = np.zeros((t - pt + 1, h - ph + 1, w - pw + 1), bool)
  for i in range(inside.shape[0]):
    for j in range(inside.shape[1]):
      for k in range(inside.shape[2]):
        inside[i, j, k] = mask[i + pt // 2, j + ph // 2, k + pw // 2] > 0.5
  return inside.reshape(-1)


def np_nearest_sq(queries, keys):
  return ((queries[:, None, :] - keys[None, :, :])**2).sum(-1).min(axis=1)


def np_coherence(output, reference, patch_size, mask=None):
  queries = np_patches(output, patch_size)
  if mask is not None:
    queries = queries[np_centre_mask(mask, patch_size)]
  keys = np_patches(reference, patch_size)
  return np_nearest_sq(queries, keys).mean() / queries.shape[1]


def np_w2_sq(a, b):
  """Squared W2 of two 1-D samples: expand both to lcm(na, nb) quantiles."""
  a, b = np.sort(a), np.sort(b)
  common = math.lcm(a.size, b.size)
  a = np.repeat(a, common // a.size)
  b = np.repeat(b, common // b.size)
  return ((a - b)**2).mean()


def np_sliced(x, y, directions):
  directions = np.asarray(directions, np.float64)
  a, b = x @ directions, y @ directions
  return math.sqrt(np.mean([np_w2_sq(a[:, i], b[:, i])
                            for i in range(directions.shape[1])]))


def np_patch_swd_one_scale(output, reference, key, num_projections,
                           patch_size, mask=None):
  """SWD of all patches at scale 1, directions drawn as `patch_swd` does."""
  x = np_patches(output, patch_size)
  if mask is not None:
    x = x[np_centre_mask(mask, patch_size)]
  y = np_patches(reference, patch_size)
  direction_key = metrics._swd_keys(key)[0]
  directions = metrics.random_directions(direction_key, x.shape[1],
                                         num_projections)
  return np_sliced(x, y, directions)


def videos(seed=0):
  """A 4x12x14x3 reference and a 4x10x12x3 output of random values."""
  rng = np.random.default_rng(seed)
  reference = rng.random((4, 12, 14, 3), np.float32)
  output = rng.random((4, 10, 12, 3), np.float32)
  return output, reference


def smooth_video(seed=0, shape=(4, 16, 18, 3)):
  """Random but spatially smooth, so patches have near neighbours."""
  rng = np.random.default_rng(seed)
  coarse = rng.random((shape[0], shape[1] // 4, shape[2] // 4, 3))
  return np.clip(np.asarray(resize(coarse, shape[:3])), 0, 1).astype(
      np.float32)


class MetricsTestCase(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.enterContext(jax.numpy_rank_promotion('raise'))
    self.enterContext(jax.numpy_dtype_promotion('strict'))


class DiversityTest(MetricsTestCase):

  @parameterized.parameters(False, True)
  def test_matches_numpy(self, use_jit):
    rng = np.random.default_rng(1)
    samples = rng.random((5, 3, 6, 7, 3), np.float32)
    reference = rng.random((4, 8, 9, 3), np.float32)  # another shape: fine
    fn = jax.jit(metrics.diversity) if use_jit else metrics.diversity
    np.testing.assert_allclose(fn(samples, reference),
                               np_diversity(samples, reference), rtol=1e-5)

  def test_identical_samples_score_zero(self):
    video = np.random.default_rng(2).random((3, 6, 7, 3), np.float32)
    self.assertEqual(float(metrics.diversity([video] * 4, video)), 0.0)

  def test_invariant_to_common_intensity_scale(self):
    rng = np.random.default_rng(3)
    samples = rng.random((3, 3, 6, 7, 3), np.float32)
    reference = rng.random((3, 6, 7, 3), np.float32)
    np.testing.assert_allclose(
        metrics.diversity(0.5 * samples, 0.5 * reference),
        metrics.diversity(samples, reference), rtol=1e-5)

  def test_grey_is_bt601_luma(self):
    np.testing.assert_allclose(metrics.grey([[1., 0, 0], [0, 1, 0], [0, 0, 1]]),
                               [0.299, 0.587, 0.114], rtol=1e-6)

  def test_rejects_bad_input(self):
    video = np.zeros((3, 6, 7, 3), np.float32)
    with self.assertRaisesRegex(ValueError, 'at least 2 samples'):
      metrics.diversity(video[None], video)
    with self.assertRaisesRegex(ValueError, r'\[N, T, H, W, 3\]'):
      metrics.diversity(np.zeros((2, 3, 6, 7, 1)), video)
    with self.assertRaisesRegex(ValueError, 'share one shape'):
      metrics.diversity([video, video[:, :5]], video)


class CoherenceTest(MetricsTestCase):

  @parameterized.parameters(False, True)
  def test_matches_numpy(self, use_jit):
    output, reference = videos()
    fn = lambda o, r: metrics.coherence(o, r, patch_size=PATCH)
    if use_jit:
      fn = jax.jit(fn)
    np.testing.assert_allclose(fn(output, reference),
                               np_coherence(output, reference, PATCH),
                               rtol=1e-5)

  @parameterized.parameters((7, 30), (1000, 12))
  def test_chunking_does_not_change_the_result(self, chunk_size,
                                               key_chunk_size):
    output, reference = videos(4)
    got = metrics.completeness(output, reference, patch_size=PATCH,
                               chunk_size=chunk_size,
                               key_chunk_size=key_chunk_size)
    np.testing.assert_allclose(got, np_coherence(reference, output, PATCH),
                               rtol=1e-5)

  def test_bidirectional_is_coherence_and_completeness(self):
    output, reference = videos(5)
    both = metrics.bidirectional(output, reference, patch_size=PATCH)
    np.testing.assert_allclose(both.coherence,
                               np_coherence(output, reference, PATCH),
                               rtol=1e-5)
    np.testing.assert_allclose(both.completeness,
                               np_coherence(reference, output, PATCH),
                               rtol=1e-5)

  def test_a_copy_scores_zero(self):
    video, _ = videos(6)
    both = metrics.bidirectional(video, video, patch_size=PATCH)
    # Exactly 0: the nearest patch is re-scored as sum((q - k)^2).
    self.assertEqual(float(both.coherence), 0.0)
    self.assertEqual(float(both.completeness), 0.0)

  def test_mask_keeps_patches_centred_inside(self):
    output, reference = videos(7)
    mask = np.zeros(output.shape[:3], np.float32)
    mask[1:3, 2:7, 3:9] = 1
    np.testing.assert_allclose(
        metrics.coherence(output, reference, patch_size=PATCH, mask=mask),
        np_coherence(output, reference, PATCH, mask=mask), rtol=1e-5)

  def test_centre_weights_rule(self):
    mask = np.zeros((5, 9, 9), bool)
    mask[2, 4, 5] = True
    weights = np.asarray(metrics.centre_weights(mask, (3, 5, 5)))
    self.assertEqual(weights.shape, (3, 5, 5))
    self.assertEqual(weights.sum(), 1)
    self.assertEqual(weights[1, 2, 3], 1)  # corner + (1, 2, 2) = (2, 4, 5)

  def test_max_patches_covering_all_masked_patches_is_exact(self):
    output, reference = videos(8)
    mask = np.zeros(output.shape[:3], np.float32)
    mask[1:3, 3:6, 3:7] = 1  # 2 x 3 x 4 = 24 patch centres
    got = metrics.coherence(output, reference, patch_size=PATCH, mask=mask,
                            max_patches=40, key=jax.random.key(0))
    np.testing.assert_allclose(
        got, np_coherence(output, reference, PATCH, mask=mask), rtol=1e-5)

  def test_max_patches_averages_a_random_subset(self):
    output, reference = videos(9)
    per_patch = np_nearest_sq(np_patches(output, PATCH),
                              np_patches(reference, PATCH)) / 225
    got = [float(metrics.coherence(output, reference, patch_size=PATCH,
                                   max_patches=10, key=jax.random.key(i)))
           for i in range(3)]
    again = metrics.coherence(output, reference, patch_size=PATCH,
                              max_patches=10, key=jax.random.key(0))
    self.assertEqual(got[0], float(again))  # the key decides the subset
    self.assertGreater(len(set(got)), 1)
    for value in got:
      self.assertBetween(value, per_patch.min(), per_patch.max())
    # Enough patches to cover them all: no key needed, the exact value.
    np.testing.assert_allclose(
        metrics.coherence(output, reference, patch_size=PATCH,
                          max_patches=10**6), per_patch.mean(), rtol=1e-5)

  def test_max_keys_biases_upwards(self):
    output, reference = videos(10)
    exact = float(metrics.coherence(output, reference, patch_size=PATCH))
    subset = float(metrics.coherence(output, reference, patch_size=PATCH,
                                     max_keys=20, key=jax.random.key(1)))
    self.assertGreater(subset, exact)
    np.testing.assert_allclose(
        metrics.coherence(output, reference, patch_size=PATCH,
                          max_keys=160, key=jax.random.key(1)), exact,
        rtol=1e-6)

  def test_rejects_bad_input(self):
    output, reference = videos()
    with self.assertRaisesRegex(ValueError, 'pass a `key`'):
      metrics.coherence(output, reference, patch_size=PATCH, max_patches=5)
    with self.assertRaisesRegex(ValueError, 'smaller than the patch'):
      metrics.coherence(output, reference, patch_size=(5, 5, 5))
    with self.assertRaisesRegex(ValueError, 'channels'):
      metrics.coherence(output[..., :2], reference, patch_size=PATCH)
    with self.assertRaisesRegex(ValueError, 'mask'):
      metrics.coherence(output, reference, patch_size=PATCH,
                        mask=np.ones(reference.shape[:3]))
    with self.assertRaisesRegex(ValueError, 'max_patches'):
      metrics.coherence(output, reference, patch_size=PATCH, max_patches=0)
    with self.assertRaisesRegex(ValueError, r'\[T, H, W, C\]'):
      metrics.coherence(output[0], reference, patch_size=PATCH)


class SlicedWassersteinTest(MetricsTestCase):

  @parameterized.parameters((40, 40), (60, 25))
  def test_matches_numpy(self, nx, ny):
    rng = np.random.default_rng(nx + ny)
    x = rng.normal(size=(nx, 6)).astype(np.float32)
    y = rng.normal(size=(ny, 6)).astype(np.float32) + 0.3
    directions = metrics.random_directions(jax.random.key(0), 6, 16)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=0), 1,
                               rtol=1e-6)
    np.testing.assert_allclose(metrics.sliced_wasserstein(x, y, directions),
                               np_sliced(x, y, directions), rtol=1e-5)

  def test_valid_points_only(self):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.normal(size=(36, 4)).astype(np.float32)
    valid = rng.random(50) < 0.5
    directions = metrics.random_directions(jax.random.key(1), 4, 8)
    np.testing.assert_allclose(
        metrics.sliced_wasserstein(x, y, directions, x_valid=valid),
        np_sliced(x[valid], y, directions), rtol=1e-4)


class PatchSwdTest(MetricsTestCase):

  def test_matches_numpy_under_jit(self):
    output, reference = videos(12)
    key = jax.random.key(3)
    fn = jax.jit(lambda o, r: metrics.patch_swd(
        o, r, key=key, patch_size=PATCH, scales=(1,), num_projections=8))
    got = fn(output, reference)
    want = np_patch_swd_one_scale(output, reference,
                                  jax.random.fold_in(key, 0), 8, PATCH)
    np.testing.assert_allclose(got.per_scale, [want], rtol=1e-5)
    np.testing.assert_allclose(got.mean, want, rtol=1e-5)

  def test_scales_downscale_in_space(self):
    output, reference = smooth_video(13, (4, 20, 22, 3)), smooth_video(14)
    key = jax.random.key(4)
    got = metrics.patch_swd(output, reference, key=key, patch_size=PATCH,
                            scales=(2, 2), num_projections=8)
    self.assertEqual(got.per_scale.shape, (2,))
    small_out = np.asarray(resize(output, (4, 10, 11)))
    small_ref = np.asarray(resize(reference, (4, 8, 9)))
    for index in range(2):  # scale i draws with fold_in(key, i)
      want = np_patch_swd_one_scale(small_out, small_ref,
                                    jax.random.fold_in(key, index), 8, PATCH)
      np.testing.assert_allclose(got.per_scale[index], want, rtol=1e-4)
    np.testing.assert_allclose(got.mean, np.mean(got.per_scale), rtol=1e-6)

  def test_mask(self):
    output, reference = videos(15)
    mask = np.zeros(output.shape[:3], np.float32)
    mask[:, 2:8, 1:6] = 1
    key = jax.random.key(5)
    got = metrics.patch_swd(output, reference, key=key, patch_size=PATCH,
                            scales=(1,), num_projections=8, mask=mask)
    want = np_patch_swd_one_scale(output, reference,
                                  jax.random.fold_in(key, 0), 8, PATCH,
                                  mask=mask)
    np.testing.assert_allclose(got.mean, want, rtol=1e-4)

  def test_zero_for_a_copy_and_grows_with_noise(self):
    video = smooth_video(16, (4, 12, 14, 3))
    rng = np.random.default_rng(16)
    noise = rng.normal(size=video.shape).astype(np.float32)
    options = dict(key=jax.random.key(6), patch_size=PATCH, scales=(1,),
                   num_projections=8)
    values = [float(metrics.patch_swd(video + s * noise, video,
                                      **options).mean)
              for s in (0.0, 0.02, 0.1)]
    self.assertLess(values[0], 1e-6)
    self.assertLess(values[0], values[1])
    self.assertLess(values[1], values[2])

  def test_max_patches_subsamples(self):
    video = smooth_video(17, (4, 12, 14, 3))
    options = dict(patch_size=PATCH, scales=(1,), num_projections=8,
                   max_patches=64)
    first = metrics.patch_swd(video, video, key=jax.random.key(7), **options)
    again = metrics.patch_swd(video, video, key=jax.random.key(7), **options)
    self.assertEqual(float(first.mean), float(again.mean))
    # Independent subsamples of output and reference: a small noise floor.
    self.assertGreater(float(first.mean), 0)
    self.assertLess(float(first.mean), 0.1)

  def test_rejects_bad_input(self):
    output, reference = videos()
    with self.assertRaisesRegex(ValueError, 'drop that scale'):
      metrics.patch_swd(output, reference, key=jax.random.key(0),
                        patch_size=PATCH, scales=(1, 4))
    with self.assertRaisesRegex(ValueError, 'pass a `key`'):
      metrics.patch_swd(output, reference, key=None, patch_size=PATCH)
    with self.assertRaisesRegex(ValueError, 'scales'):
      metrics.patch_swd(output, reference, key=jax.random.key(0),
                        patch_size=PATCH, scales=(0.5,))

  def test_usable_scales(self):
    self.assertEqual(
        metrics.usable_scales([(8, 168, 298), (8, 30, 40)], (3, 7, 7)),
        (1, 2, 4))
    self.assertEqual(metrics.usable_scales([(8, 20, 40)], (3, 7, 7)), (1, 2))
    self.assertEqual(metrics.usable_scales([(2, 20, 40)], (3, 7, 7)), ())


if __name__ == '__main__':
  absltest.main()
