"""Tests of one level step against a NumPy reference."""

import functools
import gc
import weakref

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from tests import reference
from vgpnn_jax import pnn


def _reference_step(queries, keys, values, patch_size, num_iters, reduce,
                    keys_rule):
  output = queries
  for iteration in range(num_iters):
    if iteration > 0 and keys_rule == 'vgpnn':
      keys = values
    q = reference.unfold(output, patch_size)
    k = reference.unfold(keys, patch_size).reshape(-1, q.shape[-1])
    index, _ = reference.nearest(q.reshape(-1, q.shape[-1]), k)
    v = reference.unfold(values, patch_size).reshape(-1, q.shape[-1])
    output = reference.fold(v[index].reshape(q.shape), patch_size, reduce)
  return output


def _smooth(shape, seed):
  # Smooth random videos have few exact distance ties.
  rng = np.random.default_rng(seed)
  x = rng.uniform(size=shape)
  x = (x + np.roll(x, 1, axis=1) + np.roll(x, 1, axis=2)) / 3
  return x.astype(np.float32)


class LevelStepTest(parameterized.TestCase):

  @parameterized.product(keys_rule=('vgpnn', 'gpnn'),
                         reduce=('median', 'mean'))
  def test_matches_numpy(self, keys_rule, reduce):
    queries = _smooth((4, 9, 11, 3), 0)
    keys = _smooth((5, 10, 9, 3), 1)
    values = _smooth((5, 10, 9, 3), 2)
    got, field = pnn.level_step(jax.random.key(0), queries, keys, values,
                                patch_size=(3, 3, 3), num_iters=2,
                                reduce=reduce, keys_rule=keys_rule)
    want = _reference_step(queries, keys, values, (3, 3, 3), 2, reduce,
                           keys_rule)
    np.testing.assert_allclose(got, want, atol=1e-5)
    self.assertEqual(field.shape, (2, 7, 9, 3))

  def test_rules_differ_after_first_iteration(self):
    args = (_smooth((4, 9, 11, 3), 3), _smooth((4, 9, 11, 3), 4),
            _smooth((4, 9, 11, 3), 5))
    outs = [pnn.level_step(jax.random.key(0), *args, patch_size=(3, 3, 3),
                           num_iters=2, keys_rule=rule)[0]
            for rule in ('vgpnn', 'gpnn')]
    self.assertGreater(float(np.abs(outs[0] - outs[1]).max()), 1e-3)

  def test_compiles_once_per_shape(self):
    # J iterations and repeated calls share one compiled iteration program.
    kwargs = dict(patch_size=(3, 3, 3), num_iters=3, chunk_size=77)
    iteration = pnn.compiled_iteration(pnn.StepOptions(**kwargs))
    video = _smooth((4, 8, 8, 3), 6)
    for seed in range(3):
      pnn.level_step(jax.random.key(seed), video + seed, video, video,
                     **kwargs)
    self.assertEqual(iteration._cache_size(), 1)
    pnn.level_step(jax.random.key(0), _smooth((4, 9, 8, 3), 7), video, video,
                   **kwargs)
    self.assertEqual(iteration._cache_size(), 2)

  def test_level_step_under_jit_equals_eager(self):
    video = _smooth((4, 8, 9, 3), 9)
    queries = video + 0.1 * _smooth((4, 8, 9, 3), 10)
    step = functools.partial(pnn.level_step, patch_size=(3, 3, 3),
                             num_iters=2, search='patchmatch')
    eager = step(jax.random.key(1), queries, video, video)
    jitted = jax.jit(step)(jax.random.key(1), queries, video, video)
    np.testing.assert_allclose(jitted[0], eager[0], atol=1e-6)
    np.testing.assert_array_equal(jitted[1], eager[1])

  @parameterized.parameters('vgpnn', 'gpnn')
  def test_key_indexes_computed_once_give_the_same_output(self, keys_rule):
    queries, keys, values = (_smooth((4, 12, 13, 3), seed)
                             for seed in (11, 12, 13))
    options = pnn.StepOptions(patch_size=(3, 3, 3), num_iters=3,
                              keys_rule=keys_rule, search='patchmatch')
    indexes = pnn.key_indexes(keys, values, options)
    if keys_rule == 'gpnn':
      self.assertIs(indexes[1], indexes[0])
    shape = pnn.key_index_shape(keys.shape[:3], 3, options)
    for index in indexes:
      self.assertEqual([x.shape for x in index], [x.shape for x in shape])
    start_key, key = jax.random.split(jax.random.key(3))
    field = pnn.compiled_start(options)(start_key, queries, keys, None, None)
    # level_step passes the indexes; None computes them in every iteration.
    got = pnn.level_step(jax.random.key(3), queries, keys, values,
                         patch_size=(3, 3, 3), num_iters=3,
                         keys_rule=keys_rule, search='patchmatch')
    want = pnn.run_iterations(pnn.compiled_iteration(options),
                              functools.partial(jax.random.fold_in, key),
                              queries, keys, values, field, options)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    for kwargs in (dict(search='exact'), dict(num_iters=2)):
      self.assertIsNone(pnn.key_indexes(keys, values,
                                        options._replace(**kwargs)))

  @parameterized.parameters('vgpnn', 'gpnn')
  def test_later_index_made_after_the_first_iteration(self, keys_rule):
    # A level's start leaves the later iterations' index out: the same
    # output, bit for bit, as both made up front.
    queries, keys, values = (_smooth((4, 12, 13, 3), seed)
                             for seed in (21, 22, 23))
    options = pnn.StepOptions(patch_size=(3, 3, 3), num_iters=3,
                              keys_rule=keys_rule, search='patchmatch')
    first, later = pnn.key_indexes(keys, values, options, later=False)
    self.assertIsNone(later)
    field = pnn.compiled_start(options)(jax.random.key(4), queries, keys,
                                        None, None)
    iteration = pnn.compiled_iteration(options)
    key_fn = functools.partial(jax.random.fold_in, jax.random.key(5))
    want = pnn.run_iterations(iteration, key_fn, queries, keys, values,
                              field, options,
                              pnn.key_indexes(keys, values, options))
    start = [queries, keys, field, (first, None)]
    got = pnn.consume_iterations(iteration, key_fn, start, values, options)
    self.assertEqual(start, [])  # emptied: the caller holds nothing
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])

  def test_consume_iterations_frees_the_start(self):
    # From the second iteration on nothing holds the first queries, keys,
    # field or key index ('vgpnn' searches V then).
    options = pnn.StepOptions(patch_size=(3, 3, 3), num_iters=3,
                              search='patchmatch')
    queries, keys, values = (jax.numpy.asarray(_smooth((4, 12, 13, 3), seed))
                             for seed in (31, 32, 33))
    field = pnn.compiled_start(options)(jax.random.key(4), queries, keys,
                                        None, None)
    first, _ = pnn.key_indexes(keys, values, options, later=False)
    alive = [weakref.ref(x) for x in (queries, keys, field, first.descriptors)]
    start = [queries, keys, field, (first, None)]
    del queries, keys, field, first
    compiled = pnn.compiled_iteration(options)
    seen = []

    def iteration(*args):
      gc.collect()
      seen.append([ref() is not None for ref in alive])
      return compiled(*args)

    pnn.consume_iterations(iteration, functools.partial(
        jax.random.fold_in, jax.random.key(5)), start, values, options)
    self.assertEqual(seen, [[True] * 4, [False] * 4, [False] * 4])

  def test_identity_when_queries_equal_keys(self):
    video = _smooth((4, 9, 10, 3), 8)
    out, field = pnn.level_step(jax.random.key(0), video, video, video,
                                patch_size=(3, 5, 5), num_iters=1)
    np.testing.assert_allclose(out, video, atol=1e-6)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in field.shape[:3]],
                                indexing='ij'), axis=-1)
    np.testing.assert_array_equal(field, grid)

  def test_rejects_bad_options(self):
    video = _smooth((4, 8, 8, 3), 9)
    with self.assertRaisesRegex(ValueError, 'keys_rule'):
      pnn.level_step(jax.random.key(0), video, video, video, keys_rule='x')
    with self.assertRaisesRegex(ValueError, 'alpha'):
      pnn.level_step(jax.random.key(0), video, video, video,
                     search='patchmatch', alpha=1.0)
    with self.assertRaisesRegex(ValueError, 'refine_steps'):
      pnn.check_options(pnn.StepOptions(refine_steps=0))
    with self.assertRaisesRegex(ValueError, 'same shape'):
      pnn.level_step(jax.random.key(0), video, video, video[:3])


if __name__ == '__main__':
  absltest.main()
