"""Bad input, tried everywhere (issue 21 point 6).

A seeded generator of odd arrays (wrong ranks, empty axes, integer, bool,
half and complex dtypes, values outside [0, 1], NaN and infinities, constant
videos, one pixel wide or high, one or two frames, 1, 2 or 4 channels, random
small shapes) is fed to the public functions; sizes too large for any
memory, odd `make_config` values and corrupt or truncated files too. Every
call either returns a finite array of the documented shape with values in
range, or raises the documented error (`InputError`, or `ValueError` /
`TypeError` where the docstring says so) with a one-line message. Any other
exception fails the test with its traceback. The command line, run
in-process, exits 2 with one line on stderr for every corrupt file in every
input slot of every subcommand, writing nothing.

Tiny sizes (4x16x16, two levels, one iteration, exact search) keep the
compiled work small: about 50 s on 2 cores.
"""

import resource
import time

import jax
import numpy as np
import pytest

import vgpnn_jax
from tests import cli_checks
from vgpnn_jax import analogy
from vgpnn_jax import cli
from vgpnn_jax import edit
from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import memory
from vgpnn_jax import metrics
from vgpnn_jax import sketches

_SEED = 21
_SIZE = (4, 16, 16)  # T, H, W of the usable videos
# The mean fold: what these tests check is which inputs work or are refused,
# and the median fold's programs take about twice as long to compile.
_FAST = dict(num_iters=1, max_levels=2, search='exact', patch_size=(3, 5, 5),
             reduce='mean')
_KEY = jax.random.key(0)


def _odd_videos(seed: int = _SEED) -> dict[str, object]:
  """Name -> an odd "video", drawn deterministically from `seed`.

  Values are uniform in [0, 1] unless the name says otherwise; the shape is
  `_SIZE` with 3 channels unless it says otherwise.
  """
  rng = np.random.default_rng(seed)

  def draw(t=_SIZE[0], h=_SIZE[1], w=_SIZE[2], c=3):
    return rng.random((t, h, w, c)).astype(np.float32)

  base = draw()
  speckled = rng.random(base.shape) > 0.9
  videos = {
      'rank2': base[0, :, :, 0], 'rank3_image': base[0],
      'rank3_grey': base[..., 0], 'rank5': base[None],
      'no_frames': base[:0], 'no_width': base[:, :, :0],
      'no_channels': base[..., :0],
      'uint8': (base * 255).astype(np.uint8),
      'int32': (base * 255).astype(np.int32), 'bool': base > 0.5,
      'float16': base.astype(np.float16), 'float64': base.astype(np.float64),
      'complex64': base.astype(np.complex64),
      'values_0_255': base * 255, 'values_minus_2': base - 2,
      'nan': np.where(speckled, np.nan, base).astype(np.float32),
      'inf': np.where(speckled, np.inf, base).astype(np.float32),
      'minus_inf': np.where(speckled, -np.inf, base).astype(np.float32),
      'constant': np.full_like(base, 0.5), 'zeros': np.zeros_like(base),
      'one_pixel_wide': draw(w=1), 'one_pixel_high': draw(h=1),
      'one_pixel': draw(h=1, w=1), 'one_frame': draw(t=1),
      'two_frames': draw(t=2), 'grey': draw(c=1), 'two_channels': draw(c=2),
      'rgba': draw(c=4), 'nested_list': base.tolist(),
  }
  # Random small shapes, none usable: another rank, or fewer frames than
  # the 3x5x5 patch, or an empty axis (a small height or width could be
  # resized: an analogy's appearance is).
  for index in range(4):
    rank = int(rng.choice([2, 3, 4, 5]))
    shape = [int(n) for n in rng.choice([3, 5, 9, 17], size=rank)]
    if rank == 4:
      axis = int(rng.integers(0, 3))
      shape[axis] = int(rng.choice([0, 1, 2])) if axis == 0 else 0
    videos[f'random_shape_{index}'] = rng.random(shape).astype(np.float32)
  return videos


