"""Evaluation reports: every metric of some outputs against their input.

    results = report.evaluate_files('input.mp4', ['out0.mp4', 'out1.mp4'])
    print(report.format_table(results))   # Markdown
    print(report.to_json(results))        # the same numbers as JSON

For each output: `coherence` and `completeness` (mean squared difference per
value to the nearest patch, 3x7x7 patches, values in [0, 1]) and the patch
`swd` (sliced Wasserstein distance, mean over scales 1, 2, 4); over the outputs:
their means and, when there are at least two outputs of one shape, the papers'
`diversity`. See `vgpnn_jax.metrics` for the definitions.

The patch searches are sampled: by default each output's coherence averages
4096 of its patches drawn at random (and its completeness 4096 of the
input's), each searched exactly among all patches of the other video. That
costs about 2 * 4096 * N * 441 flops per direction for N patches (1e12 at
8x168x298: 10-25 s on 2 CPU cores) with a sampling error of a few percent;
pass `max_patches=None` for the exact values (70x more at that size). The SWD
adds about 10 s per output there (sorting 128 projections of every patch).

This module sits on the top layer (it reads files through `vgpnn_jax.io`).
"""

import json
import math
import time
import warnings
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vgpnn_jax import errors
from vgpnn_jax import generation
from vgpnn_jax import io
from vgpnn_jax import metrics
from vgpnn_jax.resampling import resize

DEFAULT_MAX_PATCHES = 4096
# Patches per video and scale for the SWD: 2^19 keeps every patch of videos up
# to about 8x300x300 and bounds the projections (4 * 128 bytes per patch).
DEFAULT_SWD_MAX_PATCHES = 2**19
DEFAULT_SCALES = (1, 2, 4)
# Outputs whose height or width differs from the reference's by more than
# this factor are compared at another scale of detail: a warning says so.
COMPARABLE_SIZE_RATIO = 2.0

ProgressFn = Callable[[str], None]


def _float(value) -> float | None:
  value = float(value)
  return value if math.isfinite(value) else None


def _as_video(video: Any, what: str) -> jax.Array:
  video = jnp.asarray(video)
  if video.ndim != 4 or video.shape[-1] != 3:
    raise errors.InputError(
        f'{what} has shape {video.shape}; give a [T, H, W, 3] video')
  return video.astype(jnp.float32)


def _check_size(name: str, size: Sequence[int],
                patch_size: tuple[int, ...]) -> None:
  """InputError unless a video of `size` (T, H, W) holds one patch."""
  patch = 'x'.join(map(str, patch_size))
  shown = f'{name} is {"x".join(map(str, size))} (frames x height x width)'
  if size[0] < patch_size[0]:
    raise errors.InputError(
        f'{shown}: the metrics compare {patch} patches, so every video needs '
        f'at least {patch_size[0]} frames; evaluate videos, not single '
        f'images (for images pass patch_size=(1, {patch_size[1]}, '
        f'{patch_size[2]}) to report.evaluate_videos)')
  if size[1] < patch_size[1] or size[2] < patch_size[2]:
    raise errors.InputError(
        f'{shown}: the metrics compare {patch} patches, so every video needs '
        f'at least {patch_size[1]}x{patch_size[2]} pixels; evaluate larger '
        f'videos')


def size_warning(reference_size: Sequence[int],
                 sizes: Sequence[Sequence[int]]) -> str | None:
  """Why outputs of `sizes` do not compare with a reference, or None.

  The patches of an output more than `COMPARABLE_SIZE_RATIO` times larger or
  smaller than the reference in height or width hold detail of another scale,
  so its numbers measure the change of scale more than the generation.

  Args:
    reference_size: (T, H, W) of the reference.
    sizes: (T, H, W) of each output.
  """
  _, height, width = reference_size
  far = sorted({tuple(s) for s in sizes if any(
      max(n, m) > COMPARABLE_SIZE_RATIO * min(n, m)
      for n, m in ((s[1], height), (s[2], width)))})
  if not far:
    return None
  shapes = ', '.join('x'.join(map(str, s)) for s in far)
  return (f'output size(s) {shapes} differ from the input\'s '
          f'{"x".join(map(str, reference_size))} by more than '
          f'{COMPARABLE_SIZE_RATIO:g}x in height or width: the numbers compare '
          f'patches of different scales and are not comparable; read the input '
          f'at the outputs\' height (max_size={far[0][1]}; --max-size '
          f'{far[0][1]} on the command line)')


