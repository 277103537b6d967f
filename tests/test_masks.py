"""Tests of masks through the pyramid, against NumPy references."""

import warnings

import numpy as np
import pytest

from vgpnn_jax import masks
from vgpnn_jax import resampling


def _tap_matrix(in_size, out_size):
  """[out, in] True where the resize reads an input sample with a positive
  weight (the kernel's main lobe)."""
  indices, weights = resampling.resize_taps(in_size, out_size)
  matrix = np.zeros((out_size, in_size))
  for row in range(out_size):
    for index, weight in zip(indices[row], weights[row]):
      matrix[row, index] += max(weight, 0)
  return matrix > 0


def _reference_resize_mask(mask, size):
  out = mask.astype(np.float64)
  for axis, n in enumerate(size):
    matrix = _tap_matrix(mask.shape[axis], n).astype(np.float64)
    out = np.moveaxis(np.tensordot(matrix, np.moveaxis(out, axis, 0), 1), 0,
                      axis)
  return out > 0


@pytest.mark.parametrize('size', [(5, 9, 11), (3, 6, 7), (8, 20, 13),
                                  (6, 14, 17)])
def test_resize_mask_matches_reference(size):
  rng = np.random.default_rng(0)
  mask = rng.random((6, 14, 17)) > 0.93
  got = np.asarray(masks.resize_mask(mask, size))
  np.testing.assert_array_equal(got, _reference_resize_mask(mask, size))


def test_resize_mask_keeps_size_exactly_and_never_loses_a_hole():
  rng = np.random.default_rng(1)
  mask = rng.random((6, 14, 17)) > 0.9
  np.testing.assert_array_equal(
      np.asarray(masks.resize_mask(mask, mask.shape)), mask)
  for t, y, x in [(0, 0, 0), (5, 13, 16), (3, 7, 8)]:
    one = np.zeros((6, 14, 17), bool)
    one[t, y, x] = True
    for size in [(3, 5, 6), (2, 3, 3), (1, 2, 2)]:
      assert np.asarray(masks.resize_mask(one, size)).any()


def test_valid_patches_matches_brute_force():
  rng = np.random.default_rng(2)
  mask = rng.random((5, 12, 13)) > 0.95
  patch = (3, 4, 5)
  got = np.asarray(masks.valid_patches(mask, patch))
  grid = tuple(n - p + 1 for n, p in zip(mask.shape, patch))
  want = np.zeros(grid, bool)
  for t, y, x in np.ndindex(*grid):
    want[t, y, x] = not mask[t:t + 3, y:y + 4, x:x + 5].any()
  np.testing.assert_array_equal(got, want)


def test_valid_patches_rejects_a_mask_smaller_than_the_patch():
  with pytest.raises(ValueError, match='patch'):
    masks.valid_patches(np.zeros((2, 9, 9), bool), (3, 3, 3))


def test_fill_hole_keeps_known_voxels_and_stays_in_their_range():
  rng = np.random.default_rng(3)
  video = rng.random((6, 16, 20, 3)).astype(np.float32) * 0.5 + 0.25
  mask = np.zeros(video.shape[:3], bool)
  mask[1:5, 4:12, 5:15] = True
  filled = np.asarray(masks.fill_hole(video, mask))
  np.testing.assert_array_equal(filled[~mask], video[~mask])
  assert filled[mask].min() >= video[~mask].min()
  assert filled[mask].max() <= video[~mask].max()
  constant = np.full_like(video, 0.3)
  np.testing.assert_allclose(np.asarray(masks.fill_hole(constant, mask)), 0.3,
                             rtol=1e-6)


def test_fill_hole_continues_the_colours_around_the_hole():
  video = np.zeros((4, 16, 32, 3), np.float32)
  video[:, :, 16:] = 1.0  # left black, right white
  mask = np.zeros(video.shape[:3], bool)
  mask[:, 4:12, 10:22] = True
  filled = np.asarray(masks.fill_hole(video, mask))
  assert filled[:, 4:12, 10:12].mean() < 0.25
  assert filled[:, 4:12, 20:22].mean() > 0.75


def test_fill_hole_checks_shapes():
  with pytest.raises(ValueError, match='mask'):
    masks.fill_hole(np.zeros((2, 4, 4, 3)), np.zeros((2, 4, 5), bool))


