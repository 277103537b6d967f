"""Reading and writing videos: files, frame folders, images, GIFs and grids.

Videos in memory are float32 NumPy arrays `[T, H, W, 3]` with values in
[0, 1]. Files are decoded by the FFmpeg libraries in PyAV's wheel, lazily and
seeking to the first frame read (video_files.py), and encoded by ffmpeg through
mediapy; when no `ffmpeg` is on the PATH, the binary shipped by the
`imageio-ffmpeg` wheel is used (pinned to 0.6.0: the ffmpeg of 0.8 drops
`-vsync`, which mediapy's reader needed). Still images go through PIL.

Every mistake in user input (a missing or corrupt file, an empty folder, a
frame range that selects nothing, an unwritable output folder) raises
`errors.InputError` with one message that names the file, the problem and the
fix. Writes are atomic: a file is encoded under a temporary name in the target
folder and renamed into place, so an output is either complete or absent (a
folder of frames too, `write_frames`).

This module sits on the top layer: only the command line and the experiments
import it.
"""

import contextlib
import math
import operator
import os
import pathlib
import re
import shutil
import uuid
import warnings
from typing import Any, NamedTuple, Sequence

import numpy as np

from vgpnn_jax import errors
from vgpnn_jax import sizes

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.mj2', '.gif')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')
WRITE_EXTENSIONS = ('.mp4', '.gif', '.png')

FOLDER_FPS = 10.0  # frame rate given to a folder of frames
# The PNG text chunk in which `write_frames` keeps the frame rate, so that a
# folder it wrote is read back at its own rate rather than at FOLDER_FPS.
_FPS_TEXT_KEY = 'fps'
IMAGE_FPS = 1.0  # frame rate given to a single image

# Frames are converted and resized in chunks of about this many bytes of
# float32 input, so a long video read with `max_size` never sits in memory at
# full resolution; small chunks also keep the resize in cache (measured
# fastest at 4-8 MiB on 2 cores).
_CHUNK_BYTES = 8 * 2**20
# H.264 quality: constant rate factor 18 is visually lossless for most content.
_MP4_CRF = 18
MP4_CRF_RANGE = (0, 51)  # x264's constant rate factors: 0 lossless, 51 worst
# The frames of a folder that `write_frames` writes: 000000.png, 000001.png...
_FRAME_NAME = '{:06d}.png'
_FRAME_PATTERN = re.compile(r'\d{6}\.png')

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


def list_inputs(folder: PathLike) -> list[pathlib.Path]:
  """The videos and images of a folder, not of its subfolders.

  In natural name order (clip2 before clip10); hidden files (.name) and
  files of other kinds are left out.
  """
  folder = pathlib.Path(folder).expanduser()
  files = [
      f
      for f in folder.iterdir()
      if f.suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS
      and not f.name.startswith('.')
      and f.is_file()
  ]
  return sorted(files, key=lambda f: _natural_key(f.name))


def holds_videos(path: PathLike) -> bool:
  """Whether `path` is a folder with a video file in it: a folder of videos
  (each its own input), not a folder of frames (one video)."""
  path = pathlib.Path(path).expanduser()
  return path.is_dir() and any(
      f.suffix.lower() in VIDEO_EXTENSIONS for f in list_inputs(path))


def _number_ranges(numbers: Sequence[int], limit: int = 8) -> str:
  """Sorted ints as '3, 7-9, 12', the first `limit` runs."""
  runs = []
  for n in numbers:
    if runs and n == runs[-1][1] + 1:
      runs[-1][1] = n
    else:
      runs.append([n, n])
  text = ', '.join(f'{a}' if a == b else f'{a}-{b}' for a, b in runs[:limit])
  return text + (', ...' if len(runs) > limit else '')


def _warn_gaps(folder: pathlib.Path, files: Sequence[pathlib.Path]) -> None:
  """Warns when the numbers in `files`' names (in order) skip some.

  Only names that differ in their last number alone (frame_1.png,
  frame_2.png, ...) are checked: other folders have no numbering to follow.
  """
  parts = [re.fullmatch(r'(.*?)(\d+)(\D*)', f.stem) for f in files]
  if len(files) < 2 or not all(parts):
    return
  if len({(m[1], m[3]) for m in parts}) != 1:
    return
  numbers = [int(m[2]) for m in parts]
  if len(set(numbers)) != len(numbers):
    return
  missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
  if missing:
    warnings.warn(
        f"the folder '{folder}' has no frame {_number_ranges(missing)} "
        f'between {numbers[0]} and {numbers[-1]} ({len(missing)} missing): '
        'the video jumps there; add the missing frames or renumber them',
        errors.InputWarning, stacklevel=3)


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
      self._out_hw = sizes.scaled_to_max_size(hw, self._max_size)
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


