"""The environment layer: CAGE2 Scenario 2 as tables, the numba simulator, the real CybORG
in a process pool, red agents and mixtures, and ``make_vec`` over both backends."""
from wrl.env.vec import make_vec

__all__ = ["make_vec"]