_VIDEOS = _odd_videos()
_BASE = np.asarray(_VIDEOS['float64'], np.float32)
_RANDOM_SHAPES = tuple(name for name in _VIDEOS if name.startswith('random'))
# Usable by every video function (the same 4x16x16x3 after conversion).
_USABLE = ('float16', 'float64', 'constant', 'zeros', 'nested_list')
_ALSO_USABLE_CHANNELS = ('grey', 'two_channels', 'rgba')
_CHANNELS_RUN = ('grey', 'rgba')  # each compiles: two of them
_UNUSABLE = ('rank2', 'rank3_image', 'rank3_grey', 'rank5', 'no_frames',
             'no_width', 'no_channels', 'uint8', 'int32', 'bool', 'complex64',
             'values_0_255', 'values_minus_2', 'nan', 'inf', 'minus_inf',
             'one_pixel_wide', 'one_pixel_high', 'one_pixel', 'one_frame',
             'two_frames') + _RANDOM_SHAPES
assert set(_USABLE + _ALSO_USABLE_CHANNELS + _UNUSABLE) == set(_VIDEOS)


def _refused(call, allowed=(errors.InputError,)) -> str:
  """The one-line message of the documented error `call` raises."""
  with pytest.raises(allowed) as raised:
    call()
  message = str(raised.value)
  assert message and '\n' not in message, message
  return message


def _finite(result, shape, low=None, high=None) -> np.ndarray:
  """`result` as NumPy: of `shape`, finite, in [low, high] if given."""
  result = np.asarray(result)
  assert result.shape == tuple(shape), (result.shape, shape)
  assert np.all(np.isfinite(result)), 'non-finite values in the result'
  if low is not None:
    assert result.min() >= low and result.max() <= high, (
        result.min(), result.max())
  return result


def _video_shape(name: str) -> tuple[int, ...]:
  return np.shape(_VIDEOS[name])


def _in_unit_range(result, shape, slack=1e-5):
  return _finite(result, shape, -slack, 1 + slack)


# ----------------------------------------------------------------------------
# The applications: each input kind is refused with InputError, or works.

def _generate(video):
  return vgpnn_jax.generate(_KEY, video, **_FAST)


def _generate_batch(video):
  return vgpnn_jax.generate_batch(jax.random.split(_KEY, 2), video, **_FAST)


def _inpaint(video):
  shape = np.shape(video)[:3] if np.ndim(video) >= 3 else _SIZE
  hole = np.zeros(shape, bool)
  hole[:, 4:9, 5:11] = True
  return edit.inpaint(_KEY, video, hole, **_FAST)


def _edit_original(video):
  return edit.edit(_KEY, video, video, **_FAST)


def _edit_values(video):
  return edit.edit(_KEY, _BASE, _BASE, values=video, **_FAST)


def _analogy_structure(video):
  return analogy.analogy(_KEY, video, _BASE, **_FAST)


def _analogy_appearance(video):
  return analogy.analogy(_KEY, _BASE, video, **_FAST)


def _analogy_both(video):
  return analogy.analogy(_KEY, video, video, **_FAST)


def _sketch(video):
  return analogy.sketch(_KEY, video, _BASE, **_FAST)


# (function, the kinds that work, output shape of a working call or None for
# the input's own, value slack); every other kind must be refused.
_APPLICATIONS = {
    'generate': (_generate, _USABLE + _CHANNELS_RUN, None, 1e-5),
    'generate_batch': (_generate_batch, ('float64',), (2,) + _SIZE + (3,),
                       1e-5),
    'inpaint': (_inpaint, ('float16', 'constant'), None, 1e-5),
    'edit_original': (_edit_original, ('constant',), None, 1e-5),
    # An image of values is a still background for every frame.
    'edit_values': (_edit_values, ('one_frame',), _SIZE + (3,), 1e-5),
    # The appearance, resized to the structure's height, overshoots a little
    # (generation.VALUE_SLACK).
    'analogy_structure': (_analogy_structure, ('float64',), None,
                          generation.VALUE_SLACK),
    # An appearance of another height is resized to the structure's.
    'analogy_appearance': (_analogy_appearance, ('one_pixel',),
                           _SIZE + (3,), generation.VALUE_SLACK),
    'analogy_both': (_analogy_both, (), None, 0),
    'sketch': (_sketch, ('float16',), None, generation.VALUE_SLACK),
}
# Each kind that works compiles: run only those named above, and every kind
# that is refused (cheap). The motion cue takes RGB or grey only; a sketch
# needs more than one colour.
_APPLICATION_REFUSED_TOO = {
    'analogy_structure': ('grey', 'two_channels', 'rgba'),
    'analogy_appearance': ('grey', 'two_channels', 'rgba'),
    'analogy_both': ('two_channels', 'rgba'),  # the motion cue's channels
    'sketch': ('constant', 'zeros', 'grey', 'two_channels', 'rgba'),
    'edit_values': ('grey', 'rgba'),
}
# These work (resized to the structure's height: 16x16 and 16x256), at
# another size: not run, to compile less.
_APPLICATION_NOT_RUN = {
    'analogy_appearance': ('one_pixel_wide', 'one_pixel_high'),
}