def _read_video_file(
    path: pathlib.Path,
    assembler: _Assembler,
    start: int | None,
    stop: int | None,
    step: int,
) -> tuple[float, int]:
  """Decodes the selected frames of a video file into `assembler`.

  Frames are decoded one at a time from near `start` (video_files.py), so the
  memory holds the selected frames only.

  Returns:
    fps: the frame rate of the file.
    total: the number of frames in the file, counted only when no frame was
      selected (for the message); -1 otherwise.
  """
  from vgpnn_jax import video_files  # pylint: disable=g-import-not-at-top

  with video_files.VideoFile(path) as video:
    for frame in video.frames(start, stop, step):
      assembler.add(frame)
    total = -1
    if assembler.num_frames == 0:
      total = video.decoded if video.reached_end else video.count()
  return video.fps, total


def _check_read_args(path, max_size, start, stop, step):
  """`read_video`'s arguments checked: (path, max_size, start, stop, step)."""
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
  return path, max_size, start, stop, step


def _no_frames_error(path: pathlib.Path, start, stop, step,
                     total: int) -> errors.InputError:
  """The error of a frame range that selects none of `total` frames."""
  frame_range = ':'.join('' if i is None else str(i) for i in (start, stop))
  return errors.InputError(
      f"cannot read '{path}': the frame range {frame_range}:{step}"
      f' selects none of its {total} frames; choose start and stop within'
      f' 0..{total}'
  )


def read_size(
    path: PathLike,
    *,
    max_size: int | None = None,
    start: int | None = None,
    stop: int | None = None,
    step: int = 1,
) -> tuple[tuple[int, int, int], float]:
  """The size and frame rate `read_video` would return, without reading it.

  From `video_info` (one frame decoded; a video file's frames counted from
  its header or its packets), so planning a run on a long clip costs a
  fraction of a second instead of decoding it.

  Args:
    path, max_size, start, stop, step: as `read_video`.

  Returns:
    ((T, H, W) of `read_video(path, ...)[0]`, its fps). A damaged file may
    decode to fewer frames than its header counts.

  Raises:
    errors.InputError: as `read_video`.
  """
  path, max_size, start, stop, step = _check_read_args(path, max_size, start,
                                                      stop, step)
  info = video_info(path)
  frames = len(range(info.num_frames)[start:stop:step])
  if frames == 0:
    raise _no_frames_error(path, start, stop, step, info.num_frames)
  height, width = sizes.scaled_to_max_size((info.height, info.width), max_size)
  return (frames, height, width), info.fps / abs(step)


