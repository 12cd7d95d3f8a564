"""One thread for native math libraries (OpenBLAS, OpenMP) in this process.

Our matrices are tiny (a 64x257 mel projection per window); a BLAS thread pool only contends
with the pipeline's own threads. Measured here with the CPU busy: the mel product took 49 ms
with OpenBLAS's 2 threads and 0.24 ms with one. TFLite's threads are set per interpreter.
"""

from threadpoolctl import threadpool_limits


def limit_native_threads() -> None:
    """Cap BLAS and OpenMP pools at one thread for the rest of the process."""
    threadpool_limits(limits=1)
