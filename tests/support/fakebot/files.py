"""The files the bot uploaded: stored under a file_id and a file_path (``_save_file``), found in a call's
uploads or ``attach://`` references (``_upload``), served by path (``file_by_path``) and read back by tests
(``file_bytes``); ``png_size`` reads a PNG's dimensions for sendPhoto."""

from __future__ import annotations

import struct

from .records import Call, UploadedFile
from .state import FakeBotState


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class FileStore(FakeBotState):
    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].data

    def _upload(self, call: Call, name: str) -> UploadedFile | None:
        if name in call.files:
            return call.files[name]
        value = call.params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return call.files.get(value[len("attach://") :])
        return None

    def _save_file(self, upload: UploadedFile, path_pattern: str) -> str:
        with self._lock:
            n = next(self._file_ids)
            file_id = f"F{n:06d}"
            self._files[file_id] = upload
            self._file_paths[file_id] = path_pattern.format(n=n)
        return file_id

    def file_by_path(self, path: str) -> UploadedFile | None:
        with self._lock:
            for file_id, p in self._file_paths.items():
                if p == path:
                    return self._files[file_id]
        return None