def evaluate_videos(reference: jax.typing.ArrayLike,
                    outputs: Sequence[jax.typing.ArrayLike],
                    *,
                    key: jax.Array,
                    names: Sequence[str] | None = None,
                    reference_name: str = 'input',
                    patch_size: Sequence[int] = (3, 7, 7),
                    max_patches: int | None = DEFAULT_MAX_PATCHES,
                    max_keys: int | None = None,
                    swd_max_patches: int | None = DEFAULT_SWD_MAX_PATCHES,
                    scales: Sequence[float] = DEFAULT_SCALES,
                    num_projections: int = 128,
                    mask: jax.typing.ArrayLike | None = None,
                    progress: ProgressFn | None = None) -> dict[str, Any]:
  """Every metric of each output against the reference, and over all outputs.

  Output i uses the key `jax.random.fold_in(key, i)`, so adding outputs does
  not change the numbers of the others.

  Args:
    reference: [T, H, W, 3] input video in [0, 1].
    outputs: N >= 1 videos [Ti, Hi, Wi, 3] in [0, 1], each evaluated at its own
      size (retargeted outputs are fine).
    key: PRNG key for the patch subsampling and the SWD directions.
    names: N labels for the table (default 'output 0', 'output 1', ...).
    reference_name: label of the reference.
    patch_size: (pt, ph, pw).
    max_patches: query patches per coherence / completeness (None: all).
    max_keys: searched patches per direction (None: all; see
      `metrics.coherence` for why subsampling keys biases the values).
    swd_max_patches: patches per video and scale for the SWD (None: all).
    scales: SWD scales; those at which some video would be smaller than the
      patch are dropped (the ones used are listed in the settings).
    num_projections: SWD directions per scale.
    mask: optional [T, H, W] region of the outputs to evaluate (inpainting:
      the filled hole); only for outputs of the reference's size. Restricts
      coherence and SWD to output patches centred inside; completeness and
      diversity are unchanged.
    progress: optional `fn(line)` called after each output.

  Returns:
    A JSON-ready dict: `reference` (name, shape), `settings`, `outputs` (per
    output: name, shape, coherence, completeness, swd, swd_per_scale,
    seconds), `mean` (coherence, completeness, swd over the outputs),
    `diversity` (a float, or None with `diversity_note` saying why),
    `warning` when some output's size does not compare with the reference's
    (`size_warning`; it is also given as an `errors.InputWarning`) and
    `seconds`. Non-finite values are None.
  """
  start = time.perf_counter()
  reference = _as_video(reference, 'the reference')
  if len(outputs) == 0:
    raise errors.InputError('no outputs to evaluate; give at least one')
  outputs = [_as_video(o, f'output {i}') for i, o in enumerate(outputs)]
  if names is None:
    names = [f'output {i}' for i in range(len(outputs))]
  names = [str(n) for n in names]
  if len(names) != len(outputs):
    raise ValueError(f'{len(names)} names for {len(outputs)} outputs')
  patch_size = tuple(int(p) for p in patch_size)
  if max_patches is not None and max_patches < 1:
    raise errors.InputError(f'max_patches must be None (all patches) or at '
                            f'least 1, got {max_patches}')
  for name, video in [(reference_name, reference)] + list(zip(names, outputs)):
    _check_size(name, video.shape[:3], patch_size)
  warning = size_warning(reference.shape[:3], [o.shape[:3] for o in outputs])
  if warning is not None:
    warnings.warn(warning, errors.InputWarning, stacklevel=2)
  if mask is not None:
    mask = jnp.asarray(mask)
    if any(o.shape[:3] != mask.shape for o in outputs):
      raise errors.InputError(
          f'the mask is {mask.shape} but not every output has that size; '
          f'give a [T, H, W] mask of the outputs\' size')
  used_scales = metrics.usable_scales(
      [reference.shape[:3]] + [o.shape[:3] for o in outputs], patch_size,
      scales)
  if not used_scales:
    used_scales = (1.0,)

  rows = []
  for index, (name, output) in enumerate(zip(names, outputs)):
    tick = time.perf_counter()
    pair_key, swd_key = jax.random.split(jax.random.fold_in(key, index))
    both = metrics.bidirectional(
        output, reference, patch_size=patch_size, mask=mask,
        max_patches=max_patches, max_keys=max_keys, key=pair_key)
    swd = metrics.patch_swd(
        output, reference, key=swd_key, patch_size=patch_size,
        scales=used_scales, num_projections=num_projections,
        max_patches=swd_max_patches, mask=mask)
    row = {
        'name': name,
        'shape': list(output.shape[:3]),
        'coherence': _float(both.coherence),
        'completeness': _float(both.completeness),
        'swd': _float(swd.mean),
        'swd_per_scale': [_float(v) for v in np.asarray(swd.per_scale)],
        'seconds': round(time.perf_counter() - tick, 2),
    }
    rows.append(row)
    if progress is not None:
      progress(f'  {name}: coherence {_fmt(row["coherence"])}, completeness '
               f'{_fmt(row["completeness"])}, SWD {_fmt(row["swd"])} '
               f'({row["seconds"]:.1f} s)')

  def mean(field):
    values = [r[field] for r in rows]
    return None if None in values else float(np.mean(values))

  shapes = {o.shape for o in outputs}
  diversity, note = None, None
  if len(outputs) < 2:
    note = 'needs at least 2 outputs'
  elif len(shapes) > 1:
    note = 'needs outputs of one shape'
  else:
    diversity = _float(metrics.diversity(jnp.stack(outputs), reference))
  results = {
      'reference': {'name': reference_name,
                    'shape': list(reference.shape[:3])},
      'settings': {
          'patch_size': list(patch_size),
          'max_patches': max_patches,
          'max_keys': max_keys,
          'swd_max_patches': swd_max_patches,
          'scales': [float(s) for s in used_scales],
          'num_projections': int(num_projections),
          'masked': mask is not None,
      },
      'outputs': rows,
      'mean': {f: mean(f) for f in ('coherence', 'completeness', 'swd')},
      'diversity': diversity,
  }
  if note is not None:
    results['diversity_note'] = note
  if warning is not None:
    results['warning'] = warning
  results['seconds'] = round(time.perf_counter() - start, 2)
  return results


