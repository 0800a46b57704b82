"""wrl: search for the best defence workflow on CybORG CAGE2 and train the agent."""
from wrl.env import make_vec

__all__ = ["make_vec"]
__version__ = "0.1.0"
