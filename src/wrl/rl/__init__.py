"""The learner layer: the agent's state, the actor-critic, PPO, the agent interface and
playing an agent for whole episodes."""
