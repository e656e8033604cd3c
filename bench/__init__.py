"""Herald's benchmark suite: `python -m bench` (`make bench`), `python -m bench --quick` (`make bench-quick`).

Every figure is printed beside its reference, measured in the same run on the same machine; see
docs/performance.md for what each one measures and what bounds it.
"""
