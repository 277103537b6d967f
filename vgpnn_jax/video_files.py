"""Decoding video files with PyAV: lazily, frame by frame, seeking to a start.

PyAV's wheel carries its own FFmpeg libraries, so no ffmpeg binary is needed
to read (writing still goes through mediapy and an ffmpeg binary, io.py). The
reader is built to match what `mediapy.VideoReader` (the ffmpeg command line,
`-pix_fmt rgb24 -vsync vfr`) returned: the same frames, RGB uint8 `[H, W, 3]`,
bit for bit on every sample file measured, turned upright as ffmpeg does when
the file says it is rotated, and the frame rate rounded as ffmpeg prints it.
What it does not do is decode the whole file before the first frame:

- The frame count comes from the container where it is exact (the sample
  table of .mp4 / .mov / .mj2), else from counting packets (one per frame,
  read without decoding anything; an .avi's header also counts the empty
  "drop" frames that ffmpeg skips).
- A range that starts at frame `start` seeks to the last keyframe at or
  before it and decodes forward from there, telling frames apart by their
  timestamps, so the frames are those of a decode from the first frame.
- Decoding stops at `stop`, and frames are handed out one at a time.

One difference remains on damaged files: packets the decoder rejects are
skipped (as ffmpeg does), so a decode from the first frame numbers the frames
it could decode, while after a seek frames are numbered by their timestamps;
the two numberings part after the damage.

Errors are `errors.InputError` with the messages of io.read_video.
"""

import bisect
import contextlib
import pathlib
from typing import Any, Iterator, NamedTuple

import numpy as np

from vgpnn_jax import errors

# When a file gives no frame rate (some GIFs), mediapy took 10 fps.
_DEFAULT_FPS = 10.0


class Info(NamedTuple):
  """The frame count and rate of a video file, known without decoding it."""

  num_frames: int  # -1 where only decoding everything would tell
  fps: float


def _av() -> Any:
  import av  # pylint: disable=g-import-not-at-top

  return av


@contextlib.contextmanager
def _error_log() -> Iterator[None]:
  """Lets FFmpeg's errors reach the exceptions PyAV raises (their `log`).

  PyAV keeps FFmpeg quiet by default, and then an error says only 'Invalid
  data found when processing input', not 'moov atom not found'. The messages
  are captured, not printed.
  """
  av = _av()
  level = av.logging.get_level()
  av.logging.set_level(av.logging.ERROR)
  try:
    with av.logging.Capture():
      yield
  finally:
    av.logging.set_level(level)


def _reason(e: BaseException) -> str:
  """The most specific line FFmpeg gave for `e` ('moov atom not found')."""
  log = getattr(e, 'log', None)  # (level, component, message) of av errors
  if log and len(log) == 3 and str(log[2]).strip():
    return str(log[2]).strip().splitlines()[0]
  text = getattr(e, 'strerror', None) or str(e)
  return text.splitlines()[0] if text else type(e).__name__


def _round_fps(rate: float) -> float:
  """`rate` as ffmpeg prints it (and mediapy parsed it): 29.97, 15, 12.5."""
  hundredths = round(rate * 100)
  if hundredths == 0:
    return round(rate, 4)
  return hundredths / 100


def _fps(stream: Any) -> float:
  for rate in (stream.average_rate, stream.guessed_rate):
    if rate is not None and rate > 0:
      return _round_fps(float(rate))
  return _DEFAULT_FPS


def _upright(frame: Any) -> np.ndarray:
  """The frame as RGB uint8 `[H, W, 3]`, turned as its display matrix says."""
  # Bicubic, as the ffmpeg command line converts (only the chroma is scaled).
  rgb = frame.to_ndarray(format='rgb24', interpolation='BICUBIC')
  turns = round((frame.rotation or 0) / 90) % 4  # counterclockwise
  if turns:
    rgb = np.ascontiguousarray(np.rot90(rgb, turns))
  return rgb