def read_video(
    path: PathLike,
    *,
    max_size: int | None = None,
    start: int | None = None,
    stop: int | None = None,
    step: int = 1,
) -> tuple[np.ndarray, float]:
  """Reads a video file, a folder of numbered frames or a single image.

  Video files (.mp4 .avi .mkv .mov .webm .mj2 .gif) are decoded by the FFmpeg
  libraries of PyAV, frame by frame from near `start` to `stop`. A
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
  path, max_size, start, stop, step = _check_read_args(path, max_size, start,
                                                      stop, step)
  assembler = _Assembler(path, max_size)
  if path.is_dir():
    files = _list_frames(path)
    if not files:
      raise errors.InputError(
          f"cannot read '{path}': the folder holds no frames; put numbered"
          f" images ({' '.join(IMAGE_EXTENSIONS)}) in it: 1.png, 2.png, ..."
      )
    fps, total = _folder_fps(files[0]), len(files)
    chosen = range(len(files))[start:stop:step]
    if chosen:  # gaps among the frames read, and between them
      _warn_gaps(path, files[min(chosen):max(chosen) + 1])
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
    raise _no_frames_error(path, start, stop, step, total)
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
  # Frame by frame: the float temporaries of a whole large output (three
  # copies of it) could exhaust the memory the generation just fitted in.
  frames = np.empty(video.shape, np.uint8)
  for i, frame in enumerate(video):
    frames[i] = np.rint(np.clip(frame, 0.0, 1.0) * 255.0)
  return frames


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
  _probe_write(folder)
  return folder


def check_writable_dir(path: PathLike) -> pathlib.Path:
  """Checks that a folder can be made and written to, leaving no trace.

  As `ensure_writable_dir`, but a folder that does not exist yet (and any
  parents missing) is created only to try and then removed: `write_video`
  makes it with the first file, so work refused after this check leaves no
  empty folder behind.

  Args:
    path: the folder.

  Returns:
    The folder as a `pathlib.Path`.

  Raises:
    errors.InputError: the folder cannot be created or written to.
  """
  folder = pathlib.Path(path).expanduser()
  missing = []  # deepest first
  ancestor = folder
  while not ancestor.exists() and not ancestor.is_symlink() and (
      ancestor != ancestor.parent):
    missing.append(ancestor)
    ancestor = ancestor.parent
  try:
    ensure_writable_dir(folder)
  finally:
    for created in missing:
      with contextlib.suppress(OSError):
        created.rmdir()
  return folder


def _probe_write(folder: pathlib.Path) -> None:
  """Writes and removes a file in `folder`, or raises InputError."""
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


def _temporary(path: pathlib.Path) -> pathlib.Path:
  """A fresh hidden name beside `path` to write it under before the rename."""
  return path.with_name(
      f'.{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}')


def remove_temporaries(path: PathLike) -> list[pathlib.Path]:
  """Removes the temporary files that interrupted writes of `path` left.

  A write killed outright (SIGKILL, a power cut) cannot remove its own
  temporary file; a rerun calls this before writing `path` again. Only names
  made for `path` itself are removed, so call it only where no other process
  is writing `path` at the same time.

  Returns:
    The files removed.
  """
  path = pathlib.Path(path).expanduser()
  pattern = re.compile(rf'\.{re.escape(path.stem)}\.[0-9a-f]{{12}}\.tmp'
                       rf'{re.escape(path.suffix)}')
  if not path.parent.is_dir():
    return []
  removed = []
  for f in sorted(path.parent.iterdir()):
    if not pattern.fullmatch(f.name):
      continue
    with contextlib.suppress(OSError):
      if f.is_file():
        f.unlink()
        removed.append(f)
      elif f.is_dir() and not path.suffix:  # `write_frames`' folders
        shutil.rmtree(f)
        removed.append(f)
  return removed


def write_text(path: PathLike, text: str) -> None:
  """Writes a UTF-8 text file atomically, as `write_video` writes a video.

  A reader (or a rerun after a crash) finds the old file or the new one,
  never half of one; the folder is created if needed.

  Raises:
    errors.InputError: the file cannot be written.
  """
  path = pathlib.Path(path).expanduser()
  _make_dir(path.parent, path)
  temp = _temporary(path)
  try:
    temp.write_text(text, encoding='utf-8')
    os.replace(temp, path)
  except BaseException as e:
    with contextlib.suppress(OSError):
      temp.unlink()
    if isinstance(e, OSError):
      raise errors.InputError(
          f"cannot write '{path}': {_reason(e)}; choose a writable --out"
          ' folder with free space'
      ) from e
    raise


def _write_png(path: pathlib.Path, frame: np.ndarray,
               fps: float | None = None) -> None:
  """Writes `frame: [H, W, 3]` uint8 as a PNG, with `fps` in a text chunk."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from PIL import PngImagePlugin  # pylint: disable=g-import-not-at-top

  info = PngImagePlugin.PngInfo()
  if fps is not None:
    info.add_text(_FPS_TEXT_KEY, repr(float(fps)))
  Image.fromarray(frame).save(path, format='PNG', pnginfo=info)


def _folder_fps(first_frame: pathlib.Path) -> float:
  """The frame rate `write_frames` kept in a folder's first frame, or
  FOLDER_FPS for frames written by anything else."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  try:
    with Image.open(first_frame) as image:
      text = getattr(image, 'text', {}).get(_FPS_TEXT_KEY)
    fps = float(text)
  except (OSError, SyntaxError, ValueError, TypeError):
    return FOLDER_FPS  # no such chunk, or not a number: the default rate
  return fps if math.isfinite(fps) and fps > 0 else FOLDER_FPS


def _write_ffmpeg(
    path: pathlib.Path, video: np.ndarray, fps: float, codec: str,
    crf: int = _MP4_CRF
) -> None:
  """Encodes uint8 `video: [T, H, W, 3]` with ffmpeg (h264 at `crf`, or
  gif)."""
  mediapy = _mediapy(path)
  kwargs: dict[str, Any] = {}
  if codec == 'h264':
    # yuv420p (the format every player decodes) needs even sizes: repeat the
    # last row / column of odd-sized frames.
    _, height, width, _ = video.shape
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    if height % 2 or width % 2:
      video = np.pad(video, pad, mode='edge')
    kwargs = dict(encoded_format='yuv420p', crf=crf)
  shape = video.shape[1:3]
  with mediapy.VideoWriter(path, shape, codec=codec, fps=fps, **kwargs) as w:
    for frame in video:
      w.add_image(frame)


def check_crf(crf: Any, what: str = 'crf') -> int:
  """`crf` as an int in `MP4_CRF_RANGE`; InputError naming `what` if not."""
  low, high = MP4_CRF_RANGE
  if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not (
      low <= crf <= high):
    raise errors.InputError(
        f'{what} must be a whole number from {low} (lossless, large) to '
        f'{high} (smallest), got {crf!r}; {_MP4_CRF} is the default')
  return int(crf)


def _check_fps(fps: Any, what: str) -> float:
  """`fps` as a float; InputError (`what`: fps must be ...) unless positive."""
  try:
    fps = float(fps)
  except (TypeError, ValueError):
    fps = math.nan
  if not (math.isfinite(fps) and fps > 0):
    raise errors.InputError(f'{what}: fps must be a positive number')
  return fps


def write_video(path: PathLike, video: Any, *, fps: float,
                crf: int | None = None) -> None:
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
    crf: .mp4 only: H.264's constant rate factor, 0 (lossless) to 51
      (smallest); None: 18, visually lossless for most content.

  Raises:
    errors.InputError: unknown extension, a bad video shape or dtype, a `crf`
      out of range or for another format, or the file cannot be written.
  """
  path = pathlib.Path(path).expanduser()
  what = f"cannot write '{path}'"
  suffix = path.suffix.lower()
  if suffix not in WRITE_EXTENSIONS:
    raise errors.InputError(
        f"{what}: unknown extension '{path.suffix}'; use"
        f" {', '.join(WRITE_EXTENSIONS)} (.png for a single frame)"
    )
  if crf is not None:
    if suffix != '.mp4':
      raise errors.InputError(f'{what}: crf is for .mp4 (H.264) only')
    crf = check_crf(crf)
  frames = _to_uint8(_as_array(video, what), what)
  fps = _check_fps(fps, what)
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
  temp = _temporary(path)
  try:
    if suffix == '.png':
      _write_png(temp, frames[0])
    else:
      _write_ffmpeg(temp, frames, fps, 'gif' if suffix == '.gif' else 'h264',
                    _MP4_CRF if crf is None else crf)
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