def _shrink_factor(path: io.PathLike, read_height: int,
                   max_size: int | None) -> float:
  """Factor by which reading with `max_size` shrank the input (1: none)."""
  if max_size is None or read_height != max_size:
    return 1.0
  first, _ = io.read_video(path, stop=1)  # every frame has the same size
  return read_height / first.shape[1]


def evaluate_files(input_path: io.PathLike,
                   output_paths: Sequence[io.PathLike],
                   *,
                   seed: int = 0,
                   max_size: int | None = None,
                   start: int = 0,
                   stop: int | None = None,
                   progress: ProgressFn | None = None,
                   **options) -> dict[str, Any]:
  """`evaluate_videos` on files read with `vgpnn_jax.io.read_video`.

  Each output is evaluated at its own size against the input. With
  `max_size`, an input taller than `max_size` is read at that height (as
  `generate --max-size` reads it); outputs taller than `max_size` are then
  taken to be at the input's full resolution and shrunk by the same factor
  (Keys cubic, antialiased; time untouched), while outputs at most `max_size`
  tall are taken as they are (e.g. generated with the same `--max-size`).

  Args:
    input_path: the input video, frame folder or image.
    output_paths: one or more generated videos.
    seed: an integer >= 0 (`generation.key_for_seed`) for the subsampling
      and SWD directions.
    max_size: optional largest height, as above.
    start: first input frame (as `read_video`); outputs are read whole.
    stop: end input frame (exclusive), e.g. the frame count used to generate.
    progress: optional `fn(line)`, e.g. `print`, called after each output.
    **options: passed to `evaluate_videos` (patch_size, max_patches,
      max_keys, swd_max_patches, scales, num_projections).

  Returns:
    The dict of `evaluate_videos`, names being the paths as given, with
    `settings['max_size']` and `settings['resize_factor']` added.

  Raises:
    errors.InputError: a file cannot be read, or a video is smaller than the
      patch.
  """
  if len(output_paths) == 0:
    raise errors.InputError('no output videos given; pass at least one')
  reference, _ = io.read_video(input_path, max_size=max_size, start=start,
                               stop=stop)
  factor = _shrink_factor(input_path, reference.shape[1], max_size)
  outputs = []
  for path in output_paths:
    video, _ = io.read_video(path)
    frames, height, width, _ = video.shape
    if factor != 1.0 and height > max_size:
      size = (frames, max(1, math.floor(height * factor + 0.5)),
              max(1, math.floor(width * factor + 0.5)))
      video = np.clip(np.asarray(resize(video, size)), 0.0, 1.0)
    outputs.append(video)
  results = evaluate_videos(
      reference, outputs, key=generation.key_for_seed(seed),
      names=[str(p) for p in output_paths], reference_name=str(input_path),
      progress=progress, **options)
  results['settings']['max_size'] = max_size
  results['settings']['resize_factor'] = factor
  results['settings']['seed'] = seed
  return results


