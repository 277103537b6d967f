"""Tests of analogies, sketch-to-video and the sketch makers, on tiny videos."""

from absl.testing import absltest
import jax
import numpy as np
from scipy import ndimage

from vgpnn_jax import analogy
from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import metrics
from vgpnn_jax import motion
from vgpnn_jax import sketches

# Few levels and exact search: seconds per analogy. 3 levels, as the batch
# test needs: its one-by-one runs then reuse the class's programs.
_FAST = dict(max_levels=3, search='exact')


def _texture(seed, height, width):
  rng = np.random.default_rng(seed)
  x = ndimage.gaussian_filter(rng.random((height, width, 3)), (1.5, 1.5, 0))
  return (x - x.min()) / (x.max() - x.min())


def _halves(seed, moving_left, frames=8, height=32, width=48):
  """A texture whose left (or right) half slides 2 px a frame, the rest still.

  The two halves have the same colours: only their motion tells them apart.
  """
  texture = _texture(seed, height, width + 2 * frames)
  video = np.zeros((frames, height, width, 3), np.float32)
  half = width // 2
  for t in range(frames):
    moving, still = texture[:, 2 * t:2 * t + width], texture[:, :width]
    left, right = (moving, still) if moving_left else (still, moving)
    video[t, :, :half], video[t, :, half:] = left[:, :half], right[:, half:]
  return video


def _cue_correlation(output, structure):
  cue = lambda v: np.asarray(
      motion.motion_cue(v, **analogy.CUE_FLOW)).ravel()
  return np.corrcoef(cue(output), cue(structure))[0, 1]


class AnalogyTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # B moves on the left, A on the right (another texture).
    cls.appearance = _halves(0, moving_left=True)
    cls.structure = _halves(1, moving_left=False)
    cls.output = np.asarray(analogy.analogy(
        jax.random.key(0), cls.structure, cls.appearance, **_FAST))

  def test_the_output_has_the_structures_size(self):
    self.assertEqual(self.output.shape, self.structure.shape)
    self.assertTrue(np.all(np.isfinite(self.output)))
    # An appearance of another height and length is fitted to the structure
    # (2 levels: its shape makes programs of its own).
    other = np.asarray(analogy.analogy(
        jax.random.key(0), self.structure, self.appearance[:6, :24, :40],
        **{**_FAST, 'max_levels': 2}))
    self.assertEqual(other.shape, self.structure.shape)
    self.assertEqual(analogy.fit_appearance(self.appearance[:, :24, :40],
                                            (8, 32, 48)).shape, (8, 32, 53, 3))

  def test_same_key_same_output_and_batch_equals_one_by_one(self):
    # The batched search sums the same distances in another order, so
    # near-equal candidates can swap: measured, 7% of the voxels differ, by
    # 0.0009 on average (the same happens in `generate_batch` with a start).
    # The class's settings: the one-by-one runs reuse its programs.
    keys = jax.random.split(jax.random.key(5), 2)
    batch = np.asarray(analogy.analogy(keys, self.structure, self.appearance,
                                       **_FAST))
    for key, out in zip(keys, batch):
      single = np.asarray(analogy.analogy(
          key, self.structure, self.appearance, **_FAST))
      self.assertLess(np.abs(out - single).mean(), 0.003)
    np.testing.assert_array_equal(
        self.output, analogy.analogy(jax.random.key(0), self.structure,
                                     self.appearance, **_FAST))

  def test_the_cue_keeps_the_structures_motion(self):
    # Measured: the output's motion cue correlates 0.89 with the
    # structure's, against 0.71 with the cue off (the layout then follows
    # the colours of the structure's start alone).
    without = np.asarray(analogy.analogy(
        jax.random.key(0), self.structure, self.appearance,
        structure_weight=0.0, **_FAST))
    with_cue = _cue_correlation(self.output, self.structure)
    self.assertGreater(with_cue, 0.8)
    self.assertGreater(with_cue, _cue_correlation(without, self.structure)
                       + 0.1)

  def test_the_look_is_the_appearances(self):
    # Every output patch is near one of B's: measured coherence 0.004,
    # against 0.012 for A (a different texture) itself.
    coherence = lambda v: float(metrics.coherence(v, self.appearance,
                                                  patch_size=(3, 5, 5)))
    self.assertLess(coherence(self.output),
                    0.5 * coherence(self.structure))

  def test_two_images_make_a_structural_analogy(self):
    a, b = self.structure[:1], self.appearance[:1]
    out = np.asarray(analogy.analogy(jax.random.key(0), a, b, max_levels=3))
    self.assertEqual(out.shape, a.shape)

  def test_bad_inputs(self):
    key = jax.random.key(0)
    with self.assertRaisesRegex(errors.InputError, 'two videos or two'):
      analogy.analogy(key, self.structure, self.appearance[:1])
    with self.assertRaisesRegex(errors.InputError, 'channels'):
      analogy.analogy(key, self.structure, self.appearance[..., :1])
    with self.assertRaisesRegex(errors.InputError, 'float video'):
      analogy.analogy(key, (self.structure * 255).astype(np.uint8),
                      self.appearance)
    with self.assertRaisesRegex(ValueError, 'structure_weight'):
      analogy.analogy(key, self.structure, self.appearance,
                      structure_weight=-1.0)
    with self.assertRaisesRegex(errors.InputError, 'single colour'):
      analogy.sketch(key, np.full((8, 32, 48, 3), 0.3, np.float32),
                     self.appearance)
    with self.assertRaisesRegex(errors.InputError, 'frame'):
      analogy.analogy(key, self.structure[:2], self.appearance[:2])