def holds_only_frames(folder: PathLike) -> bool:
  """Whether `folder` holds nothing but `write_frames`' frames (000000.png,
  ...): a folder that may be replaced or removed as an output."""
  folder = pathlib.Path(folder)
  return folder.is_dir() and all(
      _FRAME_PATTERN.fullmatch(f.name) and f.is_file()
      for f in folder.iterdir())


def write_frames(folder: PathLike, video: Any, *,
                 fps: float | None = None) -> None:
  """Writes a video as a folder of PNG frames, 000000.png, 000001.png, ...

  Lossless at 8 bits: `read_video(folder)` gives the frames back to 0.5/255,
  at `fps` (kept in each frame's PNG text chunk 'fps'; `FOLDER_FPS` when it is
  None, as for any folder of frames without it). The frames are written into a hidden folder beside
  `folder` that is then renamed, so the folder is complete or absent. An
  existing `folder` holding only frames (`holds_only_frames`) is replaced:
  moved aside just before the rename, removed after.

  Args:
    folder: the folder to write; its parent is created if needed.
    video: [T, H, W, C] as for `write_video`.
    fps: the frame rate to keep with the frames, or None.

  Raises:
    errors.InputError: a bad video shape or dtype, `fps` is not a positive
      number, `folder` is a file or holds
      other files, or it cannot be written.
  """
  folder = pathlib.Path(folder).expanduser()
  what = f"cannot write '{folder}'"
  frames = _to_uint8(_as_array(video, what), what)
  if fps is not None:
    fps = _check_fps(fps, what)
  if folder.exists() and not holds_only_frames(folder):
    kind = 'folder holding other files' if folder.is_dir() else 'file'
    raise errors.InputError(f'{what}: it is a {kind}; choose another --out '
                            f'folder')
  _make_dir(folder.parent, folder)
  temp, old = _temporary(folder), _temporary(folder)
  try:
    temp.mkdir()
    for index, frame in enumerate(frames):
      _write_png(temp / _FRAME_NAME.format(index), frame, fps)
    if folder.exists():  # a rename cannot replace a folder: move it aside
      os.replace(folder, old)
    os.replace(temp, folder)
  except BaseException as e:
    shutil.rmtree(temp, ignore_errors=True)
    if old.exists() and not folder.exists():  # put the old folder back
      with contextlib.suppress(OSError):
        os.replace(old, folder)
    if isinstance(e, OSError):
      raise errors.InputError(
          f'{what}: {_reason(e)}; choose a writable --out folder with free'
          ' space'
      ) from e
    raise
  finally:
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------
# Side-by-side grids.

_GRID_COLUMNS = 5  # the input and up to 4 outputs per row
_GRID_BACKGROUND = 1.0  # white separators


def _resize_nearest(video: np.ndarray, height: int) -> np.ndarray:
  """Nearest-neighbour resize of `video: [T, H, W, 3]` to `height` rows."""
  _, h, w, _ = video.shape
  width = sizes.width_at_height((h, w), height)
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


