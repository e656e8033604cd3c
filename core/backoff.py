def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff: `base` seconds after the first failed attempt, doubling, at most `cap`."""
    return min(base * 2 ** max(attempts - 1, 0), cap)
