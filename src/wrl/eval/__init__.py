"""Evaluation: the CAGE2 protocol and its table, scripted baselines, and the fidelity of
the simulator to the real CybORG."""
