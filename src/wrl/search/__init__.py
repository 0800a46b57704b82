"""The search over the 120 workflows: the GP, batch proposals, the round files and the
exhaustive ranking."""
