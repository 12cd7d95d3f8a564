"""The installed environment: one OpenCV, consistent requirements, the promised runtimes."""

import importlib.metadata
import subprocess
import sys

OPENCV_DISTRIBUTIONS = {
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
}


def test_exactly_one_opencv_distribution_is_installed() -> None:
    """Two OpenCV wheels overwrite each other's cv2 and break at random on upgrade."""
    installed = {
        (dist.metadata["Name"] or "").lower().replace("_", "-")
        for dist in importlib.metadata.distributions()
    }
    assert installed & OPENCV_DISTRIBUTIONS == {"opencv-contrib-python"}


def test_pip_check_is_clean() -> None:
    """A broken requirement set fails later, on a kiosk, at the worst moment."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tflite_runtime_is_ai_edge_litert() -> None:
    """DESIGN.md: ai-edge-litert is the runtime; tflite-runtime is only a fallback."""
    from edge.inference.runtime import _interpreter_class

    assert _interpreter_class().__module__.startswith("ai_edge_litert")