class MatchColoursTest(absltest.TestCase):

  def test_moments_become_the_references(self):
    rng = np.random.default_rng(0)
    video = 0.3 + 0.1 * rng.random((3, 8, 8, 3)).astype(np.float32)
    reference = 0.5 + 0.2 * rng.random((2, 6, 6, 3)).astype(np.float32)
    out = np.asarray(analogy.match_colours(video, reference))
    np.testing.assert_allclose(out.mean((0, 1, 2)),
                               reference.mean((0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(out.std((0, 1, 2)), reference.std((0, 1, 2)),
                               atol=1e-5)


def _lloyd(pixels, centres, num_iters):
  """NumPy reference of `sketches.kmeans_colours` from given centres."""
  for _ in range(num_iters):
    labels = np.argmin(((pixels[:, None] - centres[None]) ** 2).sum(-1), 1)
    for j in range(len(centres)):
      if np.any(labels == j):
        centres[j] = pixels[labels == j].mean(0)
  return centres


class SketchesTest(absltest.TestCase):

  def test_kmeans_matches_numpy_lloyd(self):
    rng = np.random.default_rng(0)
    pixels = np.concatenate([rng.normal(m, 0.05, (50, 3)) for m in
                             (0.2, 0.5, 0.8)]).astype(np.float32)
    # Farthest-point start: nearest the mean, then farthest from the chosen.
    init = [pixels[np.argmin(((pixels - pixels.mean(0)) ** 2).sum(1))]]
    for _ in range(2):
      gaps = np.min([((pixels - c) ** 2).sum(1) for c in init], axis=0)
      init.append(pixels[np.argmax(gaps)])
    init = np.stack(init)
    expected = _lloyd(pixels.astype(np.float64), init.astype(np.float64), 10)
    np.testing.assert_allclose(sketches.kmeans_colours(pixels, 3, 10),
                               expected, atol=1e-5)

  def test_kmeans_finds_a_small_region(self):
    drawing = sketches.moving_disc((2, 40, 80), radius=0.1)
    centres = np.asarray(sketches.kmeans_colours(drawing.reshape(-1, 3), 3))
    for colour in (sketches.SKY, sketches.GROUND, sketches.DISC):
      self.assertLess(np.abs(centres - np.float32(colour)).max(1).min(), 1e-4)

  def test_from_video_gives_flat_colours(self):
    video = _halves(0, True)
    drawing = np.asarray(sketches.from_video(video, 4))
    self.assertEqual(drawing.shape, video.shape)
    self.assertLessEqual(len(np.unique(drawing.reshape(-1, 3), axis=0)), 4)
    # A video of two flat colours is its own sketch (up to the few blended
    # pixels along the edge of the coarse frames, which pull the centres by
    # under 0.001).
    two = np.zeros((4, 40, 40, 3), np.float32)
    two[:, :, 20:] = (0.9, 0.6, 0.1)
    np.testing.assert_allclose(sketches.from_video(two, 2), two, atol=2e-3)
    with self.assertRaisesRegex(ValueError, 'num_colours'):
      sketches.from_video(video, 1)

  def test_moving_disc(self):
    drawing = sketches.moving_disc((5, 40, 80), radius=0.1,
                                   start=(0.3, 0.2), end=(0.3, 0.7),
                                   horizon=0.5)
    self.assertEqual(drawing.shape, (5, 40, 80, 3))
    self.assertLen(np.unique(drawing.reshape(-1, 3), axis=0), 3)
    for t in range(5):
      disc = np.all(drawing[t] == np.float32(sketches.DISC), axis=-1)
      rows, cols = np.nonzero(disc)
      self.assertAlmostEqual(rows.mean(), 12.0, delta=0.5)
      self.assertAlmostEqual(cols.mean(), (0.2 + 0.5 * t / 4) * 80,
                             delta=0.5)
    np.testing.assert_array_equal(drawing[0, 39, 0], np.float32(sketches.GROUND))

  def test_a_sketch_renders_its_regions(self):
    # B: a blue texture over a green one, split at half height. The sketch
    # puts its horizon at 40%: the output is blue above, green below it.
    texture = _halves(0, True)
    appearance = texture * 0.3
    appearance[:, :16] += np.float32((0.1, 0.3, 0.6))
    appearance[:, 16:] += np.float32((0.1, 0.6, 0.1))
    drawing = sketches.moving_disc(appearance.shape[:3], horizon=0.4,
                                   radius=0.1)
    out = np.asarray(analogy.sketch(jax.random.key(0), drawing, appearance,
                                    max_levels=3, search='exact'))
    self.assertEqual(out.shape, drawing.shape)
    top, bottom = out[:, :10], out[:, 16:]
    self.assertGreater(top[..., 2].mean(), top[..., 1].mean() + 0.1)
    self.assertGreater(bottom[..., 1].mean(), bottom[..., 2].mean() + 0.1)
    self.assertEqual(generation.make_config(
        **analogy.SKETCH_DEFAULTS).finest_iters, (1, 1))


if __name__ == '__main__':
  absltest.main()
