"""Reading and writing videos: files, frame folders, images, GIFs and grids.

Videos in memory are float32 NumPy arrays `[T, H, W, 3]` with values in
[0, 1]. Files are decoded and encoded by ffmpeg through mediapy; when no
`ffmpeg` is on the PATH, the binary shipped by the `imageio-ffmpeg` wheel is
used (pinned to 0.6.0: the ffmpeg of 0.8 drops `-vsync`, which mediapy's reader
needs). Still images go through PIL.

Every mistake in user input (a missing or corrupt file, an empty folder, a
frame range that selects nothing, an unwritable output folder) raises
`errors.InputError` with one message that names the file, the problem and the
fix. Writes are atomic: a file is encoded under a temporary name in the target
folder and renamed into place, so an output is either complete or absent.

This module sits on the top layer: only the command line and the experiments
import it.
"""

import contextlib
import math
import operator
import os
import pathlib
import re
import uuid
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from vgpnn_jax import errors

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mj2', '.gif')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
WRITE_EXTENSIONS = ('.mp4', '.gif', '.png')

FOLDER_FPS = 10.0  # frame rate given to a folder of frames
IMAGE_FPS = 1.0  # frame rate given to a single image

# Frames are converted and resized in chunks of about this many bytes of
# float32 input, so a long video read with `max_size` never sits in memory at
# full resolution; small chunks also keep the resize in cache (measured
# fastest at 4-8 MiB on 2 cores).
_CHUNK_BYTES = 8 * 2**20
# H.264 quality: constant rate factor 18 is visually lossless for most content.
_MP4_CRF = 18

_ffmpeg_checked = False

PathLike = str | os.PathLike[str]


# ----------------------------------------------------------------------------
# ffmpeg through mediapy.


def _mediapy(path: PathLike) -> Any:
  """Imports mediapy (slow: it loads matplotlib) and makes sure of an ffmpeg."""
  global _ffmpeg_checked
  import mediapy  # pylint: disable=g-import-not-at-top

  if not _ffmpeg_checked:
    if not mediapy.video_is_available():
      try:
        import imageio_ffmpeg  # pylint: disable=g-import-not-at-top

        exe = imageio_ffmpeg.get_ffmpeg_exe()
      except (ImportError, RuntimeError) as e:
        raise errors.InputError(
            f"cannot process '{path}': no ffmpeg found; install one with"
            " `pip install imageio-ffmpeg==0.6.0` (or put ffmpeg on the PATH)"
        ) from e
      mediapy.set_ffmpeg(exe)
    _ffmpeg_checked = True
  return mediapy


# ----------------------------------------------------------------------------
# Reading.


def _check_index(value: Any, name: str, *, optional: bool = False) -> Any:
  if optional and value is None:
    return None
  try:
    return operator.index(value)
  except TypeError:
    raise errors.InputError(
        f'{name}={value!r} is not an integer; give a whole number'
    ) from None


def _natural_key(name: str) -> tuple[list[Any], str]:
  """Sort key that orders numbers numerically: 2.png before 10.png."""
  parts = re.split(r'(\d+)', name.lower())
  return [int(p) if p.isdigit() else p for p in parts], name


def _list_frames(folder: pathlib.Path) -> list[pathlib.Path]:
  """The image files of a folder in natural (numeric) order."""
  files = [
      f
      for f in folder.iterdir()
      if f.suffix.lower() in IMAGE_EXTENSIONS
      and not f.name.startswith('.')
      and f.is_file()
  ]
  return sorted(files, key=lambda f: _natural_key(f.name))


