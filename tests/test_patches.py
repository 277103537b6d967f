"""Tests of unfold / fold against NumPy loops."""

from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from tests import reference
from vgpnn_jax import patches


def _video(shape, seed=0):
  return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)


def _candidate_reference(gathered, grid, patch_size=(3, 7, 7)):
  """Per voxel, the median of the proposals of 9 patches around its centre.

  Patch offsets (p//2, p//2 + a, p//2 + b) for a, b in (-2, 0, 2), each
  clipped per axis to the patches that exist; gathered is [*grid, P*C].
  """
  out_size = tuple(n + p - 1 for n, p in zip(grid, patch_size))
  patches_at = gathered.reshape(grid + patch_size + (-1,))
  out = np.empty(out_size + (patches_at.shape[-1],), np.float32)
  for v in np.ndindex(out_size):
    proposals = []
    for a in (-2, 0, 2):
      for b in (-2, 0, 2):
        d = [int(np.clip(p // 2 + k, max(0, x - (n - 1)), min(p - 1, x)))
             for x, n, p, k in zip(v, grid, patch_size, (0, a, b))]
        corner = tuple(x - e for x, e in zip(v, d))
        proposals.append(patches_at[corner + tuple(d)])
    out[v] = np.median(proposals, axis=0)
  return out


class UnfoldTest(parameterized.TestCase):

  @parameterized.product(patch_size=((3, 7, 7), (1, 3, 5), (2, 1, 1)),
                         jit=(False, True))
  def test_matches_numpy(self, patch_size, jit):
    video = _video((4, 9, 10, 3))
    fn = jax.jit(patches.unfold, static_argnums=1) if jit else patches.unfold
    got = fn(video, patch_size)
    np.testing.assert_array_equal(got, reference.unfold(video, patch_size))

  def test_too_small(self):
    with self.assertRaisesRegex(ValueError, 'smaller than the patch'):
      patches.unfold(_video((2, 9, 9, 3)), (3, 7, 7))


class FoldTest(parameterized.TestCase):

  @parameterized.product(reduce=('median', 'mean'),
                         patch_size=((3, 3, 3), (2, 3, 2), (1, 7, 7)),
                         jit=(False, True))
  def test_random_patches_match_numpy(self, reduce, patch_size, jit):
    # Random patch vectors: every voxel sees different values from each patch,
    # so this checks the median rank (lower middle for even counts) exactly.
    d = int(np.prod(patch_size)) * 2
    field = _video((3, 4, 5, d), seed=1) * 2 - 1
    fold = patches.fold
    if jit:
      fold = jax.jit(fold, static_argnums=1, static_argnames='reduce')
    got = fold(field, patch_size, reduce=reduce)
    want = reference.fold(field, patch_size, reduce)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)

  def test_median_with_ties_and_negative_values(self):
    rng = np.random.default_rng(2)
    field = rng.integers(-3, 3, size=(2, 3, 4, 12)).astype(np.float32)
    got = patches.fold(field, (2, 2, 3), reduce='median')
    np.testing.assert_array_equal(got, reference.fold(field, (2, 2, 3),
                                                      'median'))

  @parameterized.parameters('median', 'mean')
  def test_round_trip(self, reduce):
    video = _video((5, 11, 12, 3))
    folded = patches.fold(patches.unfold(video, (3, 7, 7)), (3, 7, 7),
                          reduce=reduce)
    np.testing.assert_allclose(folded, video, atol=1e-6)

  @parameterized.parameters('median', 'mean')
  def test_fold_field_equals_fold_of_gathered_patches(self, reduce):
    values = _video((6, 12, 13, 3), seed=3)
    rng = np.random.default_rng(4)
    field = np.stack([rng.integers(0, n, size=(3, 5, 6))
                      for n in (4, 6, 7)], axis=-1)
    unfolded = reference.unfold(values, (3, 7, 7))
    gathered = unfolded[field[..., 0], field[..., 1], field[..., 2]]
    got = patches.fold_field(field, values, (3, 7, 7), reduce=reduce)
    np.testing.assert_allclose(got, reference.fold(gathered, (3, 7, 7),
                                                   reduce), atol=1e-6)

  def test_median_of_piecewise_field_over_many_blocks(self):
    # Patches copied in pieces from a few places, as in a generated output:
    # the fold's first guess is often not the median, and with small
    # blocks the exact selection runs over several of them.
    values = np.round(_video((5, 14, 15, 3), seed=5) * 8) / 8  # many ties
    rng = np.random.default_rng(6)
    grid = (3, 10, 11)
    t, h, w = np.meshgrid(*[np.arange(n) for n in grid], indexing='ij')
    shift = rng.integers(-3, 4, size=(grid[0], 3, 3, 3))  # per 4x4 piece
    field = np.stack([t, h, w], -1) + shift[t, h // 4, w // 4]
    field = np.clip(field, 0, np.array([2, 7, 8]))  # valid corners in values
    unfolded = reference.unfold(values, (3, 7, 7))
    gathered = unfolded[field[..., 0], field[..., 1], field[..., 2]]
    want = reference.fold(gathered, (3, 7, 7), 'median')
    with mock.patch.object(patches, '_UNRESOLVED_BLOCK', 64):
      got = patches.fold_field(field, values, (3, 7, 7))
    np.testing.assert_array_equal(got, want)
    # The fold's first guess, the median of 9 proposals around the centre,
    # misses the median at more values than one block holds.
    corners, delta = patches._flat_corners(field, values.shape, (3, 7, 7))
    candidate = patches._candidate(corners, delta, values.reshape(-1, 3),
                                   (3, 7, 7))
    np.testing.assert_array_equal(candidate,
                                  _candidate_reference(gathered, grid))
    self.assertGreater(np.sum(np.asarray(candidate) != want), 4 * 64)

  def test_median_of_9(self):
    rng = np.random.default_rng(7)
    items = rng.integers(0, 5, size=(9, 500)).astype(np.float32)  # ties
    got = patches._median_of_9(list(items))
    np.testing.assert_array_equal(got, np.median(items, axis=0))

  def test_guess_changes_which_values_are_selected_not_the_median(self):
    # A piecewise field over values with ties; guesses that are the median
    # everywhere, nowhere, in part (NaN elsewhere), and a previous field's
    # fold (the generation's guess). Small blocks: several of them run.
    values = np.round(_video((5, 14, 15, 3), seed=8) * 8) / 8
    rng = np.random.default_rng(9)
    grid = (3, 10, 11)
    t, h, w = np.meshgrid(*[np.arange(n) for n in grid], indexing='ij')
    shift = rng.integers(-3, 4, size=(grid[0], 3, 3, 3))
    field = np.clip(np.stack([t, h, w], -1) + shift[t, h // 4, w // 4], 0,
                    np.array([2, 7, 8]))
    previous = field.copy()
    previous[rng.random(grid) < 0.2] = [1, 2, 3]
    gathered = reference.unfold(values, (3, 7, 7))[
        field[..., 0], field[..., 1], field[..., 2]]
    want = reference.fold(gathered, (3, 7, 7), 'median')
    partial = np.where(rng.random(want.shape) < 0.5, want, np.nan)
    guesses = {
        'median': want,
        'wrong': want + 0.01,
        'partial': partial,
        'none': np.full(want.shape, np.nan, np.float32),
        'previous fold': patches.fold_field(previous, values, (3, 7, 7)),
    }
    with mock.patch.object(patches, '_UNRESOLVED_BLOCK', 64):
      for name, guess in guesses.items():
        with self.subTest(name):
          got = patches.fold_field(field, values, (3, 7, 7), guess=guess)
          np.testing.assert_array_equal(got, want)
      # The mean ignores it.
      np.testing.assert_allclose(
          patches.fold_field(field, values, (3, 7, 7), reduce='mean',
                             guess=want),
          reference.fold(gathered, (3, 7, 7), 'mean'), atol=1e-6)

  def test_rejects_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, 'reduce'):
      patches.fold(np.zeros((2, 2, 2, 27)), (1, 3, 3), reduce='max')
    with self.assertRaisesRegex(ValueError, 'patches'):
      patches.fold(np.zeros((2, 2, 2, 26)), (1, 3, 3))
    with self.assertRaisesRegex(ValueError, 'guess'):
      patches.fold_field(np.zeros((2, 2, 2, 3), np.int32),
                         np.zeros((4, 4, 4, 3)), (3, 3, 3),
                         guess=np.zeros((4, 4, 3, 3)))
    with self.assertRaisesRegex(ValueError, 'weights'):
      patches.fold_field(np.zeros((2, 2, 2, 3), np.int32),
                         np.zeros((4, 4, 4, 3)), (3, 3, 3),
                         weights=np.ones((2, 2, 3)))


def _weighted_fold_reference(field, values, weights, patch_size, reduce):
  """Per voxel, the weighted lower median (or mean) of its proposals."""
  grid = field.shape[:3]
  out_size = tuple(n + p - 1 for n, p in zip(grid, patch_size))
  proposals = [[] for _ in range(int(np.prod(out_size)))]
  for q in np.ndindex(grid):
    for d in np.ndindex(patch_size):
      v = tuple(a + b for a, b in zip(q, d))
      source = tuple(int(c) + b for c, b in zip(field[q], d))
      proposals[np.ravel_multi_index(v, out_size)].append(
          (values[source], weights[q]))
  out = np.empty((len(proposals), values.shape[-1]), np.float32)
  for i, voxel in enumerate(proposals):
    value = np.stack([p for p, _ in voxel])
    weight = np.array([w for _, w in voxel], np.float64)
    for c in range(value.shape[1]):
      if reduce == 'mean':
        out[i, c] = np.sum(value[:, c] * weight) / np.sum(weight)
        continue
      order = np.argsort(value[:, c], kind='stable')
      # The smallest proposal whose proposals at most it weigh half.
      cumulative = np.cumsum(weight[order])
      out[i, c] = value[order[np.argmax(cumulative >= 0.5 * weight.sum() *
                                        (1 - 1e-9))], c]
  return out.reshape(out_size + (-1,))


class WeightedFoldTest(parameterized.TestCase):

  def _case(self, seed):
    values = _video((6, 12, 13, 3), seed=seed)
    rng = np.random.default_rng(seed + 1)
    field = np.stack([rng.integers(0, n, size=(3, 6, 7))
                      for n in (4, 8, 9)], axis=-1)
    return field, values, rng

  @parameterized.parameters('median', 'mean')
  def test_unit_weights_are_the_plain_fold(self, reduce):
    field, values, _ = self._case(10)
    plain = patches.fold_field(field, values, (3, 5, 5), reduce=reduce)
    weighted = patches.fold_field(field, values, (3, 5, 5), reduce=reduce,
                                  weights=np.ones(field.shape[:3]))
    np.testing.assert_allclose(weighted, plain, rtol=0, atol=1e-6)
    if reduce == 'median':
      np.testing.assert_array_equal(weighted, plain)

  @parameterized.product(reduce=('median', 'mean'), jit=(False, True))
  def test_weighted_fold_matches_numpy(self, reduce, jit):
    field, values, rng = self._case(12)
    weights = rng.uniform(0.1, 3.0, size=field.shape[:3]).astype(np.float32)
    fold = patches.fold_field
    if jit:
      fold = jax.jit(fold, static_argnums=2, static_argnames='reduce')
    with mock.patch.object(patches, '_UNRESOLVED_BLOCK', 64):
      got = fold(field, values, (3, 5, 5), reduce=reduce, weights=weights)
    want = _weighted_fold_reference(field, values, weights, (3, 5, 5),
                                    reduce)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)

  def test_a_heavy_patch_outvotes_the_others(self):
    # Every patch copies the corner patch of the values but one; weighted
    # heavily, that one's values win every voxel it covers.
    values = _video((3, 9, 9, 1), seed=14)
    field = np.zeros((1, 5, 5, 3), np.int32)
    field[0, 2, 2] = (0, 4, 4)
    weights = np.ones((1, 5, 5), np.float32)
    weights[0, 2, 2] = 1000.0
    got = patches.fold_field(field, values, (3, 5, 5), weights=weights)
    np.testing.assert_array_equal(got[:, 2:7, 2:7], values[:, 4:9, 4:9])


if __name__ == '__main__':
  absltest.main()