def _fmt(value: float | None) -> str:
  return '-' if value is None else f'{value:.4g}'


def _size(shape: Sequence[int]) -> str:
  return 'x'.join(str(s) for s in shape)


def format_table(results: dict[str, Any]) -> str:
  """A Markdown table of `evaluate_videos` / `evaluate_files` results.

  Args:
    results: the dict they return.

  Returns:
    One row per output and a mean row, then the diversity and the settings,
    as Markdown text ending with a newline.
  """
  scales = results['settings']['scales']
  scale_text = ' / '.join(f'{s:g}' for s in scales)
  lines = [
      f'| output | size | coherence | completeness | SWD | SWD at scales '
      f'{scale_text} |',
      '|---|---|---|---|---|---|',
  ]
  for row in results['outputs']:
    per_scale = ' / '.join(_fmt(v) for v in row['swd_per_scale'])
    lines.append(f'| {row["name"]} | {_size(row["shape"])} | '
                 f'{_fmt(row["coherence"])} | {_fmt(row["completeness"])} | '
                 f'{_fmt(row["swd"])} | {per_scale} |')
  mean = results['mean']
  lines.append(f'| **mean** | | {_fmt(mean["coherence"])} | '
               f'{_fmt(mean["completeness"])} | {_fmt(mean["swd"])} | |')
  lines.append('')
  count = len(results['outputs'])
  if results['diversity'] is None:
    lines.append(f'Diversity: - ({results.get("diversity_note", "n/a")}).')
  else:
    lines.append(f'Diversity over {count} outputs: '
                 f'{_fmt(results["diversity"])}.')
  settings = results['settings']
  sampled = ('all patches' if settings['max_patches'] is None else
             f'{settings["max_patches"]} sampled patches per direction')
  lines.append(
      f'Reference {results["reference"]["name"]} '
      f'({_size(results["reference"]["shape"])}); patches '
      f'{_size(settings["patch_size"])}; coherence / completeness: mean '
      f'squared difference per value to the nearest patch, {sampled}; SWD: '
      f'sliced Wasserstein distance over {settings["num_projections"]} '
      f'directions.')
  return '\n'.join(lines) + '\n'


def to_json(results: dict[str, Any]) -> str:
  """The results as indented JSON (non-finite numbers as null)."""

  def clean(value):
    if isinstance(value, dict):
      return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
      return [clean(v) for v in value]
    if isinstance(value, (np.generic, jax.Array)):
      value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
      return None
    return value

  return json.dumps(clean(results), indent=2, allow_nan=False)
