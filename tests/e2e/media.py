"""Test media: clip generation, per-packet listings (ffmpeg framemd5) and their comparison."""
import subprocess
from dataclasses import dataclass, field

FFMPEG = "ffmpeg"


def make_clip(path, seconds=12, size="320x240", fps=25, keyint=25, timeout=120, video_bitrate="400k",
              noise=False):
    """testsrc + sine, H.264 (no B-frames, keyframe every `keyint` frames) + AAC, in an FLV.

    testsrc compresses far below any realistic bitrate; `noise` adds moving grain so that the
    encoder actually reaches `video_bitrate` (for throughput benchmarks).
    """
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:sample_rate=44100:duration={seconds}",
           *(["-vf", "noise=alls=25:allf=t"] if noise else []),
           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-bf", "0",
           "-g", str(keyint), "-keyint_min", str(keyint), "-sc_threshold", "0", "-b:v", video_bitrate,
           "-c:a", "aac", "-b:a", "96k",
           "-shortest", "-f", "flv", path]
    subprocess.run(cmd, check=True, timeout=timeout)
    return path


@dataclass
class StreamListing:
    media_type: str
    codec: str = ""
    extradata: str = ""           # checksum of the codec configuration, if any
    md5s: list = field(default_factory=list)


def framemd5(path, timeout=60):
    """Per-stream packet listing of a media file, keyed by media type ('video', 'audio').

    Stream indices differ between files (a player may put audio first), so streams are keyed by type.
    """
    out = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path,
         "-map", "0", "-c", "copy", "-f", "framemd5", "-"],
        check=True, timeout=timeout, capture_output=True, text=True).stdout
    by_index = {}
    for line in out.splitlines():
        if line.startswith("#extradata "):
            idx, _, value = line[len("#extradata "):].partition(",")
            s = by_index.setdefault(int(idx), StreamListing(media_type="?"))
            s.extradata = value.strip().replace(" ", "")
            continue
        if line.startswith("#"):
            key, _, rest = line[1:].partition(" ")
            idx, _, value = rest.partition(":")
            if key.endswith(":") or not idx.strip().isdigit():
                continue  # file-level header ("#version: 2")
            s = by_index.setdefault(int(idx), StreamListing(media_type="?"))
            value = value.strip()
            if key == "media_type":
                s.media_type = value
            elif key == "codec_id":
                s.codec = value
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            continue
        by_index.setdefault(int(parts[0]), StreamListing(media_type="?")).md5s.append(parts[5])
    result = {}
    for s in by_index.values():
        if s.media_type in result:
            raise AssertionError(f"{path}: two {s.media_type} streams")
        result[s.media_type] = s
    return result


def find_run(published, received):
    """Index k such that received == published[k:k+len(received)], or None.

    Repeated packets (a periodic tone can encode to identical AAC frames) make several k possible:
    the smallest matching one is returned.
    """
    if not received:
        return 0
    n = len(received)
    for k, md5 in enumerate(published):
        if md5 == received[0] and published[k:k + n] == received:
            return k
    return None


def first_mismatch(published, received):
    """For a failure message: where the longest in-order prefix of `received` stops matching."""
    best = (0, None)
    for k, md5 in enumerate(published):
        if md5 != received[0]:
            continue
        i = 0
        while i < len(received) and k + i < len(published) and published[k + i] == received[i]:
            i += 1
        if i > best[0]:
            best = (i, k)
    return best  # (matching length, start in published)