def test_bounding_box_grows_clips_and_keeps_a_minimum():
  mask = np.zeros((10, 20, 30), bool)
  mask[4, 8:10, 0:3] = True
  origin, size = masks.bounding_box(mask, (1, 2, 2), (3, 5, 5))
  assert origin == (3, 6, 0) and size == (3, 6, 5)
  # A box smaller than the minimum is grown around it, inside the mask.
  origin, size = masks.bounding_box(mask, (0, 0, 0), (5, 7, 7))
  assert size == (5, 7, 7)
  assert origin[0] <= 4 < origin[0] + 5 and origin[2] == 0
  origin, size = masks.bounding_box(np.ones((3, 4, 5), bool), (2, 2, 2),
                                    (1, 1, 1))
  assert origin == (0, 0, 0) and size == (3, 4, 5)


def _drifting_surface(shape=(2, 24, 32)):
  """A smooth surface whose brightness drifts across the frame."""
  t, h, w = shape
  y, x = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing='ij')
  frame = 0.3 + 0.4 * x + 0.1 * y
  return np.repeat(np.stack([frame] * 3, -1)[None], t, 0).astype(np.float32)


def _box_hole(shape=(2, 24, 32)):
  hole = np.zeros(shape, bool)
  hole[:, 6:18, 10:24] = True
  return hole


def test_blend_seams_removes_a_flat_fills_step_and_keeps_the_rest():
  truth, hole = _drifting_surface(), _box_hole()
  # A patch fill's kind of error: the right detail, a flat wrong shade.
  filled = truth.copy()
  filled[hole] = truth[hole].mean()
  out = np.asarray(masks.blend_seams(filled, hole))
  np.testing.assert_array_equal(out[~hole], filled[~hole])
  before = np.abs(filled[hole] - truth[hole]).mean()
  after = np.abs(out[hole] - truth[hole]).mean()
  # Measured: 0.045 -> 1e-7: a linear surface is harmonic, so the membrane
  # restores it.
  assert before > 0.03 and after < 0.01 * before, (before, after)


def test_blend_seams_solves_the_membrane():
  # With enough iterations the correction is harmonic in the hole (every
  # voxel the mean of its 4 neighbours in the frame) and meets the border.
  rng = np.random.default_rng(0)
  truth, hole = _drifting_surface(), _box_hole()
  filled = truth.copy()
  filled[hole] = rng.random((hole.sum(), 3)).astype(np.float32) * 0.2 + 0.4
  out = np.asarray(masks.blend_seams(filled, hole, num_iters=3000))
  correction = np.where(hole[..., None], out - filled, 0.0)
  inside = hole.astype(np.float32)[..., None]
  neighbours = sum(np.roll(inside, s, a) for a, s in ((1, 1), (1, -1),
                                                      (2, 1), (2, -1)))
  border = (neighbours > 0) & (inside == 0)
  fill_next = sum(np.roll(filled * inside, s, a) for a, s in (
      (1, 1), (1, -1), (2, 1), (2, -1)))
  step = np.where(border, filled - fill_next / np.maximum(neighbours, 1), 0)
  boundary = np.where(border, step, correction)
  mean = sum(np.roll(boundary, s, a) for a, s in ((1, 1), (1, -1), (2, 1),
                                                  (2, -1))) / 4
  residual = np.abs(correction - mean)[hole]
  assert residual.max() < 1e-4, residual.max()
  assert np.abs(correction[hole]).max() > 0.05  # it did correct something


def test_blend_seams_of_a_seamless_fill_changes_nothing_and_checks_shapes():
  truth, hole = _drifting_surface(), _box_hole()
  # A constant video: no step anywhere, so no correction.
  flat = np.full_like(truth, 0.5)
  np.testing.assert_allclose(masks.blend_seams(flat, hole), flat, atol=1e-6)
  with pytest.raises(ValueError, match='mask'):
    masks.blend_seams(truth, hole[:, :5])
  with pytest.raises(ValueError, match='num_iters'):
    masks.blend_seams(truth, hole, num_iters=-1)


