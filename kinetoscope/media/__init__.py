"""Video and image I/O (PyAV and Pillow; no torch): read, write, resize, thumbnails.

Frames are ``np.ndarray (T, H, W, 3) uint8`` RGB throughout; user-caused
problems raise ``MediaError`` (a ``ValueError``) naming the file and the limit.
"""

from .errors import MediaError
from .read import read_image, read_media, read_metadata, read_video, resize_frames
from .write import (
    contact_sheet,
    frame_sheet,
    save_contact_sheet,
    spritesheet,
    thumbnail,
    webm_codec,
    write_frames,
    write_video,
)

__all__ = [
    "MediaError",
    "contact_sheet",
    "frame_sheet",
    "read_image",
    "read_media",
    "read_metadata",
    "read_video",
    "resize_frames",
    "save_contact_sheet",
    "spritesheet",
    "thumbnail",
    "webm_codec",
    "write_frames",
    "write_video",
]
