"""The workflow model: encoding, and every compliance rule of DESIGN.md on hand-built cases."""
import itertools

import numpy as np
import pytest

from wrl.env.scenario import HOST_INDEX, NUM_HOSTS, action_id
from wrl.workflow import (
    ALL_WORKFLOWS, UNIT_TYPES, alignment_reward, episode_compliance, fix_compliance,
    format_workflow, kendall_distance, onehot, pairwise_embedding, pairwise_embedding_all,
    parse_workflow, state_after, type_ranks, workflow_from_index, workflow_index,
)

BASE = "defender,enterprise,op_server,op_host,user"
USER_FIRST = "user,op_host,op_server,enterprise,defender"


def state(*hosts):
    m = np.zeros(NUM_HOSTS, bool)
    for h in hosts:
        m[HOST_INDEX[h]] = True
    return m


def judge(workflow, action, *compromised_hosts, after=None):
    """(counted, compliant) of one action; ``after`` (hosts compromised just after the
    step) defaults to ``before`` minus the fixed host: an effective fix."""
    before = state(*compromised_hosts)
    if after is None:
        after = before.copy()
        host = [h for h in HOST_INDEX if action_id("Restore", h) == action or action_id("Remove", h) == action]
        if host:
            after[HOST_INDEX[host[0]]] = False
    else:
        after = state(*after)
    counted, compliant = fix_compliance(np.array([action]), before[None], after[None], type_ranks(workflow))
    return bool(counted[0]), bool(compliant[0])


def test_120_workflows_in_permutation_order():
    assert len(ALL_WORKFLOWS) == 120 == len(set(ALL_WORKFLOWS))
    assert ALL_WORKFLOWS == tuple(itertools.permutations(UNIT_TYPES))
    assert workflow_index(BASE) == 0
    assert format_workflow(workflow_from_index(119)) == USER_FIRST


@pytest.mark.parametrize("i", [0, 7, 63, 119])
def test_parse_format_index_round_trip(i):
    w = workflow_from_index(i)
    assert workflow_index(parse_workflow(format_workflow(w))) == i


@pytest.mark.parametrize("bad", ["defender,enterprise", "defender,defender,op_server,op_host,user",
                                 "defender,enterprise,op_server,op_host,users"])
def test_parse_rejects_non_permutations_naming_the_fix(bad):
    with pytest.raises(ValueError, match="5 unit types"):
        parse_workflow(bad)
    with pytest.raises(ValueError):
        workflow_from_index(120)


def test_onehot_is_position_by_type():
    v = onehot(USER_FIRST).reshape(5, 5)
    assert v.sum() == 5 and (v.sum(0) == 1).all() and (v.sum(1) == 1).all()
    assert v[0, UNIT_TYPES.index("user")] == 1 and v[4, UNIT_TYPES.index("defender")] == 1


def test_pairwise_embedding_and_kendall():
    assert (pairwise_embedding(BASE) == -1).all()          # every earlier type ranks higher
    assert (pairwise_embedding(USER_FIRST) == 1).all()
    assert kendall_distance(BASE, USER_FIRST) == 10
    assert kendall_distance(BASE, "enterprise,defender,op_server,op_host,user") == 1
    emb = pairwise_embedding_all()
    assert emb.shape == (120, 10) and len({tuple(r) for r in emb}) == 120


def test_compliant_fix_goes_to_highest_priority_compromised_type():
    # enterprise outranks user in BASE: restoring Enterprise1 complies
    assert judge(BASE, action_id("Restore", "Enterprise1"), "Enterprise1", "User2") == (True, True)
    assert judge(BASE, action_id("Remove", "Enterprise0"), "Enterprise0", "Enterprise1", "User2") == (True, True)


def test_fix_of_a_clean_host_of_the_top_type_violates():
    # v1 farmed this: Enterprise0 is of the top compromised type but holds no red
    assert judge(BASE, action_id("Remove", "Enterprise0"), "Enterprise1", "User2") == (True, False)
    assert judge(BASE, action_id("Restore", "Enterprise0"), "Enterprise1", "User2") == (True, False)


def test_ineffective_fix_violates():
    # a Remove that leaves red on the host (e.g. a privileged shell) is a violation
    ent1 = action_id("Remove", "Enterprise1")
    assert judge(BASE, ent1, "Enterprise1", "User2", after=("Enterprise1", "User2")) == (True, False)
    # red re-taking the host in the same step also leaves it compromised just after
    assert judge(BASE, action_id("Restore", "Enterprise1"), "Enterprise1", after=("Enterprise1",)) == (True, False)


def test_effective_fix_complies_whatever_else_changes():
    # red moving on to another host in the same step does not spoil an effective fix
    restore = action_id("Restore", "Enterprise1")
    assert judge(BASE, restore, "Enterprise1", after=("Enterprise2", "Op_Server0")) == (True, True)


def test_state_after_takes_the_final_state_of_finished_episodes():
    comp, final = np.zeros((2, NUM_HOSTS), bool), np.zeros((2, NUM_HOSTS), bool)
    final[1, 3] = comp[0, 5] = True
    info = {"compromised": comp, "final_compromised": final, "_final_obs": np.array([False, True])}
    after = state_after(info)
    assert after[0, 5] and not after[0, 3] and after[1, 3] and not after[1, 5]


def test_violating_fix():
    assert judge(BASE, action_id("Restore", "User2"), "Enterprise1", "User2") == (True, False)
    # same state, user-first workflow: now the user fix complies and the enterprise one violates
    assert judge(USER_FIRST, action_id("Restore", "User2"), "Enterprise1", "User2") == (True, True)
    assert judge(USER_FIRST, action_id("Remove", "Enterprise1"), "Enterprise1", "User2") == (True, False)
    # a fix on an uncompromised host of a lower type also violates
    assert judge(BASE, action_id("Restore", "Op_Host0"), "Op_Server0") == (True, False)


def test_fix_while_nothing_compromised_is_not_counted():
    assert judge(BASE, action_id("Restore", "User1")) == (False, False)


def test_non_fix_actions_are_not_counted():
    for a in (0, 1, action_id("Analyse", "User2"), action_id("DecoyApache", "User2")):
        assert judge(BASE, a, "User2") == (False, False)


def test_foothold_is_not_compromise():
    # The User0 foothold never appears in `compromised` (the env excludes it), so with only
    # the foothold nothing is compromised and a fix of User0 is not counted.
    assert judge(USER_FIRST, action_id("Restore", "User0")) == (False, False)


def test_vectorised_over_envs_with_per_env_workflows():
    actions = np.array([action_id("Restore", "User1"), action_id("Restore", "User1"), 0])
    comp = np.stack([state("User1", "Defender"), state("User1", "Defender"), state("User1")])
    ranks = np.stack([type_ranks(BASE), type_ranks(USER_FIRST), type_ranks(BASE)])
    after = comp.copy()
    after[:2, HOST_INDEX["User1"]] = False
    counted, compliant = fix_compliance(actions, comp, after, ranks)
    assert counted.tolist() == [True, True, False]
    assert compliant.tolist() == [False, True, False]
    np.testing.assert_allclose(alignment_reward(counted, compliant, 0.5), [-0.5, 0.5, 0.0])


def test_episode_compliance_nan_without_fixes():
    out = episode_compliance(np.array([3, 0]), np.array([4, 0]))
    assert out[0] == 0.75 and np.isnan(out[1])