def _grid_inputs(
    videos: Sequence[Any], height: int | None, gap: int, what: str,
    height_cap: int | None = None,
) -> tuple[list[np.ndarray], int, int]:
  """The videos of a grid or sheet as float32 `[T, H, W, 3]` arrays, and its
  checked cell height (None: the first video's, at most `height_cap`) and
  gap; `what` names the caller in the errors."""
  if len(videos) == 0:
    raise errors.InputError(f'{what}: no videos given; pass at least one')
  arrays = []
  for i, video in enumerate(videos):
    array = _as_array(video, f'{what}: video {i}')
    if array.dtype == np.uint8:
      array = array.astype(np.float32) * np.float32(1 / 255)
    arrays.append(array)
  if height is None:
    height = arrays[0].shape[1]
    if height_cap is not None:
      height = min(height, height_cap)
  height = _check_index(height, 'height')
  gap = _check_index(gap, 'gap')
  if height < 1 or gap < 0:
    raise errors.InputError(
        f'{what}: height={height} and gap={gap}; give height >= 1 and'
        ' gap >= 0'
    )
  return arrays, height, gap


def _stack_rows(rows: Sequence[np.ndarray], gap: int) -> np.ndarray:
  """Rows `[T, H_i, W_i, 3]` one above the other, left aligned (padded to the
  widest with the background), `gap` background rows between."""
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


def tint_region(video: Any, mask: Any) -> np.ndarray:
  """The video with a region tinted red, to show a mask beside the outputs.

  Args:
    video: [T, H, W, 3] floats in [0, 1].
    mask: [T, H, W] bool, the region.

  Returns:
    [T, H, W, 3] float32: 60% red inside the region, the video elsewhere.
  """
  red = np.array([1.0, 0.1, 0.1], np.float32)
  tint = 0.6 * np.asarray(mask, np.float32)[..., None]
  return (np.asarray(video, np.float32) * (1 - tint) + red * tint).astype(
      np.float32)


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
  arrays, height, gap = _grid_inputs(videos, height, gap, 'make_grid')
  cells = [_resize_nearest(a, height) for a in arrays]
  length = max(c.shape[0] for c in cells)
  cells = [c[np.arange(length) % c.shape[0]] for c in cells]  # loop in time
  return _stack_rows([
      _join(cells[i : i + _GRID_COLUMNS], axis=2, gap=gap)
      for i in range(0, len(cells), _GRID_COLUMNS)
  ], gap)


_CONTACT_HEIGHT = 144  # the largest cell height of a contact sheet


def contact_sheet(
    videos: Sequence[Any], *, num_frames: int = 4, height: int | None = None,
    gap: int = 4
) -> np.ndarray:
  """A still to look at in one glance: a row per video, a few of its frames.

  Row i holds `num_frames` frames of video i, evenly spaced from its first to
  its last (every frame of a shorter video), each resized (nearest neighbour)
  to a common height keeping its aspect ratio; rows are left aligned and
  separated, as are the frames, by white gaps.

  Args:
    videos: N videos `[T_i, H_i, W_i, C]`, floats in [0, 1] or uint8, C = 3 or
      1; the first is usually the input.
    num_frames: frames per row (>= 1).
    height: the cell height; None: the first video's height, at most 144.
    gap: width in pixels of the white separators (>= 0).

  Returns:
    [1, H_sheet, W_sheet, 3] float32 image (a video of one frame, for
    `write_video(... .png)`).

  Raises:
    errors.InputError: no videos, a bad shape or dtype, num_frames < 1,
      height < 1 or gap < 0.
  """
  num_frames = _check_index(num_frames, 'num_frames')
  if num_frames < 1:
    raise errors.InputError(
        f'contact_sheet: num_frames={num_frames}; give at least 1'
    )
  arrays, height, gap = _grid_inputs(videos, height, gap, 'contact_sheet',
                                     height_cap=_CONTACT_HEIGHT)
  rows = []
  for array in arrays:
    chosen = np.unique(np.round(np.linspace(0, len(array) - 1, num_frames)))
    cells = [_resize_nearest(array[int(t) : int(t) + 1], height)
             for t in chosen]
    rows.append(_join(cells, axis=2, gap=gap))
  return _stack_rows(rows, gap)


# ----------------------------------------------------------------------------
# Video metadata, masks and boxes.
#
# A mask marks the region of a video to fill: bool `[T, H, W]`, True = fill.
# It is given as a mask video, a folder of mask frames or one image (white =
# fill), or as a box in the input file's frame and pixel coordinates.


class VideoInfo(NamedTuple):
  """The size and frame rate of a video, as `read_video` would read it."""

  num_frames: int
  height: int
  width: int
  fps: float


_BOX_FORMAT = (
    'T0:T1,Y0:Y1,X0:X1 (frames, rows, columns of the input file; half-open'
    ' ranges as in Python slices, an empty bound means the start or the end),'
    ' e.g. --box 0:30,100:180,40:90'
)
# Mask frames whose aspect ratio differs from the video's by at most this
# fraction are resized to the video's size.
_MASK_ASPECT_TOLERANCE = 0.01
_MASK_THRESHOLD = 0.5  # grey value above which a mask pixel is True