def _reference_open_close(mask, radius):
  """scipy's opening then closing per frame; outside the frame is off when
  growing and on when shrinking, as in masks.foreground."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  square = np.ones((1, 2 * radius + 1, 2 * radius + 1), bool)
  grow = lambda m: ndimage.binary_dilation(m, square, border_value=0)
  shrink = lambda m: ndimage.binary_erosion(m, square, border_value=1)
  return shrink(grow(grow(shrink(mask))))


@pytest.mark.parametrize('radius', [0, 1, 3])
def test_dilate_matches_scipy(radius):
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(4)
  mask = rng.random((3, 15, 18)) > 0.95
  mask[1, 0, 0] = mask[2, 14, 17] = True  # at the corners
  want = ndimage.binary_dilation(
      mask, np.ones((1, 2 * radius + 1, 2 * radius + 1), bool))
  np.testing.assert_array_equal(np.asarray(masks.dilate(mask, radius)), want)
  with pytest.raises(ValueError, match='radius'):
    masks.dilate(mask, -1)


@pytest.mark.parametrize('radius,grow', [(1, 0), (1, 2), (2, 1), (0, 0)])
def test_foreground_matches_a_numpy_reference(radius, grow):
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(5)
  video = rng.random((7, 20, 24, 3)).astype(np.float32)
  within = np.zeros(video.shape[:3], bool)
  for t in range(7):
    within[t, 2:17, t:t + 12] = True
  within[:, 0:3, 20:24] = True  # always covered: the median of all frames
  hidden = np.where(within[..., None], np.nan, video)
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)  # the all-NaN voxels
    background = np.nanmedian(hidden, axis=0)
  always = within.all(axis=0)
  background[always] = np.median(video, axis=0)[always]
  changed = np.abs(video - background).max(-1) > 0.3
  want = _reference_open_close(changed, radius) & within
  if grow:
    want = ndimage.binary_dilation(
        want, np.ones((1, 2 * grow + 1, 2 * grow + 1), bool))
  got = masks.foreground(video, within, threshold=0.3, radius=radius,
                         grow=grow)
  np.testing.assert_array_equal(np.asarray(got), want)
  # A given background, one frame for all or one per frame.
  frames = np.broadcast_to(background, video.shape)
  for given in (background, frames):
    np.testing.assert_array_equal(np.asarray(masks.foreground(
        video, within, background=given, threshold=0.3, radius=radius,
        grow=grow)), want)


def _grown(mask, radius):
  """Square dilation per frame, by shifted copies (a reference)."""
  _, h, w = mask.shape
  padded = np.pad(mask, ((0, 0), (radius, radius), (radius, radius)))
  out = np.zeros_like(mask)
  for dy in range(2 * radius + 1):
    for dx in range(2 * radius + 1):
      out |= padded[:, dy:dy + h, dx:dx + w]
  return out


def test_foreground_cuts_out_a_moving_square_and_drops_specks():
  rng = np.random.default_rng(6)
  # A static textured scene with a little noise, a bright square walking
  # across it, and specks of one pixel far brighter than the threshold.
  scene = rng.random((1, 30, 40, 3)).astype(np.float32) * 0.4
  video = np.repeat(scene, 8, 0) + rng.normal(
      0, 0.01, (8, 30, 40, 3)).astype(np.float32)
  truth = np.zeros(video.shape[:3], bool)
  within = np.zeros(video.shape[:3], bool)
  for t in range(8):
    truth[t, 10:18, 3 + 4 * t:9 + 4 * t] = True
    within[t, 6:22, 4 * t:12 + 4 * t] = True
  video[truth] = 0.9
  specks = (rng.random(video.shape[:3]) > 0.99) & ~_grown(truth, 2)
  video[specks] = 1.0
  got = np.asarray(masks.foreground(video, within, grow=0))
  np.testing.assert_array_equal(got, truth)
  grown = np.asarray(masks.foreground(video, within, grow=2))
  np.testing.assert_array_equal(grown, _grown(truth, 2))
  # The box cuts the cut-out off where it ends.
  left = np.arange(40) < 20
  np.testing.assert_array_equal(
      np.asarray(masks.foreground(video, within & left, grow=0)),
      truth & left)
  with pytest.raises(ValueError, match='mask'):
    masks.foreground(video, within[:, :5])
  with pytest.raises(ValueError, match='background'):
    masks.foreground(video, within, background=scene[0, :5])
  with pytest.raises(ValueError, match='grow'):
    masks.foreground(video, within, grow=-1)
