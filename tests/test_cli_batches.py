"""A --num too large for memory at once is made in batches that fit."""

from unittest import mock

import numpy as np
import pytest

from tests import cli_checks
from vgpnn_jax import cli
from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import memory

# The mean fold: batches are what these tests check, and the median fold's
# programs take about twice as long to compile.
_FAST = ['--search', 'exact', '--patch', '3,5,5', '--levels', '2', '--iters',
         '1', '--noise', '2', '--reduce', 'mean']


def _plan():
  config = generation.make_config(patch_size=(3, 5, 5), max_levels=2,
                                  search='exact')
  return generation.plan_levels((6, 18, 24), config), config


def _room_for(levels, config, num):
  """Free bytes in which exactly `num` variations fit at once."""
  guard = dict(layout_draws=generation.guard_draws(config),
               guard_level=config.guard_level)
  need = [memory.estimate_bytes(levels, 3, n, **guard, platform='cpu')
          for n in (num, num + 1)]
  return int(sum(need) / 2 / memory.USABLE_FRACTION)


def test_largest_batch_is_the_most_that_fit():
  levels, config = _plan()
  for num in (1, 2, 3):
    available = _room_for(levels, config, num)
    assert memory.largest_batch(levels, 3, 7, available=available,
                                config=config, platform='cpu') == num
  assert memory.largest_batch(levels, 3, 7, available=2**50, config=config,
                              platform='cpu') == 7
  with pytest.raises(errors.InputError, match='needs about'):
    memory.largest_batch(levels, 3, 7, available=1000, config=config,
                         platform='cpu')


def test_a_num_that_does_not_fit_is_made_in_batches(tmp_path, capsys):
  path = cli_checks.write_wave_video(tmp_path)
  levels, config = _plan()
  made = []
  generate = generation.generate_batch

  def keep(keys, *args, **kwargs):
    made.append(keys.shape[0])
    return generate(keys, *args, **kwargs)

  base = ['generate', str(path), '--num', '3', '--format', 'png'] + _FAST
  with mock.patch.object(generation, 'generate_batch', keep):
    assert cli.main(base + ['--out', str(tmp_path / 'whole')]) == 0
    # Room for two at once: 3 variations are made as 2 + 1.
    with mock.patch.object(memory, 'available_bytes',
                           return_value=_room_for(levels, config, 2)):
      assert cli.main(base + ['--out', str(tmp_path / 'split')]) == 0
  assert made == [3, 2, 1]
  assert '2 batches of at most 2' in capsys.readouterr().out
  # The same keys give the same variations, whatever batch made them.
  for index in range(3):
    name = f'variation_{index:03d}'
    whole, _ = io.read_video(tmp_path / 'whole' / name)
    split, _ = io.read_video(tmp_path / 'split' / name)
    np.testing.assert_allclose(split, whole, atol=1.5 / 255)


def test_outputs_held_together_must_fit():
  memory.check_outputs_fit(10, (6, 18, 24), 3, available=2**30)
  with pytest.raises(errors.InputError, match='fewer variations'):
    memory.check_outputs_fit(10**8, (6, 18, 24), 3, available=2**30)