def _application_cases():
  cases = []
  for name, (_, works, _, _) in _APPLICATIONS.items():
    refused = tuple(
        kind for kind in _UNUSABLE + _APPLICATION_REFUSED_TOO.get(name, ())
        if kind not in works + _APPLICATION_NOT_RUN.get(name, ()))
    cases += [(name, kind, kind in works) for kind in works + refused]
  return cases


@pytest.mark.parametrize('function, kind, works', _application_cases(),
                         ids=[f'{f}-{k}' for f, k, _ in _application_cases()])
def test_applications_work_or_refuse(function, kind, works):
  call, _, shape, slack = _APPLICATIONS[function]
  video = _VIDEOS[kind]
  if not works:
    _refused(lambda: call(video))
    return
  shape = shape or _video_shape(kind)
  _in_unit_range(call(video), shape, slack)


def test_generate_takes_keys_not_seeds():
  _refused(lambda: vgpnn_jax.generate(0, _BASE), TypeError)
  _refused(lambda: vgpnn_jax.generate(jax.random.split(_KEY, 2), _BASE),
           ValueError)
  _refused(lambda: vgpnn_jax.generate_batch(_KEY, _BASE), ValueError)


_HOLE = np.zeros(_SIZE, bool)
_HOLE[:, 4:9, 5:11] = True
_MASKS = {
    'wrong_size': _HOLE[:, :8],
    'flat_2d': _HOLE[0],
    'empty': np.zeros(_SIZE, bool),
    'full': np.ones(_SIZE, bool),
}


@pytest.mark.parametrize('name', sorted(_MASKS))
def test_inpaint_and_edit_refuse_bad_masks(name):
  mask = _MASKS[name]
  _refused(lambda: edit.inpaint(_KEY, _BASE, mask, **_FAST))
  _refused(lambda: edit.edit(_KEY, _BASE, _BASE, mask=mask, **_FAST))


def test_edit_refuses_an_edit_of_another_size_and_a_cue_of_another_shape():
  _refused(lambda: edit.edit(_KEY, _BASE, _BASE[:, :8], **_FAST))
  _refused(lambda: edit.inpaint(_KEY, _BASE, _HOLE, cue=_BASE[:3], **_FAST))
  _refused(lambda: edit.cue_mask(_BASE, _BASE))  # nothing painted


# ----------------------------------------------------------------------------
# make_config: odd values are refused by make_config itself, never later.

_ODD_CONFIG = [
    ('noise_std', -1), ('noise_std', float('nan')), ('noise_std', 1e9),
    ('noise_std', '1'), ('noise_std', None),
    ('scale', (1, 1)), ('scale', (0, 1, 1)), ('scale', (1, float('inf'), 1)),
    ('scale', 'abc'),
    ('patch_size', (0, 5, 5)), ('patch_size', (3, 5)),
    ('patch_size', (3.5, 5, 5)), ('patch_size', 'x'), ('patch_size', 7),
    ('num_iters', 0), ('num_iters', 1.5), ('num_iters', None),
    ('coarsest_iters', 0), ('finest_iters', (0,)), ('finest_iters', 3),
    ('max_levels', 0), ('max_levels', 1.5), ('max_levels', '2'),
    ('time_factor', 0), ('time_factor', 1.5), ('space_factor', 1),
    ('space_factor', float('nan')),
    ('reduce', 'max'), ('keys_rule', 'x'), ('search', 'fast'),
    ('noise_unit', 'px'),
    ('alpha', 0), ('alpha', float('inf')), ('alpha_levels', -1),
    ('auto_exact_flops', -1), ('chunk_size', 0), ('chunk_size', None),
    ('layout_draws', 0), ('guard_level', -1),
    ('large_output_voxels', (1,)), ('large_output_voxels', 5),
]


