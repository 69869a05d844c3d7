"""PD Portal benchmarks: `make bench` (or `python -m bench [name ...]`) measures the quality bars against peers."""
