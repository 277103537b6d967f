"""Tests of `noise.patch_spread` (NumPy loop, exact properties) and of
`Config.noise_unit`."""

import itertools

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

import vgpnn_jax
from tests.test_generation import _CONFIG
from tests.test_generation import _video
from vgpnn_jax import generation
from vgpnn_jax import noise
from vgpnn_jax import pyramid


def _numpy_spread(video, patch_size):
  """The mean over patches of sqrt(min distance / dim), overlaps excluded."""
  grid = [n - p + 1 for n, p in zip(video.shape[:3], patch_size)]
  corners = list(itertools.product(*[range(g) for g in grid]))
  rows = np.array([video[t:t + patch_size[0], h:h + patch_size[1],
                         w:w + patch_size[2]].ravel()
                   for t, h, w in corners], np.float64)
  corners = np.array(corners)
  nearest = []
  for i in range(len(rows)):
    d = ((rows - rows[i]) ** 2).sum(1)
    d[np.all(np.abs(corners - corners[i]) < patch_size, axis=1)] = np.inf
    if np.isfinite(d.min()):
      nearest.append(np.sqrt(d.min() / rows.shape[1]))
  return np.mean(nearest) if nearest else 0.0


class PatchSpreadTest(parameterized.TestCase):

  @parameterized.parameters(((3, 5, 5),), ((1, 3, 3),), ((2, 4, 3),))
  def test_matches_numpy(self, patch_size):
    video = np.random.default_rng(0).random((4, 11, 13, 3)).astype(
        np.float32)
    np.testing.assert_allclose(noise.patch_spread(video, patch_size),
                               _numpy_spread(video, patch_size), rtol=1e-5)

  def test_scales_with_the_video_and_ignores_an_offset(self):
    video = np.random.default_rng(1).random((3, 12, 12, 3)).astype(
        np.float32)
    spread = float(noise.patch_spread(video, (3, 5, 5)))
    self.assertAlmostEqual(float(noise.patch_spread(0.5 * video + 0.2,
                                                    (3, 5, 5))),
                           0.5 * spread, delta=1e-5)

  def test_a_repeating_texture_has_zero_spread(self):
    # A period of 4 pixels: every patch has a disjoint exact copy.
    tile = np.random.default_rng(2).random((1, 4, 4, 3)).astype(np.float32)
    video = np.tile(tile, (3, 5, 5, 1))
    # (float32 |p|^2 - 2 p.q + |q|^2 leaves ~4e-4 where the distance is 0;
    # random values spread 0.38.)
    self.assertLess(float(noise.patch_spread(video, (3, 5, 5))), 1e-3)

  def test_no_disjoint_patches_gives_zero_and_bad_shapes_raise(self):
    video = np.random.default_rng(3).random((3, 6, 6, 3)).astype(np.float32)
    self.assertEqual(float(noise.patch_spread(video, (3, 5, 5))), 0.0)
    with self.assertRaisesRegex(ValueError, 'patch'):
      noise.patch_spread(video[:2], (3, 5, 5))


class NoiseUnitTest(absltest.TestCase):

  def test_patch_spread_unit_is_that_many_spreads_of_the_coarsest(self):
    video = _video()
    coarsest = vgpnn_jax.plan_levels(video.shape[:3], _CONFIG)[-1]
    level = pyramid.build_pyramid(video, sizes=(coarsest.input_size,))[0]
    spread = float(noise.patch_spread(level, coarsest.patch_size))
    key = jax.random.key(0)
    relative = vgpnn_jax.generate(key, video, _CONFIG, noise_std=2.0,
                                  noise_unit='patch_spread')
    absolute = vgpnn_jax.generate(key, video, _CONFIG,
                                  noise_std=2.0 * spread)
    np.testing.assert_allclose(relative, absolute, atol=1e-5)
    with self.assertRaisesRegex(ValueError, 'noise_unit'):
      vgpnn_jax.make_config(noise_unit='contrast')

  def test_default_is_measured_in_patch_spreads_and_images_in_values(self):
    config = vgpnn_jax.make_config()
    self.assertEqual((config.noise_unit, config.noise_std),
                     ('patch_spread', noise.DIVERSITY['default']))
    image = generation.default_config(num_frames=1)
    self.assertEqual((image.noise_unit, image.noise_std), ('value', 0.75))


class DiversityNoiseTest(absltest.TestCase):

  def test_names_numbers_and_refusals(self):
    self.assertLess(noise.DIVERSITY['low'], noise.DIVERSITY['default'])
    self.assertLess(noise.DIVERSITY['default'], noise.DIVERSITY['high'])
    for name, spreads in noise.DIVERSITY.items():
      self.assertEqual(noise.diversity_noise(name), spreads)
    self.assertEqual(noise.diversity_noise('7.5'), 7.5)
    self.assertEqual(noise.diversity_noise(0), 0.0)
    for bad in ('medium', '-1', float('nan'), float('inf')):
      with self.assertRaisesRegex(ValueError, 'diversity'):
        noise.diversity_noise(bad)


if __name__ == '__main__':
  absltest.main()