@pytest.mark.parametrize('field, value', _ODD_CONFIG,
                         ids=[f'{f}={v!r}' for f, v in _ODD_CONFIG])
def test_make_config_refuses_odd_values(field, value):
  message = _refused(lambda: vgpnn_jax.make_config(**{field: value}),
                     ValueError)
  assert field in message, message


def test_make_config_refuses_unknown_options():
  _refused(lambda: vgpnn_jax.make_config(bogus=1), TypeError)


@pytest.mark.parametrize('overrides', [
    dict(noise_std=generation.MAX_NOISE_STD, noise_unit='value'),
    dict(scale=(1, 1, 0.4), max_levels=1, patch_size=(1, 5, 5)),
], ids=['largest_noise', 'narrow_single_level'])
def test_extreme_but_valid_configs_work(overrides):
  config = vgpnn_jax.make_config(**{**_FAST, **overrides})
  out = vgpnn_jax.generate(_KEY, _BASE, config)
  size = generation.plan_levels(_SIZE, config)[0].output_size
  _in_unit_range(out, size + (3,))


# ----------------------------------------------------------------------------
# The building blocks: a documented ValueError (InputError for values) or a
# finite result of the documented shape.

def _nearest(video):
  shape = np.shape(video)
  queries = np.reshape(video, (int(np.prod(shape[:-1])), shape[-1]))
  keys = _BASE.reshape(-1, 3)
  index, distance = vgpnn_jax.exact_nearest(queries, keys)
  index = _finite(index, queries.shape[:1])
  assert index.size == 0 or 0 <= index.min() <= index.max() < len(keys)
  return _finite(distance, queries.shape[:1], 0, np.inf)


def _resize(video):
  shape = np.shape(video)
  out = vgpnn_jax.resize(video, (2, 8, 8))
  return _finite(out, (2, 8, 8) + shape[3:])


def _pyramid(video):
  shape = np.shape(video)
  levels = vgpnn_jax.build_pyramid(video, [_SIZE, (3, 8, 8)])
  return [_finite(level, size + shape[3:])
          for level, size in zip(levels, [_SIZE, (3, 8, 8)])]


def _unfold(video):
  out = vgpnn_jax.unfold(video, (1, 3, 3))
  t, h, w, c = np.shape(video)
  return _finite(out, (t, h - 2, w - 2, 9 * c))


def _fold(video):
  # 1x1x1 patches: the fold of a video's own voxels is the video. (The mean
  # fold compiles faster than the median; both check the same.)
  out = _finite(vgpnn_jax.fold(video, (1, 1, 1), reduce='mean'),
                np.shape(video))
  np.testing.assert_array_equal(out, np.asarray(video, out.dtype))
  return out


def _fold_field(video):
  grid = np.shape(video)[:3]
  field = np.stack(np.meshgrid(*[np.arange(n) for n in grid],
                               indexing='ij'), axis=-1)
  out = vgpnn_jax.fold_field(field, video, (1, 1, 1), reduce='mean')
  return _finite(out, np.shape(video))


_BUILDING_BLOCKS = {'exact_nearest': _nearest, 'resize': _resize,
                    'build_pyramid': _pyramid, 'unfold': _unfold,
                    'fold': _fold, 'fold_field': _fold_field}