def _read_error(path: pathlib.Path) -> errors.InputError:
  """The InputError `read_video` raises for `path`, known to be unreadable.

  Used for paths that fail before any frame is decoded (missing, of an unknown
  kind, an empty folder, a file ffmpeg cannot open or that holds no frames), so
  that the messages are those of `read_video`.
  """
  try:
    read_video(path, stop=1)
  except errors.InputError as e:
    return e
  return errors.InputError(  # Not expected: read_video read a frame.
      f"cannot read '{path}': its size cannot be determined; convert it to"
      ' .mp4'
  )


def video_info(path: PathLike) -> VideoInfo:
  """The number of frames, frame size and frame rate of a video.

  Takes what `read_video` takes: a video file, a folder of numbered frames (10
  fps) or a single image (1 frame, 1 fps), without decoding every frame where
  avoidable: a folder's frames are counted and only the first one is decoded
  (the others are assumed to be of the same size, as `read_video` requires);
  a video file's first frame is decoded and its frames are counted from the
  header (.mp4 .mov .mj2) or by reading its packets without decoding them.
  Only when its packets have no timestamps are all the frames decoded to
  count them.

  Args:
    path: the file or folder.

  Returns:
    The `VideoInfo` of the whole video (no frame range, no resize): the
    `[T, H, W]` of `read_video(path)[0]` and the file's frame rate.

  Raises:
    errors.InputError: the path is missing, unreadable, corrupt or of an
      unknown kind, or a folder holds no frames (the messages of
      `read_video`).
  """
  path = pathlib.Path(path).expanduser()
  suffix = path.suffix.lower()
  if path.is_dir():
    files = _list_frames(path)
    if not files:
      raise _read_error(path)
    height, width = _read_image(files[0]).shape[:2]
    return VideoInfo(len(files), height, width, _folder_fps(files[0]))
  if path.exists() and suffix in IMAGE_EXTENSIONS:
    height, width = _read_image(path).shape[:2]
    return VideoInfo(1, height, width, IMAGE_FPS)
  if not path.exists() or suffix not in VIDEO_EXTENSIONS:
    raise _read_error(path)
  from vgpnn_jax import video_files  # pylint: disable=g-import-not-at-top

  with video_files.VideoFile(path) as video:
    first = next(video.frames(0, 1, 1), None)  # upright, as read_video turns it
    total = video.count() if first is not None else 0
  if first is None or total == 0:
    raise _read_error(path)
  height, width = first.shape[:2]
  return VideoInfo(int(total), int(height), int(width), float(video.fps))