class VideoFile(contextlib.AbstractContextManager):
  """An open video file whose frames are decoded as they are asked for.

  Attributes:
    fps: the frame rate, as ffmpeg reports it.
    decoded: the index after the last frame the last `frames` call decoded,
      counted from the file's first frame (also where a seek skipped some).
    reached_end: whether the last `frames` call decoded to the end of the
      file (then `decoded` is its number of frames).
  """

  def __init__(self, path: pathlib.Path):
    self._path = path
    self._open()
    self.fps = _fps(self._stream)
    self.decoded = 0
    self.reached_end = False
    self._timestamps: list[int] | None = None

  def _open(self) -> None:
    """Opens the file at its start, with a fresh decoder."""
    av = _av()
    try:
      with _error_log():
        self._container = av.open(str(self._path), metadata_errors='ignore')
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
      raise self._undecodable(e) from None
    streams = self._container.streams
    if not streams.video:
      kinds = sorted({s.type for s in streams if s.type})
      self._container.close()
      if kinds:
        raise errors.InputError(
            f"cannot read '{self._path}': the file has no video stream (only"
            f" {' and '.join(kinds)}); give a file with video in it"
        )
      raise self._undecodable(None)
    self._stream = streams.video[0]
    self._stream.thread_type = 'AUTO'  # frame threads: same frames, faster
    self._fresh = True  # nothing demuxed yet: at the start of the file

  def _undecodable(self, e: BaseException | None) -> errors.InputError:
    reason = f' ({_reason(e)})' if e is not None else ' (no streams)'
    return errors.InputError(
        f"cannot read '{self._path}': ffmpeg cannot decode it; the file is"
        f' corrupt, truncated or not a video{reason}. Check that it plays in'
        ' a video player or convert it to .mp4'
    )

  def __exit__(self, *_: Any) -> None:
    self.close()

  def close(self) -> None:
    self._container.close()

  def _rewind(self) -> None:
    # Reopening is cheap (the header only) and, unlike a seek to 0, lands on
    # the first frame in every container.
    self.close()
    self._open()

  def _packets(self) -> Iterator[Any]:
    """The stream's packets that hold a frame (not empty, not discarded)."""
    self._fresh = False
    for packet in self._container.demux(self._stream):
      if packet.size and not packet.is_discard:
        yield packet

  def timestamps(self) -> list[int]:
    """The presentation timestamps of the frames, sorted; [] if any lacks one.

    One pass of the demuxer over the file: it reads the packets, decoding
    nothing (about 10 ms for 8 MB), and leaves the file at its start.
    """
    if self._timestamps is None:
      if not self._fresh:
        self._rewind()
      stamps = [packet.pts for packet in self._packets()]
      if any(pts is None for pts in stamps) or len(set(stamps)) < len(stamps):
        stamps = []  # frames cannot be told apart by their timestamps
      self._timestamps = sorted(stamps)
      self._rewind()
    return self._timestamps

  def info(self) -> Info:
    """The frame rate and count, without decoding (`num_frames` -1 if none)."""
    count = 0
    # The sample table of the mov family counts frames exactly; an .avi's
    # header also counts empty "drop" frames, Matroska and WebM count none.
    if 'mov' in self._container.format.name.split(','):
      count = self._stream.frames
    if count <= 0:
      count = len(self.timestamps()) or -1
    return Info(int(count), self.fps)

  def count(self) -> int:
    """The number of frames: `info`'s, else counted by decoding them all."""
    count = self.info().num_frames
    if count < 0:
      self._rewind()
      count = sum(1 for _ in self._decode())
      self._rewind()
    return count

  def _decode(self) -> Iterator[tuple[int | None, Any]]:
    """(timestamp, frame) from where the demuxer is to the end."""
    av = _av()
    codec = self._stream.codec_context
    packets = self._packets()
    while True:
      packet = next(packets, None)  # None at the end: flush the decoder
      try:
        frames = codec.decode(packet)
      except av.error.InvalidDataError:
        continue  # a packet the decoder rejects is skipped, as ffmpeg does
      for frame in frames:
        yield frame.pts, frame
      if packet is None:
        return

  def _from_first(self) -> Iterator[tuple[int, Any]]:
    return ((i, frame) for i, (_, frame) in enumerate(self._decode()))

  def _indexed(self, start: int) -> Iterator[tuple[int, Any]]:
    """(frame index, frame) from frame `start` on, or from an earlier one.

    Seeks to the last keyframe at or before frame `start` and places the
    frames decoded from there by where their timestamps sort among all the
    frames'; decodes from the first frame where that cannot be done (no
    timestamps, a file that cannot seek, a seek that lands past `start`).
    """
    av = _av()
    stamps = self.timestamps() if start > 0 else []
    if len(stamps) <= start:
      yield from self._from_first()
      return
    try:
      self._container.seek(stamps[start], backward=True, any_frame=False,
                           stream=self._stream)
    except (av.error.FFmpegError, OSError):
      self._rewind()
      yield from self._from_first()
      return
    decoded = self._decode()
    first = next(decoded, None)
    if first is None or first[0] is None or first[0] > stamps[start]:
      self._rewind()
      yield from self._from_first()
      return
    pts, frame = first
    i = bisect.bisect_left(stamps, pts)
    yield i, frame
    for pts, frame in decoded:
      # A frame without a timestamp follows the one before it.
      i = i + 1 if pts is None else bisect.bisect_left(stamps, pts)
      yield i, frame

  def _checked(self, indexed: Iterator[tuple[int, Any]]
               ) -> Iterator[tuple[int, Any]]:
    """`indexed`, counting frames and turning decoder errors into
    InputErrors."""
    av = _av()
    try:
      for i, frame in indexed:
        self.decoded = i + 1
        yield i, frame
    except (av.error.FFmpegError, OSError) as e:
      raise errors.InputError(
          f"cannot read '{self._path}': decoding failed after"
          f' {self.decoded} frames ({_reason(e)}); the file is corrupt,'
          ' convert it to .mp4'
      ) from None
    self.reached_end = True

  def frames(self, start: int | None, stop: int | None,
             step: int) -> Iterator[np.ndarray]:
    """The frames `[start:stop:step]` (as in a Python slice), one at a time.

    Negative indices and steps are resolved on a decode of every frame;
    otherwise decoding starts near `start` (a keyframe seek) and ends at
    `stop`.

    Yields:
      RGB uint8 frames `[H, W, 3]`.

    Raises:
      errors.InputError: decoding failed (not for a corrupt packet, which is
        skipped as ffmpeg does).
    """
    self.decoded = 0
    self.reached_end = False
    if not self._fresh:
      self._rewind()
    if step < 0 or any(i is not None and i < 0 for i in (start, stop)):
      every = [_upright(frame) for _, frame in self._checked(
          self._from_first())]
      yield from every[start:stop:step]
      return
    start = start or 0
    for i, frame in self._checked(self._indexed(start)):
      if stop is not None and i >= stop:
        return
      if i >= start and (i - start) % step == 0:
        yield _upright(frame)
