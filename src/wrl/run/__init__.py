"""One candidate's run: config, rollout collection, the training loop, episode and
update logs, checkpoints and the score."""