def _overlap_ranges(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
  """The source cells each of `m` target cells overlaps, over `n` cells.

  Target cell i spans [i n / m, (i + 1) n / m) in source cells; it overlaps
  (by a positive length) source cells lo[i] .. hi[i] - 1.

  Returns:
    lo, hi: [m] int64, 0 <= lo < hi <= n.
  """
  i = np.arange(m, dtype=np.int64)
  lo = (i * n) // m
  hi = -((-(i + 1) * n) // m)  # ceil((i + 1) n / m)
  return lo, hi


def _resize_any(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
  """Resizes `mask: [T, h, w]` bool to `[T, *hw]`, never shrinking a region.

  A target pixel is True if any source pixel whose area it overlaps (by a
  positive area, the pixels seen as squares covering the same frame) is
  True: a "max pool" over the overlaps, for any size ratio, up or down.
  """
  for axis, m in ((1, hw[0]), (2, hw[1])):
    n = mask.shape[axis]
    if n == m:
      continue
    lo, hi = _overlap_ranges(n, m)
    counts = np.cumsum(mask, axis=axis, dtype=np.int64)
    pad = [(0, 0)] * mask.ndim
    pad[axis] = (1, 0)
    counts = np.pad(counts, pad)  # counts[..., k, ...] = sum of cells < k
    mask = np.take(counts, hi, axis=axis) > np.take(counts, lo, axis=axis)
  return mask


def _mask_size_matches(mask_hw: tuple[int, int], hw: tuple[int, int]) -> bool:
  """Whether a mask of `mask_hw` may be resized to `hw`.

  True when the aspect ratios agree within `_MASK_ASPECT_TOLERANCE`, or when
  `hw` is the size `read_video(max_size=hw[0])` gives a video of `mask_hw`
  (for tiny frames the rounding of the width exceeds 1%).
  """
  (h, w), (height, width) = mask_hw, hw
  if abs(h * width - w * height) <= _MASK_ASPECT_TOLERANCE * w * height:
    return True
  return width == sizes.width_at_height((h, w), height)


def _check_size(size: Any) -> tuple[int, int, int]:
  try:
    t, h, w = size
  except (TypeError, ValueError):
    raise ValueError(f'size={size!r}: give (T, H, W)') from None
  t, h, w = (_check_index(s, 'size') for s in (t, h, w))
  if min(t, h, w) < 1:
    raise ValueError(f'size={size!r}: T, H and W must be at least 1')
  return t, h, w


def read_mask(
    path: PathLike,
    *,
    size: tuple[int, int, int],
    start: int | None = None,
    stop: int | None = None,
    step: int = 1,
) -> np.ndarray:
  """Reads the mask of the region to fill in a video.

  The mask is a video file, a folder of numbered frames or one image, read as
  `read_video` reads them. A pixel is True (to fill) where its grey value, the
  mean of its channels in [0, 1], is above 0.5: white (or any bright colour)
  marks the region to fill, black the rest; the threshold survives lossy
  codecs such as H.264.

  The frame range is applied to a mask video or folder exactly as to the input
  (`read_video(path, start=start, stop=stop, step=step)`), so a mask drawn
  frame by frame over the whole input file stays aligned with it. A mask of
  one frame (an image, or a video or folder of one frame) ignores the range
  and is used for every frame.

  Mask frames of another size than the video's are resized to it when the
  aspect ratios agree within 1% (the case of an input read with `max_size`),
  never shrinking the region: a pixel of the result is True if any mask pixel
  whose area it overlaps is True.

  An empty or full mask is returned as it is; the caller checks that.

  Args:
    path: the mask file or folder.
    size: (T, H, W) of the video the mask belongs to, as it was read (after
      the frame range and any `max_size` resize).
    start: the frame range the video was read with, as in `read_video`.
    stop: as in `read_video`.
    step: as in `read_video`.

  Returns:
    [T, H, W] bool, True = the region to fill.

  Raises:
    errors.InputError: the mask cannot be read (the messages of `read_video`,
      including a frame range that selects none of its frames), its frames
      have another aspect ratio than the video's, or it has another number of
      frames than T (and more than one).
    ValueError: `size` is not three positive integers.
  """
  path = pathlib.Path(path).expanduser()
  num_frames, height, width = _check_size(size)
  is_image = path.suffix.lower() in IMAGE_EXTENSIONS and not path.is_dir()
  if is_image or video_info(path).num_frames == 1:
    video, _ = read_video(path)
  else:
    video, _ = read_video(path, start=start, stop=stop, step=step)
  mask = np.empty(video.shape[:3], bool)
  for i, frame in enumerate(video):
    mask[i] = frame.mean(axis=-1) > _MASK_THRESHOLD
  del video
  if mask.shape[0] != num_frames:
    if mask.shape[0] != 1:
      frame_range = ':'.join('' if i is None else str(i) for i in (start, stop))
      raise errors.InputError(
          f"cannot use the mask '{path}': it has {mask.shape[0]} frames in"
          f' the frame range {frame_range}:{step} but the video has'
          f' {num_frames}; give a mask with one frame for each frame of the'
          ' input file (the same range is applied to both), or one image'
          ' for every frame'
      )
    mask = np.broadcast_to(mask, (num_frames, *mask.shape[1:]))
  mask_hw = mask.shape[1:]
  if mask_hw != (height, width):
    if not _mask_size_matches(mask_hw, (height, width)):
      raise errors.InputError(
          f"cannot use the mask '{path}': the mask is"
          f' {mask_hw[1]}x{mask_hw[0]} pixels (width x height) but the video'
          f' is {width}x{height}; draw the mask at the video\'s size'
      )
    mask = _resize_any(mask, (height, width))
  return np.ascontiguousarray(mask)


_BOX_PART = re.compile(r'\s*(\d*)\s*:\s*(\d*)\s*')

Box = tuple[
    tuple[int | None, int | None],
    tuple[int | None, int | None],
    tuple[int | None, int | None],
]


def parse_box(text: str) -> Box:
  """Parses a box `T0:T1,Y0:Y1,X0:X1` (as given to `--box`).

  The three ranges are frames, rows and columns of the input file, half-open
  as Python slices (`0:30` is frames 0 to 29). An empty bound means the start
  or the end of that axis: `:10`, `5:` and `:` are valid. Bounds are
  non-negative integers. Only the syntax is checked here; `box_mask` checks
  the ranges against the video.

  Args:
    text: the box.

  Returns:
    ((t0, t1), (y0, y1), (x0, x1)): ints, None for an empty bound.

  Raises:
    errors.InputError: the text is not three comma-separated ranges of
      non-negative integers.
  """
  parts = str(text).split(',')
  matches = [_BOX_PART.fullmatch(p) for p in parts]
  if len(parts) != 3 or not all(matches):
    raise errors.InputError(
        f"cannot read the box '{text}': expected {_BOX_FORMAT}"
    )
  ranges = []
  for match in matches:
    assert match is not None
    lo, hi = (int(g) if g else None for g in match.groups())
    ranges.append((lo, hi))
  return tuple(ranges)  # type: ignore[return-value]


def _box_text(box: Any) -> str:
  """`box` written back as T0:T1,Y0:Y1,X0:X1."""
  try:
    return ','.join(
        ':'.join('' if b is None else str(b) for b in pair) for pair in box
    )
  except TypeError:
    return repr(box)


def box_mask(
    box: Box,
    *,
    size: tuple[int, int, int],
    frame_indices: Sequence[int] | None = None,
    source_hw: tuple[int, int] | None = None,
) -> np.ndarray:
  """The region of a box as a mask of the video it was drawn on.

  The box is in the input file's own frame and pixel coordinates, whatever
  frame range and `max_size` the video was read with: frame k of the video as
  read is in the box if `frame_indices[k]` is in T0:T1; when the frames were
  resized from `source_hw`, the box's rows and columns are scaled to the
  video's, rounding outward, so the box never shrinks (a pixel is in the box
  if its area overlaps the scaled box). A box partly outside the video is
  clipped to it; a None bound means the start or end of that axis.

  Args:
    box: ((t0, t1), (y0, y1), (x0, x1)), half-open ranges of non-negative ints
      or None, as `parse_box` returns.
    size: (T, H, W) of the video as read.
    frame_indices: [T] ints: for each frame as read, its index in the file
      (e.g. `range(total)[start:stop:step]`); None for `range(T)`.
    source_hw: (H0, W0), the file's frame size; None for (H, W).

  Returns:
    [T, H, W] bool, True inside the box.

  Raises:
    errors.InputError: a range of the box is empty or reversed, a bound is
      negative or not an integer, or the box lies wholly outside the video
      (covers none of the frames read, or none of its rows or columns).
    ValueError: `size`, `frame_indices` or `source_hw` do not fit together.
  """
  num_frames, height, width = _check_size(size)
  if frame_indices is None:
    frame_indices = range(num_frames)
  indices = np.asarray([operator.index(i) for i in frame_indices], np.int64)
  if indices.shape != (num_frames,):
    raise ValueError(
        f'frame_indices has {indices.size} entries but size={size!r} has'
        f' T={num_frames}'
    )
  if source_hw is None:
    source_hw = (height, width)
  source_h, source_w = (_check_index(s, 'source_hw') for s in source_hw)
  if min(source_h, source_w) < 1:
    raise ValueError(f'source_hw={source_hw!r} must be positive')

  text = _box_text(box)
  try:
    pairs = [tuple(pair) for pair in box]
  except TypeError:
    pairs = []
  if len(pairs) != 3 or any(len(p) != 2 for p in pairs):
    raise errors.InputError(
        f'cannot use the box {box!r}: expected {_BOX_FORMAT}'
    )
  bounds = []
  for name, (lo, hi) in zip(('frames', 'rows', 'columns'), pairs):
    lo = _check_index(lo, f'the box {text}: {name} start', optional=True)
    hi = _check_index(hi, f'the box {text}: {name} stop', optional=True)
    if any(b is not None and b < 0 for b in (lo, hi)):
      raise errors.InputError(
          f"cannot use the box '{text}': the {name} range {lo}:{hi} has a"
          f' negative bound; give non-negative file coordinates, {_BOX_FORMAT}'
      )
    if lo is not None and hi is not None and hi <= lo:
      raise errors.InputError(
          f"cannot use the box '{text}': the {name} range {lo}:{hi} is"
          f' {"empty" if hi == lo else "reversed"}; give start < stop,'
          f' {_BOX_FORMAT}'
      )
    bounds.append((lo, hi))

  (t0, t1), rows, cols = bounds
  in_time = np.ones(num_frames, bool)
  if t0 is not None:
    in_time &= indices >= t0
  if t1 is not None:
    in_time &= indices < t1

  def scaled(pair, n_source, n):
    """[lo, hi) of the pixels (of n) the range (over n_source) overlaps."""
    lo = min(max(pair[0] or 0, 0), n_source)
    hi = n_source if pair[1] is None else min(pair[1], n_source)
    if hi <= lo:
      return 0, 0
    return (lo * n) // n_source, -((-hi * n) // n_source)

  y0, y1 = scaled(rows, source_h, height)
  x0, x1 = scaled(cols, source_w, width)
  if not in_time.any() or y1 <= y0 or x1 <= x0:
    extent = f'frames {indices.min()}..{indices.max()}'
    steps = np.unique(np.diff(indices))
    if len(steps) == 1 and abs(steps[0]) != 1:
      extent += f' (read in steps of {abs(steps[0])})'
    elif len(steps) > 1:
      extent += f' ({num_frames} of them read)'
    raise errors.InputError(
        f"cannot use the box '{text}': it lies outside the video, which"
        f' covers {extent}, rows 0..{source_h - 1}, columns'
        f' 0..{source_w - 1} (in the input file\'s coordinates); give a box'
        ' that overlaps them'
    )
  mask = np.zeros((num_frames, height, width), bool)
  mask[in_time, y0:y1, x0:x1] = True
  return mask