# NaN and infinities are refused by every building block (one NaN would
# spread along a resized axis, come out of the median fold as inf, or give
# a query no nearest key), and these kinds by some.
_NON_FINITE = ('nan', 'inf', 'minus_inf')
_MUST_REFUSE = {
    'exact_nearest': _NON_FINITE + ('complex64',),
    'resize': _NON_FINITE + ('complex64', 'no_frames', 'no_width'),
    'build_pyramid': _NON_FINITE + ('complex64',),
    'unfold': _NON_FINITE + ('rank3_image', 'rank5', 'one_pixel_wide'),
    'fold': _NON_FINITE + ('uint8', 'bool', 'complex64', 'no_width',
                           'no_channels', 'rank3_grey'),
    'fold_field': _NON_FINITE + ('uint8', 'int32', 'complex64', 'no_frames'),
}
_MUST_WORK = ('float64', 'constant', 'nested_list')


@pytest.mark.parametrize('function', sorted(_BUILDING_BLOCKS))
@pytest.mark.parametrize('kind', sorted(_VIDEOS))
def test_building_blocks_work_or_refuse(function, kind):
  call = _BUILDING_BLOCKS[function]
  video = _VIDEOS[kind]
  if kind in _MUST_REFUSE[function]:
    _refused(lambda: call(video), ValueError)
  elif kind in _MUST_WORK:
    call(video)
  else:
    try:
      call(video)
    except ValueError as e:  # documented, one line
      assert str(e) and '\n' not in str(e), str(e)


def test_exact_nearest_needs_keys():
  _refused(lambda: vgpnn_jax.exact_nearest(np.zeros((3, 2)), np.zeros((0, 2))),
           ValueError)


# ----------------------------------------------------------------------------
# The metrics: ValueError (InputError for values) or a finite score.

def _coherence_output(video):
  return metrics.coherence(video, _BASE, patch_size=(1, 3, 3))


def _coherence_reference(video):
  return metrics.coherence(_BASE, video, patch_size=(1, 3, 3))


def _completeness(video):
  return metrics.completeness(video, _BASE, patch_size=(1, 3, 3))


def _patch_swd(video):
  return metrics.patch_swd(video, _BASE, key=_KEY, patch_size=(1, 3, 3),
                           scales=(1,), num_projections=4).mean


def _diversity_samples(video):
  samples = [video, video] if isinstance(video, list) else (
      np.stack([video, video]))
  return metrics.diversity(samples, _BASE)


def _diversity_reference(video):
  return metrics.diversity(np.stack([_BASE, _BASE[::-1]]), video)


_METRICS = {'coherence_output': _coherence_output,
            'coherence_reference': _coherence_reference,
            'completeness': _completeness, 'patch_swd': _patch_swd,
            'diversity_samples': _diversity_samples,
            'diversity_reference': _diversity_reference}
_METRICS_REFUSE = _NON_FINITE + ('rank2', 'rank3_image', 'rank3_grey',
                                 'rank5', 'no_frames', 'no_width',
                                 'no_channels', 'complex64')
# The patch metrics are in value units of [0, 1] videos; diversity does not
# change with a common scale, so it takes integer videos.
_PATCH_METRICS_REFUSE = _METRICS_REFUSE + ('uint8', 'int32', 'bool')


@pytest.mark.parametrize('function', sorted(_METRICS))
@pytest.mark.parametrize('kind', sorted(_VIDEOS))
def test_metrics_work_or_refuse(function, kind):
  if function == 'diversity_reference' and kind in ('constant', 'zeros'):
    pytest.skip('documented: inf or NaN for a constant reference')
  call = _METRICS[function]
  video = _VIDEOS[kind]
  refuse = (_METRICS_REFUSE if function.startswith('diversity') else
            _PATCH_METRICS_REFUSE)
  if kind in refuse:
    _refused(lambda: call(video), ValueError)
    return
  try:
    score = call(video)
  except ValueError as e:  # documented (a patch larger than the video, ...)
    assert str(e) and '\n' not in str(e), str(e)
    return
  _finite(score, (), 0, np.inf)


# ----------------------------------------------------------------------------
# Sizes no memory holds: refused at once, nothing allocated.

_HUGE_SHAPE = (10**4, 10**4, 10**4, 3)  # 11 TiB as float32


def _huge():
  """An 11 TiB video that takes no memory (a broadcast view)."""
  return np.broadcast_to(np.float32(0.5), _HUGE_SHAPE)


