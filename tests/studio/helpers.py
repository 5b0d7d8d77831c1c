"""Small helpers the studio tests share."""

import io

from PIL import Image

from kinetoscope.studio.worker import Worker


def work(svc, n: int = 1, worker_id: str = "test-worker") -> int:
    """Run queued jobs in this process until `n` are done (or 50 rounds pass); how many ran."""
    w = Worker(svc, worker_id=worker_id)
    done = 0
    for _ in range(50):
        done += bool(w.run_once(timeout=0.2))
        if done >= n:
            break
    return done


def png_bytes(color=(200, 30, 30), size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()
