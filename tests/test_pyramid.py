"""Tests of pyramid level sizes and construction."""

from absl.testing import absltest
import numpy as np

from tests import reference
from vgpnn_jax import errors
from vgpnn_jax import pyramid


class LevelSizesTest(absltest.TestCase):

  def test_airballoons_size(self):
    sizes = pyramid.level_sizes((13, 144, 256))
    self.assertLen(sizes, 15)
    self.assertEqual(sizes[0], (13, 144, 256))
    self.assertEqual(sizes[1], (12, 123, 218))  # ceil(13*.85), ceil(144*.85)
    self.assertEqual(sizes[-1], (3, 15, 27))  # 144 * .85^14 = 14.97 -> 15

  def test_each_axis_stops_at_its_minimum(self):
    sizes = pyramid.level_sizes((13, 144, 256))
    frames = [s[0] for s in sizes]
    self.assertEqual(frames, [13, 12, 10, 8, 7, 6, 5, 5, 4, 4, 3, 3, 3, 3, 3])
    self.assertEqual(min(min(s[1], s[2]) for s in sizes), 15)

  def test_time_keeps_shrinking_after_space_stops(self):
    sizes = pyramid.level_sizes((40, 20, 30))
    self.assertEqual(sizes[-1][0], 3)
    self.assertEqual(sizes[-1][1:], (15, 22))  # 20*.85^2 = 14.45 -> 15
    self.assertEqual(sizes[1:3], [(34, 17, 26), (29, 15, 22)])

  def test_near_integers_are_rounded_not_ceiled(self):
    self.assertEqual(pyramid.scaled_size(100 * 0.85**2), 73)  # 72.25 -> 73
    self.assertEqual(pyramid.scaled_size(20 * 0.85), 17)  # 16.999999...
    self.assertEqual(pyramid.scaled_size(3.000001), 3)

  def test_images_and_max_levels(self):
    sizes = pyramid.level_sizes((1, 180, 250), space_factor=0.75, max_levels=9)
    self.assertLen(sizes, 9)
    self.assertTrue(all(s[0] == 1 for s in sizes))
    self.assertEqual(sizes[1], (1, 135, 188))

  def test_output_sizes(self):
    sizes = pyramid.level_sizes((13, 144, 256))
    out = pyramid.output_sizes(sizes, (1, 1, 0.6))
    self.assertEqual(out[0], (13, 144, 154))  # 153.6 -> 154
    self.assertEqual([o[:2] for o in out], [s[:2] for s in sizes])
    self.assertEqual(pyramid.output_sizes(sizes, (0.5, 1, 1))[0],
                     (7, 144, 256))

  def test_scale_leaving_no_room_for_a_patch(self):
    sizes = pyramid.level_sizes((13, 144, 256))
    out = pyramid.output_sizes(sizes, (1, 1, 0.2))  # coarsest width 27*.2 = 6
    with self.assertRaisesRegex(errors.InputError, 'cannot hold one'):
      pyramid.check_fits_patch(sizes, out, (3, 7, 7))
    pyramid.check_fits_patch(sizes, pyramid.output_sizes(sizes), (3, 7, 7))

  def test_build_pyramid_resizes_from_the_input(self):
    video = np.random.default_rng(0).uniform(size=(6, 20, 24, 3))
    video = video.astype(np.float32)
    sizes = pyramid.level_sizes((6, 20, 24), min_side=10)
    levels = pyramid.build_pyramid(video, sizes)
    self.assertEqual([l.shape[:3] for l in levels], sizes)
    np.testing.assert_allclose(levels[-1], reference.resize(video, sizes[-1]),
                               atol=1e-5)


if __name__ == '__main__':
  absltest.main()