_HUGE = {
    'generate_input': lambda: vgpnn_jax.generate(_KEY, _huge(), **_FAST),
    'generate_scale': lambda: vgpnn_jax.generate(
        _KEY, _BASE, scale=(1, 2000, 2000), **_FAST),
    'generate_batch_keys': lambda: vgpnn_jax.generate_batch(
        jax.random.split(_KEY, 10**6), _BASE, **_FAST),
    'inpaint': lambda: edit.inpaint(
        _KEY, _huge(), np.broadcast_to(True, _HUGE_SHAPE[:3]), **_FAST),
    'edit': lambda: edit.edit(_KEY, _huge(), _huge(), **_FAST),
    'analogy': lambda: analogy.analogy(_KEY, _huge(), _BASE, **_FAST),
    'sketch_appearance': lambda: analogy.sketch(_KEY, _BASE, _huge(),
                                                **_FAST),
    'coherence': lambda: metrics.coherence(_huge(), _BASE),
    'diversity': lambda: metrics.diversity(
        np.broadcast_to(np.float32(0.5), (2,) + _HUGE_SHAPE), _BASE),
    'resize_output': lambda: vgpnn_jax.resize(_BASE, (4, 10**5, 10**5)),
    'resize_input': lambda: vgpnn_jax.resize(_huge(), (2, 2, 2)),
    'build_pyramid': lambda: vgpnn_jax.build_pyramid(_BASE,
                                                     [(4, 10**5, 10**5)]),
    'moving_disc': lambda: sketches.moving_disc((10**5, 10**5, 10**5)),
}


@pytest.mark.parametrize('name', sorted(_HUGE))
def test_huge_sizes_are_refused_before_allocating(name):
  if memory.available_bytes() is None:
    pytest.skip('free memory unknown: nothing would be checked')
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
  start = time.perf_counter()
  message = _refused(_HUGE[name])
  assert time.perf_counter() - start < 10
  assert 'free' in message, message
  grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
  assert grown < 2**19, f'the peak memory grew by {grown} KiB'


# ----------------------------------------------------------------------------
# Files: corrupt, truncated, empty, of another kind.

def _clip(frames=4, size=24):
  t = np.linspace(0, 1, frames)[:, None, None, None]
  y = np.linspace(0, 1, size)[None, :, None, None]
  x = np.linspace(0, 1, size)[None, None, :, None]
  video = 0.5 + 0.4 * np.sin(8 * x + 5 * y + 2 * t + np.array([0, 1, 2]))
  return video.astype(np.float32)


