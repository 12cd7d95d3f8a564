"""The mood engine: fusion, smoothing, CX states, interactions (peak-end) and alerts."""