def _read_image(path: pathlib.Path) -> np.ndarray:
  """Reads an image file as uint8 `[H, W, 3]` (grey -> RGB, alpha dropped)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from PIL import ImageOps  # pylint: disable=g-import-not-at-top

  try:
    with Image.open(path) as image:
      image.load()
      image = ImageOps.exif_transpose(image)
      if image.mode.startswith('I'):  # 16-bit grey (PNG): scale to 8 bits.
        grey = np.asarray(image, dtype=np.float64)
        if image.mode.startswith('I;16') or grey.max(initial=0) > 255:
          grey = grey / 257.0
        grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
      return np.asarray(image.convert('RGB'), dtype=np.uint8)
  except Image.DecompressionBombError as e:
    raise errors.InputError(
        f"cannot read '{path}': the image is too large ({e}); shrink it first"
    ) from None
  except (OSError, SyntaxError, ValueError) as e:
    # PIL.UnidentifiedImageError is an OSError.
    reason = str(e).split('\n')[0] or type(e).__name__
    raise errors.InputError(
        f"cannot read '{path}': not a valid image ({reason}); check the file"
        ' opens in an image viewer or export it again'
    ) from None


def _select(
    frames: Iterable[np.ndarray],
    start: int | None,
    stop: int | None,
    step: int,
) -> Iterator[np.ndarray]:
  """`list(frames)[start:stop:step]`, streaming when the indices allow it."""
  if step < 0 or any(i is not None and i < 0 for i in (start, stop)):
    yield from list(frames)[start:stop:step]
    return
  start = start or 0
  for i, frame in enumerate(frames):
    if stop is not None and i >= stop:
      return
    if i >= start and (i - start) % step == 0:
      yield frame


class _Assembler:
  """Collects uint8 frames `[H, W, 3]` into a float32 video `[T, H, W, 3]`.

  Without a resize the frames stay uint8 until the end and are then copied one
  by one into the float32 result, so the peak memory is the result plus the
  uint8 frames. With `max_size`, frames are converted and resized in chunks of
  about `_CHUNK_BYTES`, so a long video read at a small size never sits in
  memory at full resolution in float32.
  """

  def __init__(self, path: pathlib.Path, max_size: int | None):
    self._path = path
    self._max_size = max_size
    self._frames: list[np.ndarray | None] = []  # uint8, not yet converted
    self._chunks: list[np.ndarray] = []  # float32, resized
    self._chunk_len = 1
    self._in_hw: tuple[int, int] | None = None
    self._out_hw: tuple[int, int] | None = None
    self.num_frames = 0

  @property
  def _resizing(self) -> bool:
    return self._out_hw != self._in_hw

  def add(self, frame: np.ndarray) -> None:
    hw = frame.shape[:2]
    if self._in_hw is None:
      self._in_hw = hw
      height, width = hw
      if self._max_size is not None and height > self._max_size:
        new_w = max(1, math.floor(width * self._max_size / height + 0.5))
        self._out_hw = (self._max_size, new_w)
      else:
        self._out_hw = hw
      self._chunk_len = max(1, _CHUNK_BYTES // (height * width * 3 * 4))
    elif hw != self._in_hw:
      raise errors.InputError(
          f"cannot read '{self._path}': frame {self.num_frames} is"
          f' {hw[1]}x{hw[0]} but the first frame is'
          f' {self._in_hw[1]}x{self._in_hw[0]}; make every frame the same size'
      )
    self._frames.append(frame)
    self.num_frames += 1
    if self._resizing and len(self._frames) == self._chunk_len:
      self._flush()

  def _flush(self) -> None:
    """Converts and resizes the buffered frames into one chunk."""
    from vgpnn_jax.resampling import resize  # pylint: disable=g-import-not-at-top

    if not self._frames:
      return
    chunk = np.stack(self._frames).astype(np.float32) * np.float32(1 / 255)
    self._frames = []
    length = chunk.shape[0]
    # Pad a short last chunk to the chunk length so the jitted resize compiles
    # once per video. Frames are resized independently: the time axis keeps
    # its size and the resize leaves such axes untouched.
    if self._chunks and length < self._chunk_len:
      pad = np.repeat(chunk[-1:], self._chunk_len - length, axis=0)
      chunk = np.concatenate([chunk, pad])
    resized = resize(chunk, (chunk.shape[0], *self._out_hw))
    chunk = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    self._chunks.append(chunk[:length])

  def result(self) -> np.ndarray:
    """The video `[T, H, W, 3]` float32 in [0, 1]; needs num_frames >= 1."""
    if self._resizing:
      self._flush()
      if len(self._chunks) == 1:
        return self._chunks[0]
      return np.concatenate(self._chunks)
    assert self._in_hw is not None
    video = np.empty((self.num_frames, *self._in_hw, 3), np.float32)
    for i, frame in enumerate(self._frames):
      video[i] = frame
      self._frames[i] = None  # free the uint8 copy as we go
    self._frames = []
    video *= np.float32(1 / 255)
    return video


def _ffmpeg_reason(log: str) -> str:
  """The most specific line of an ffmpeg error log."""
  # Demuxer and decoder messages look like '[mov,mp4 @ 0x55d1] moov atom not
  # found' (the '[in#0 @ ...]' lines of the ffmpeg tool itself are generic).
  specific = re.findall(r'\[[^\]#]+ @ 0x[0-9a-fA-F]+\] (.+)', log)
  lines = [line.strip() for line in log.splitlines() if line.strip()]
  if specific:
    return specific[-1].strip()
  return lines[-1] if lines else 'no details'


def _read_video_file(
    path: pathlib.Path,
    assembler: _Assembler,
    start: int | None,
    stop: int | None,
    step: int,
) -> tuple[float, int]:
  """Decodes the selected frames of a video file into `assembler`.

  Returns:
    fps: the frame rate of the file.
    total: the number of frames in the file.
  """
  mediapy = _mediapy(path)
  reader = mediapy.VideoReader(path)
  try:
    # Reads the header (one ffmpeg pass over the file) and starts the decoder.
    reader.__enter__()
  except (RuntimeError, OSError, ValueError) as e:
    reason = f' ({_ffmpeg_reason(str(e))})'
    raise errors.InputError(
        f"cannot read '{path}': ffmpeg cannot decode it; the file is corrupt,"
        f' truncated or not a video{reason}. Check that it plays in a video'
        ' player or convert it to .mp4'
    ) from None
  seen = 0

  def decoded() -> Iterator[np.ndarray]:
    nonlocal seen
    for frame in reader:
      seen += 1
      yield frame

  try:
    for frame in _select(decoded(), start, stop, step):
      assembler.add(frame)
  except RuntimeError as e:
    raise errors.InputError(
        f"cannot read '{path}': decoding failed after {seen} frames"
        f" ({str(e).splitlines()[0] if str(e) else 'ffmpeg error'}); the file"
        ' is corrupt, convert it to .mp4'
    ) from None
  finally:
    reader.close()  # Also stops ffmpeg when the frame range ends early.
  total = reader.num_images if reader.num_images > 0 else seen
  return float(reader.fps), total


def read_video(
    path: PathLike,
    *,
    max_size: int | None = None,
    start: int | None = None,
    stop: int | None = None,
    step: int = 1,
) -> tuple[np.ndarray, float]:
  """Reads a video file, a folder of numbered frames or a single image.

  Video files (.mp4 .avi .mkv .mov .webm .mj2 .gif) are decoded by ffmpeg. A
  folder is read as its .png/.jpg/.jpeg/.bmp files sorted by the numbers in
  their names (1.png, 2.png, ..., 10.png) at 10 fps; a single image is a video
  of one frame at 1 fps. Grey images get three channels; alpha is dropped.

  Args:
    path: the file or folder.
    max_size: if given and the height exceeds it, the frames are resized
      (Keys cubic, antialiased) to this height, the width scaled by the same
      factor and rounded to the nearest integer.
    start: first frame index, as in a Python slice (may be negative); None
      starts at the first frame, or at the last one when `step` < 0.
    stop: end frame index (exclusive), as in a Python slice; None for the end.
    step: frame step, as in a Python slice (not 0; negative reverses).

  Returns:
    video: [T, H, W, 3] float32 in [0, 1]; the frame range is applied before
      the resize.
    fps: the frame rate of the frames returned, in frames per second: the
      file's rate divided by `abs(step)`, so that a video written at this
      rate plays at the original speed.

  Raises:
    errors.InputError: the path is missing, unreadable, corrupt or of an
      unknown kind, a folder holds no frames, the frame range selects no
      frames, or `max_size` is below 1.
  """
  path = pathlib.Path(path).expanduser()
  start = _check_index(start, 'start', optional=True)
  stop = _check_index(stop, 'stop', optional=True)
  step = _check_index(step, 'step')
  if step == 0:
    raise errors.InputError(
        f"cannot read '{path}': step=0 is not a frame step; use step=1 for"
        ' every frame, 2 for every other frame, ...'
    )
  if max_size is not None:
    max_size = _check_index(max_size, 'max_size')
    if max_size < 1:
      raise errors.InputError(
          f"cannot read '{path}': max_size={max_size} must be at least 1;"
          ' give the largest frame height you want, e.g. 144'
      )
  if not path.exists():
    raise errors.InputError(
        f"cannot read '{path}': file not found; check the path"
    )

  assembler = _Assembler(path, max_size)
  if path.is_dir():
    files = _list_frames(path)
    if not files:
      raise errors.InputError(
          f"cannot read '{path}': the folder holds no frames; put numbered"
          f" images ({' '.join(IMAGE_EXTENSIONS)}) in it: 1.png, 2.png, ..."
      )
    fps, total = FOLDER_FPS, len(files)
    for f in files[start:stop:step]:
      assembler.add(_read_image(f))
  else:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
      fps, total = IMAGE_FPS, 1
      if range(1)[start:stop:step]:
        assembler.add(_read_image(path))
    elif suffix in VIDEO_EXTENSIONS:
      fps, total = _read_video_file(path, assembler, start, stop, step)
    else:
      raise errors.InputError(
          f"cannot read '{path}': unknown extension '{path.suffix}'; give a"
          f" video ({' '.join(VIDEO_EXTENSIONS)}), an image"
          f" ({' '.join(IMAGE_EXTENSIONS)}) or a folder of numbered frames"
      )

  if assembler.num_frames == 0:
    if total == 0:
      raise errors.InputError(
          f"cannot read '{path}': ffmpeg finds no video frames in it; the"
          ' file is truncated or corrupt. Check that it plays in a video'
          ' player or convert it to .mp4'
      )
    frame_range = ':'.join('' if i is None else str(i) for i in (start, stop))
    raise errors.InputError(
        f"cannot read '{path}': the frame range {frame_range}:{step}"
        f' selects none of its {total} frames; choose start and stop within'
        f' 0..{total}'
    )
  return assembler.result(), float(fps) / abs(step)


# ----------------------------------------------------------------------------
# Writing.


def _as_array(video: Any, what: str) -> np.ndarray:
  """`video` as a NumPy `[T, H, W, 3]` array, uint8 or float32."""
  try:
    array = np.asarray(video)
  except (TypeError, ValueError) as e:
    raise errors.InputError(f'{what}: not an array ({e})') from None
  if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or 0 in array.shape:
    raise errors.InputError(
        f'{what}: the video has shape {array.shape}; give [T, H, W, C] with'
        ' T, H, W >= 1 and C = 3 (or 1 for grey, 4 with alpha)'
    )
  if array.dtype != np.uint8:
    if 'float' not in array.dtype.name:
      raise errors.InputError(
          f'{what}: the video has dtype {array.dtype}; give floats in [0, 1]'
          ' or uint8'
      )
    array = array.astype(np.float32, copy=False)
  if array.shape[-1] == 1:
    array = np.repeat(array, 3, axis=-1)
  return array[..., :3]


def _to_uint8(video: np.ndarray, what: str) -> np.ndarray:
  if video.dtype == np.uint8:
    return np.ascontiguousarray(video)
  if not np.isfinite(video).all():
    raise errors.InputError(
        f'{what}: the video contains NaN or infinite values; fix the'
        ' computation that made it'
    )
  return np.rint(np.clip(video, 0.0, 1.0) * 255.0).astype(np.uint8)


def _reason(e: BaseException) -> str:
  if isinstance(e, OSError) and e.strerror:
    return e.strerror.lower() if e.strerror.isascii() else e.strerror
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  return lines[-1] if lines else type(e).__name__


def _make_dir(folder: pathlib.Path, target: pathlib.Path) -> None:
  """Creates `folder` (and its parents) or raises InputError about `target`."""
  if folder.is_dir():
    return
  if folder.exists():
    name = 'it' if folder == target else f"'{folder}'"
    reason = f'{name} is a file, not a folder'
  else:
    try:
      folder.mkdir(parents=True, exist_ok=True)
      return
    except OSError as e:
      reason = _reason(e)
      if isinstance(e, (FileExistsError, NotADirectoryError)):
        reason = 'a parent of the folder is a file, not a folder'
  raise errors.InputError(
      f"cannot write '{target}': {reason}; choose a writable --out folder"
  )


def ensure_writable_dir(path: PathLike) -> pathlib.Path:
  """Creates a folder (and its parents) and checks that files can be written.

  Call it before long work so an unwritable output folder fails at once.

  Args:
    path: the folder.

  Returns:
    The folder as a `pathlib.Path`.

  Raises:
    errors.InputError: the folder cannot be created or written to.
  """
  folder = pathlib.Path(path).expanduser()
  _make_dir(folder, folder)
  probe = folder / f'.vgpnn-write-test-{uuid.uuid4().hex}'
  try:
    with open(probe, 'xb') as f:
      f.write(b'ok')
  except OSError as e:
    raise errors.InputError(
        f"cannot write '{folder}': {_reason(e)}; choose a writable --out"
        ' folder'
    ) from None
  finally:
    with contextlib.suppress(OSError):
      probe.unlink()
  return folder


def _write_png(path: pathlib.Path, frame: np.ndarray) -> None:
  from PIL import Image  # pylint: disable=g-import-not-at-top

  Image.fromarray(frame).save(path, format='PNG')


def _write_ffmpeg(
    path: pathlib.Path, video: np.ndarray, fps: float, codec: str
) -> None:
  """Encodes uint8 `video: [T, H, W, 3]` with ffmpeg (h264 or gif)."""
  mediapy = _mediapy(path)
  kwargs: dict[str, Any] = {}
  if codec == 'h264':
    # yuv420p (the format every player decodes) needs even sizes: repeat the
    # last row / column of odd-sized frames.
    _, height, width, _ = video.shape
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    if height % 2 or width % 2:
      video = np.pad(video, pad, mode='edge')
    kwargs = dict(encoded_format='yuv420p', crf=_MP4_CRF)
  shape = video.shape[1:3]
  with mediapy.VideoWriter(path, shape, codec=codec, fps=fps, **kwargs) as w:
    for frame in video:
      w.add_image(frame)


def write_video(path: PathLike, video: Any, *, fps: float) -> None:
  """Writes a video as .mp4 (H.264), .gif (looping) or .png (one frame).

  The file is encoded under a temporary name in the same folder and then
  renamed, so it is either complete or absent; the folder is created if
  needed. H.264 is stored as yuv420p, which every player decodes; it needs even
  sizes, so an odd height or width is padded by repeating the last row or
  column (the file is then one pixel larger).

  Args:
    path: the output file; its extension picks the format.
    video: [T, H, W, C] floats in [0, 1] (values outside are clipped) or uint8,
      NumPy or JAX; C is 3, or 1 for grey (4: alpha is dropped). T must be 1
      for .png.
    fps: frames per second (> 0); ignored for .png.

  Raises:
    errors.InputError: unknown extension, a bad video shape or dtype, or the
      file cannot be written.
  """
  path = pathlib.Path(path).expanduser()
  what = f"cannot write '{path}'"
  suffix = path.suffix.lower()
  if suffix not in WRITE_EXTENSIONS:
    raise errors.InputError(
        f"{what}: unknown extension '{path.suffix}'; use"
        f" {', '.join(WRITE_EXTENSIONS)} (.png for a single frame)"
    )
  frames = _to_uint8(_as_array(video, what), what)
  try:
    fps = float(fps)
  except (TypeError, ValueError):
    fps = math.nan
  if not (math.isfinite(fps) and fps > 0):
    raise errors.InputError(f'{what}: fps must be a positive number')
  if suffix == '.png' and frames.shape[0] != 1:
    raise errors.InputError(
        f'{what}: a .png holds one frame but the video has'
        f' {frames.shape[0]}; use .mp4 or .gif'
    )
  if path.is_dir():
    raise errors.InputError(
        f'{what}: it is a folder; give a file name such as'
        f" '{path / ('video' + suffix)}'"
    )
  _make_dir(path.parent, path)
  temp = path.with_name(f'.{path.stem}.{uuid.uuid4().hex[:12]}.tmp{suffix}')
  try:
    if suffix == '.png':
      _write_png(temp, frames[0])
    else:
      _write_ffmpeg(temp, frames, fps, 'gif' if suffix == '.gif' else 'h264')
    os.replace(temp, path)
  except BaseException as e:
    with contextlib.suppress(OSError):
      temp.unlink()
    if isinstance(e, errors.InputError):
      raise
    if isinstance(e, (OSError, RuntimeError, ValueError)):
      raise errors.InputError(
          f'{what}: {_reason(e)}; choose a writable --out folder with free'
          ' space'
      ) from e
    raise


# ----------------------------------------------------------------------------
# Side-by-side grids.

_GRID_COLUMNS = 5  # the input and up to 4 outputs per row
_GRID_BACKGROUND = 1.0  # white separators


def _resize_nearest(video: np.ndarray, height: int) -> np.ndarray:
  """Nearest-neighbour resize of `video: [T, H, W, 3]` to `height` rows."""
  _, h, w, _ = video.shape
  width = max(1, math.floor(w * height / h + 0.5))
  if (h, w) == (height, width):
    return video
  rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(int), h - 1)
  cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(int), w - 1)
  return video[:, rows][:, :, cols]


def _join(parts: Sequence[np.ndarray], axis: int, gap: int) -> np.ndarray:
  """Concatenates `parts` along `axis` with `gap` background pixels between."""
  pieces = []
  for i, part in enumerate(parts):
    if i and gap:
      shape = list(part.shape)
      shape[axis] = gap
      pieces.append(np.full(shape, _GRID_BACKGROUND, np.float32))
    pieces.append(part)
  return np.concatenate(pieces, axis=axis)


def make_grid(
    videos: Sequence[Any], *, height: int | None = None, gap: int = 4
) -> np.ndarray:
  """Places videos side by side: the input first, then the outputs.

  Each video is resized (nearest neighbour) to a common height, keeping its
  aspect ratio, and looped in time up to the longest one. Up to 5 videos make
  one row; more wrap into rows of 5, left aligned, separated by white gaps.

  Args:
    videos: N videos `[T_i, H_i, W_i, C]`, floats in [0, 1] or uint8, C = 3 or
      1; the first is usually the input.
    height: the common height; None keeps the height of the first video (its
      frames then appear unchanged in the grid).
    gap: width in pixels of the white separators (>= 0).

  Returns:
    [max_i T_i, H_grid, W_grid, 3] float32 grid.

  Raises:
    errors.InputError: no videos, a bad shape or dtype, height < 1 or gap < 0.
  """
  if len(videos) == 0:
    raise errors.InputError('make_grid: no videos given; pass at least one')
  arrays = []
  for i, video in enumerate(videos):
    array = _as_array(video, f'make_grid: video {i}')
    if array.dtype == np.uint8:
      array = array.astype(np.float32) * np.float32(1 / 255)
    arrays.append(array)
  if height is None:
    height = arrays[0].shape[1]
  height = _check_index(height, 'height')
  gap = _check_index(gap, 'gap')
  if height < 1 or gap < 0:
    raise errors.InputError(
        f'make_grid: height={height} and gap={gap}; give height >= 1 and'
        ' gap >= 0'
    )
  cells = [_resize_nearest(a, height) for a in arrays]
  length = max(c.shape[0] for c in cells)
  cells = [c[np.arange(length) % c.shape[0]] for c in cells]  # loop in time
  rows = [
      _join(cells[i : i + _GRID_COLUMNS], axis=2, gap=gap)
      for i in range(0, len(cells), _GRID_COLUMNS)
  ]
  width = max(r.shape[2] for r in rows)
  rows = [
      np.pad(
          r,
          ((0, 0), (0, 0), (0, width - r.shape[2]), (0, 0)),
          constant_values=_GRID_BACKGROUND,
      )
      for r in rows
  ]
  return _join(rows, axis=1, gap=gap)
