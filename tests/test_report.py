"""Tests of the evaluation report (tiny synthetic videos)."""

import json
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import jax
import numpy as np

from vgpnn_jax import errors
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax import report
from vgpnn_jax.resampling import resize

PATCH = (3, 5, 5)
# Shapes and options shared with test_metrics, so compiled code is reused.
OPTIONS = dict(patch_size=PATCH, num_projections=8)


def smooth(rng, shape):
  """Random but smooth in space, so that H.264 keeps it well."""
  coarse = rng.random((shape[0], shape[1] // 4, shape[2] // 4, 3))
  return np.clip(np.asarray(resize(coarse, shape[:3])), 0, 1).astype(
      np.float32)


def videos(seed=0):
  rng = np.random.default_rng(seed)
  reference = rng.random((4, 12, 14, 3), np.float32)
  outputs = [rng.random((4, 10, 12, 3), np.float32) for _ in range(2)]
  return reference, outputs


class EvaluateVideosTest(parameterized.TestCase):

  def test_values_are_the_metrics(self):
    reference, outputs = videos()
    key = jax.random.key(0)
    results = report.evaluate_videos(reference, outputs, key=key,
                                      names=['a', 'b'], **OPTIONS)
    self.assertEqual(results['settings']['scales'], [1.0, 2.0])  # 4: too small
    self.assertEqual(results['reference']['shape'], [4, 12, 14])
    for index, (row, output) in enumerate(zip(results['outputs'], outputs)):
      self.assertEqual(row['shape'], [4, 10, 12])
      # Fewer patches than max_patches: the exact values.
      np.testing.assert_allclose(
          row['coherence'],
          metrics.coherence(output, reference, patch_size=PATCH), rtol=1e-6)
      np.testing.assert_allclose(
          row['completeness'],
          metrics.completeness(output, reference, patch_size=PATCH),
          rtol=1e-6)
      swd_key = jax.random.split(jax.random.fold_in(key, index))[1]
      swd = metrics.patch_swd(output, reference, key=swd_key,
                              scales=(1, 2), **OPTIONS)
      np.testing.assert_allclose(row['swd_per_scale'], swd.per_scale,
                                 rtol=1e-6)
      np.testing.assert_allclose(row['swd'], swd.mean, rtol=1e-6)
    for field in ('coherence', 'completeness', 'swd'):
      np.testing.assert_allclose(
          results['mean'][field],
          np.mean([row[field] for row in results['outputs']]), rtol=1e-6)
    np.testing.assert_allclose(results['diversity'],
                               metrics.diversity(outputs, reference),
                               rtol=1e-6)

  def test_a_copy_scores_zero_and_diversity_needs_one_shape(self):
    reference, outputs = videos(2)
    mixed = report.evaluate_videos(reference, [outputs[0], reference],
                                   key=jax.random.key(2), **OPTIONS)
    copy = mixed['outputs'][1]
    self.assertEqual(copy['coherence'], 0.0)
    self.assertEqual(copy['completeness'], 0.0)
    self.assertLess(copy['swd'], 1e-6)
    self.assertIsNone(mixed['diversity'])
    self.assertIn('one shape', mixed['diversity_note'])
    self.assertIn('one shape', report.format_table(mixed))
    one = report.evaluate_videos(reference, outputs[:1],
                                 key=jax.random.key(2), **OPTIONS)
    self.assertIsNone(one['diversity'])
    self.assertIn('2 outputs', one['diversity_note'])

  def test_table_and_json(self):
    reference, outputs = videos(3)
    lines = []
    results = report.evaluate_videos(reference, outputs,
                                     key=jax.random.key(3), names=['x', 'y'],
                                     progress=lines.append, **OPTIONS)
    self.assertLen(lines, 2)
    table = report.format_table(results)
    rows = [line for line in table.splitlines() if line.startswith('|')]
    self.assertLen(rows, 5)  # header, rule, 2 outputs, mean
    self.assertIn('| x | 4x10x12 |', table)
    self.assertIn('**mean**', table)
    self.assertIn(f'{results["diversity"]:.4g}', table)
    decoded = json.loads(report.to_json(results))
    self.assertEqual(decoded['outputs'][1]['name'], 'y')
    self.assertEqual(decoded['mean'], results['mean'])
    results['mean']['swd'] = float('nan')
    self.assertIsNone(json.loads(report.to_json(results))['mean']['swd'])

  def test_rejects_bad_input(self):
    reference, outputs = videos()
    # What the metrics need, not a patch size the command line cannot set.
    with self.assertRaisesRegex(errors.InputError,
                                'needs at least 3 frames; evaluate videos, '
                                'not single images'):
      report.evaluate_videos(reference, [outputs[0][:2]],
                             key=jax.random.key(0), **OPTIONS)
    with self.assertRaisesRegex(errors.InputError, 'at least 5x5 pixels'):
      report.evaluate_videos(reference, [outputs[0][:, :4]],
                             key=jax.random.key(0), **OPTIONS)
    with self.assertRaisesRegex(errors.InputError, 'max_patches must be'):
      report.evaluate_videos(reference, outputs, key=jax.random.key(0),
                             max_patches=-5, **OPTIONS)
    with self.assertRaisesRegex(errors.InputError, 'at least one'):
      report.evaluate_videos(reference, [], key=jax.random.key(0))
    with self.assertRaisesRegex(errors.InputError, r'\[T, H, W, 3\]'):
      report.evaluate_videos(reference, [outputs[0][0]],
                             key=jax.random.key(0))

  def test_warns_of_outputs_of_another_scale(self):
    self.assertIsNone(report.size_warning((4, 12, 14), [(4, 10, 12),
                                                        (2, 24, 28)]))
    warning = report.size_warning((13, 144, 256), [(6, 32, 58)] * 2)
    self.assertIn('6x32x58', warning)
    self.assertIn('13x144x256', warning)
    self.assertIn('not comparable', warning)
    self.assertIn('max_size=32', warning)
    rng = np.random.default_rng(3)
    reference = rng.random((4, 30, 34, 3), np.float32)
    outputs = [rng.random((4, 10, 12, 3), np.float32)]
    with self.assertWarnsRegex(errors.InputWarning, '4x10x12.*4x30x34'):
      results = report.evaluate_videos(reference, outputs,
                                       key=jax.random.key(0),
                                       max_patches=64, **OPTIONS)
    self.assertIn('not comparable', results['warning'])


class EvaluateFilesTest(absltest.TestCase):

  def test_reads_files_like_io(self):
    tmp = self.enterContext(tempfile.TemporaryDirectory())
    rng = np.random.default_rng(4)
    reference = smooth(rng, (4, 12, 14, 3))
    outputs = [smooth(rng, (4, 10, 12, 3)) for _ in range(2)]
    io.write_video(f'{tmp}/in.mp4', reference, fps=10)
    paths = []
    for i, output in enumerate(outputs):
      paths.append(f'{tmp}/out{i}.mp4')
      io.write_video(paths[-1], output, fps=10)
    results = report.evaluate_files(f'{tmp}/in.mp4', paths, seed=5,
                                    **OPTIONS)
    # mp4 is lossy: compare with the videos as read back, which is exact.
    read = [io.read_video(p)[0] for p in [f'{tmp}/in.mp4'] + paths]
    want = report.evaluate_videos(read[0], read[1:], key=jax.random.key(5),
                                  **OPTIONS)
    self.assertEqual(results['settings']['resize_factor'], 1.0)
    self.assertEqual([r['name'] for r in results['outputs']], paths)
    for field in ('coherence', 'completeness', 'swd'):
      self.assertEqual(results['mean'][field], want['mean'][field])
    self.assertEqual(results['diversity'], want['diversity'])
    # And near the values of the videos before encoding.
    self.assertLess(np.abs(read[1] - outputs[0]).mean(), 0.05)

  def test_max_size_shrinks_the_input_and_full_size_outputs(self):
    tmp = self.enterContext(tempfile.TemporaryDirectory())
    rng = np.random.default_rng(6)
    big = rng.random((4, 24, 28, 3), np.float32)
    small = rng.random((4, 10, 12, 3), np.float32)
    io.write_video(f'{tmp}/in.mp4', big, fps=10)
    io.write_video(f'{tmp}/big.mp4', big, fps=10)
    io.write_video(f'{tmp}/small.mp4', small, fps=10)
    results = report.evaluate_files(
        f'{tmp}/in.mp4', [f'{tmp}/big.mp4', f'{tmp}/small.mp4'], max_size=12,
        **OPTIONS)
    self.assertEqual(results['settings']['resize_factor'], 0.5)
    self.assertEqual(results['reference']['shape'], [4, 12, 14])
    # Taller than max_size: shrunk like the input (and equal to it again).
    self.assertEqual(results['outputs'][0]['shape'], [4, 12, 14])
    self.assertLess(results['outputs'][0]['coherence'], 1e-9)
    # At most max_size tall: taken as it is.
    self.assertEqual(results['outputs'][1]['shape'], [4, 10, 12])


if __name__ == '__main__':
  absltest.main()