@pytest.fixture(name='files', scope='module')
def _files(tmp_path_factory):
  """A folder of inputs: clip.mp4 and image.png, and bad ones (_BAD_FILES)."""
  root = tmp_path_factory.mktemp('fuzz_files')
  clip = _clip()
  io.write_video(root / 'clip.mp4', clip, fps=10)
  io.write_video(root / 'clip.gif', clip, fps=10)
  io.write_video(root / 'image.png', clip[:1], fps=1)
  whole = (root / 'clip.mp4').read_bytes()
  (root / 'truncated.mp4').write_bytes(whole[:len(whole) // 2])
  (root / 'header_only.mp4').write_bytes(whole[:48])
  (root / 'text.mp4').write_text('this is not a video\n')
  (root / 'empty.mp4').write_bytes(b'')
  rng = np.random.default_rng(_SEED)
  (root / 'garbage.png').write_bytes(
      b'\x89PNG\r\n\x1a\n' + rng.integers(0, 256, 200, np.uint8).tobytes())
  image = (root / 'image.png').read_bytes()
  (root / 'truncated.png').write_bytes(image[:len(image) // 2])
  (root / 'no_frames').mkdir()
  (root / 'no_frames' / 'notes.txt').write_text('no frames here')
  (root / 'bad_frames').mkdir()
  (root / 'bad_frames' / '1.png').write_bytes(b'junk')
  mask = np.zeros((1, 24, 12, 3), np.float32)  # another aspect
  mask[:, 6:12, 3:9] = 1
  io.write_video(root / 'narrow_mask.png', mask, fps=1)
  io.write_video(root / 'black_mask.png', np.zeros((1, 24, 24, 3),
                                                   np.float32), fps=1)
  io.write_video(root / 'flat.mp4', np.full_like(clip, 0.5), fps=10)
  io.write_video(root / 'thin.mp4', clip[:, :, :2], fps=10)
  return root


_BAD_FILES = ('truncated.mp4', 'header_only.mp4', 'text.mp4', 'empty.mp4',
              'garbage.png', 'truncated.png', 'no_frames', 'bad_frames',
              'missing.mp4')


@pytest.mark.parametrize('name', _BAD_FILES)
def test_read_video_refuses_bad_files(files, name):
  message = _refused(lambda: io.read_video(files / name))
  assert 'cannot read' in message, message
  _refused(lambda: io.read_mask(files / name, size=(4, 24, 24)))


@pytest.mark.parametrize('options', [
    dict(max_size=0), dict(step=0), dict(start=10), dict(start=1.5),
    dict(stop=-10), dict(max_size='x')], ids=str)
def test_read_video_refuses_odd_options(files, options):
  _refused(lambda: io.read_video(files / 'clip.mp4', **options))


# ----------------------------------------------------------------------------
# The command line, in-process: exit 2, one line, nothing written.

_CLI_FAST = ['--search', 'exact', '--patch', '3,5,5', '--iters', '1',
             '--quiet']
# Every input slot of every subcommand; BAD is replaced by the bad file.
_SLOTS = {
    'generate': ['generate', 'BAD', '--levels', '2'],
    'inpaint_input': ['inpaint', 'BAD', '--box', '0:2,4:12,4:12'],
    'inpaint_mask': ['inpaint', 'clip.mp4', '--mask', 'BAD'],
    'inpaint_cue': ['inpaint', 'clip.mp4', '--cue', 'BAD'],
    'edit_original': ['edit', 'BAD', 'clip.mp4'],
    'edit_edited': ['edit', 'clip.mp4', 'BAD'],
    'edit_values': ['edit', 'clip.mp4', 'clip.mp4', '--values', 'BAD'],
    'edit_mask': ['edit', 'clip.mp4', 'clip.mp4', '--mask', 'BAD'],
    'analogy_structure': ['analogy', 'BAD', 'clip.mp4'],
    'analogy_appearance': ['analogy', 'clip.mp4', 'BAD'],
    'sketch_sketch': ['sketch', 'BAD', 'clip.mp4'],
    'sketch_appearance': ['sketch', 'clip.mp4', 'BAD'],
    'make_sketch': ['make-sketch', 'BAD'],
    'evaluate_input': ['evaluate', 'BAD', 'clip.mp4'],
    'evaluate_output': ['evaluate', 'clip.mp4', 'BAD'],
}
# The file a bad one is reported as (a folder's bad frame by its own path).
_REPORTED = {'bad_frames': 'bad_frames/1.png'}
_FILE_CASES = [(slot, name) for name in _BAD_FILES for slot in _SLOTS]

# Other refusals: (arguments, what the line names).
_OTHER_CASES = {
    'inpaint_mask_of_another_aspect': (
        ['inpaint', 'clip.mp4', '--mask', 'narrow_mask.png'], 'the mask is'),
    'inpaint_empty_mask': (['inpaint', 'clip.mp4', '--mask',
                            'black_mask.png'], 'the mask is empty'),
    'edit_mask_of_another_aspect': (
        ['edit', 'clip.mp4', 'clip.mp4', '--mask', 'narrow_mask.png'],
        'the mask is'),
    'edit_of_another_size': (['edit', 'clip.mp4', 'thin.mp4'],
                             'edit a copy of the original'),
    'make_sketch_of_one_colour': (['make-sketch', 'flat.mp4'],
                                  'single colour'),
    'sketch_of_one_colour': (['sketch', 'flat.mp4', 'clip.mp4'],
                             'single colour'),
    'generate_two_pixels_wide': (['generate', 'thin.mp4'],
                                 'smaller than the 5x5 patch'),
    'analogy_two_pixels_wide': (['analogy', 'thin.mp4', 'clip.mp4'],
                                'the structure is 24x2 pixels'),
    'sketch_two_pixels_wide': (['sketch', 'thin.mp4', 'clip.mp4'],
                               'the structure is 24x2 pixels'),
    'analogy_video_and_image': (['analogy', 'clip.mp4', 'image.png'],
                                'give two videos or two images'),
    'evaluate_an_image': (['evaluate', 'clip.mp4', 'image.png'],
                          'at least 3 frames'),
    'inpaint_box_outside': (['inpaint', 'clip.mp4', '--box',
                             '0:2,30:40,30:40'], 'box'),
    # Sizes no memory holds: refused before anything is allocated.
    'make_sketch_huge_disc': (['make-sketch', '--disc', '100000x100000x100000'],
                              'is free'),
    'generate_huge_scale': (['generate', 'clip.mp4', '--scale', '1,1000,1000'],
                            'is free'),
    'generate_huge_num': (['generate', 'clip.mp4', '--num', '100000000'],
                          'fewer variations'),
}


def _run_refused(files, args, message, capfd, monkeypatch):
  """Runs the command in `files`: exit 2, one 'error: ' line naming
  `message` on stderr (the process's, ffmpeg's included), no input changed,
  nothing written."""
  monkeypatch.chdir(files)
  command = args[0]
  if command == 'make-sketch':
    args = args + ['--out', 'new_sketch.mp4']
  elif command != 'evaluate':
    args = args[:1] + _CLI_FAST + args[1:] + ['--out', 'new']
  before = {p: cli_checks.digest(p) for p in files.rglob('*')
            if p.is_file() and 'cache' not in p.parts}
  capfd.readouterr()
  status = cli.main(args)
  err = capfd.readouterr().err
  assert status == cli.EXIT_BAD_INPUT, err
  cli_checks.assert_refused(err, message)
  after = {p: cli_checks.digest(p) for p in files.rglob('*')
           if p.is_file() and 'cache' not in p.parts}
  assert after == before  # inputs as they were, no new or partial file
  assert not (files / 'new').exists() and not (
      files / 'new_sketch.mp4').exists()


@pytest.mark.parametrize('slot, name', _FILE_CASES,
                         ids=[f'{s}-{n}' for s, n in _FILE_CASES])
def test_cli_refuses_bad_files_in_every_slot(files, slot, name, capfd,
                                             monkeypatch):
  args = [name if a == 'BAD' else a for a in _SLOTS[slot]]
  _run_refused(files, args, f"'{_REPORTED.get(name, name)}'", capfd,
               monkeypatch)


@pytest.mark.parametrize('case', sorted(_OTHER_CASES))
def test_cli_refuses_other_bad_input(files, case, capfd, monkeypatch):
  if 'huge' in case and memory.available_bytes() is None:
    pytest.skip('free memory unknown: nothing would be checked')
  args, message = _OTHER_CASES[case]
  _run_refused(files, args, message, capfd, monkeypatch)


def test_odd_files_that_still_work(files, tmp_path, capfd):
  """A GIF cut in half still decodes (its first frame), and a mask of the
  video's aspect at another size is resized: neither is refused."""
  whole = (files / 'clip.gif').read_bytes()
  (tmp_path / 'half.gif').write_bytes(whole[:len(whole) // 2])
  video, _ = io.read_video(tmp_path / 'half.gif')
  _finite(video, video.shape, 0, 1)
  assert video.shape[1:] == (24, 24, 3)
  small = np.zeros((1, 12, 12, 3), np.float32)
  small[:, 3:8, 3:8] = 1
  io.write_video(tmp_path / 'small_mask.png', small, fps=1)
  mask = io.read_mask(tmp_path / 'small_mask.png', size=(4, 24, 24))
  assert mask.shape == (4, 24, 24) and mask.any() and not mask.all()
  assert cli.main(['make-sketch', str(tmp_path / 'half.gif'), '--out',
                   str(tmp_path / 'sketch.mp4')]) == 0
  capfd.readouterr()


def test_the_generator_is_deterministic():
  again = _odd_videos()
  assert again.keys() == _VIDEOS.keys()
  for name, video in _VIDEOS.items():
    np.testing.assert_array_equal(np.asarray(again[name]), np.asarray(video))
