"""LSHPruner: the paper's synchronous rounds inside a user's Optuna study, with real (tiny) training."""

from __future__ import annotations

import copy
import math

import optuna
import pytest
import torch
from optuna.trial import TrialState
from user_world import UserLM, token_stream, train_epoch

import hyperprune
from hyperprune import LSHPruner, UserError, dense_reference, make_probe, spectrum_distance
from hyperprune.search.optuna_pruner import replay_rounds

optuna.logging.set_verbosity(optuna.logging.WARNING)
LRS = [0.05, 0.2, 0.5, 1.0, 2.5, 6.0]          # the pool: one trial per learning rate
EPOCHS = 4
LR_RANGE = optuna.distributions.FloatDistribution(0.01, 10.0, log=True)


# ---- the rounds as a pure function ------------------------------------------------------------------


def test_replay_keeps_floor_half_plus_one_of_those_that_reached_the_step():
    values = {0: {0: .5, 1: .9}, 1: {0: .1, 1: .3}, 2: {0: .3, 1: .2}, 3: {0: .4}, 4: {0: .2, 1: .1}}
    rounds = replay_rounds(5, values, ended={3}, first_step=0, round_every=1, finalists=2)
    # round 0: 5 reached step 0, keep 5 // 2 + 1 = 3, best first: 1 (.1), 4 (.2), 2 (.3)
    assert (rounds[0].step, rounds[0].alive, rounds[0].kept) == (0, [0, 1, 2, 3, 4], [1, 4, 2])
    # round 1: 3 alive, keep max(2, min(2, 3 // 2 + 1)) = 2: 4 (.1), 2 (.2); then 2 = finalists, no more rounds
    assert (rounds[1].step, rounds[1].alive, rounds[1].kept) == (1, [1, 2, 4], [4, 2])
    assert len(rounds) == 2


def test_replay_waits_for_every_member_and_drops_those_that_ended_without_the_step():
    values = {0: {0: .5}, 1: {0: .1}, 2: {}, 3: {0: .4}}
    # pool of 5 with only 4 trials created: round 0 is not full, whatever they reported
    assert replay_rounds(5, values, ended=set(), first_step=0, round_every=1, finalists=2)[0].kept is None
    # trial 2 still running: not full; trial 2 ended (failed) before step 0: it drops out, n = 3 -> keep 2
    assert replay_rounds(4, values, ended=set(), first_step=0, round_every=1, finalists=2)[0].kept is None
    rounds = replay_rounds(4, values, ended={2}, first_step=0, round_every=1, finalists=2)
    assert rounds[0].kept == [1, 3] and len(rounds) == 1
    # a NaN report ranks last; steps follow first_step + r * round_every
    values = {0: {2: math.nan, 5: .1}, 1: {2: .3, 5: .2}, 2: {2: .2, 5: .3}, 3: {2: .1}}
    rounds = replay_rounds(4, values, ended=set(), first_step=2, round_every=3, finalists=1)
    assert rounds[0].kept == [3, 2, 1] and rounds[1].step == 5 and rounds[1].kept is None   # 3 has not reported 5


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_trials=1), "n_trials = 1; allowed: an integer >= 2"),
    (dict(n_trials=4.0), "n_trials = 4.0"),
    (dict(n_trials=4, first_step=-1), "first_step = -1"),
    (dict(n_trials=4, round_every=0), "round_every = 0"),
    (dict(n_trials=4, finalists=4), "finalists = 4 leaves nothing to prune among n_trials = 4; allowed: 1 to 3"),
    (dict(n_trials=4, finalists=True), "finalists = True"),
    (dict(n_trials=4, wait=-1), "wait = -1"),
    (dict(n_trials=4, poll_interval=0), "poll_interval = 0"),
])
def test_arguments_are_checked_with_one_line_errors(kwargs, message):
    with pytest.raises(UserError) as error:
        LSHPruner(**kwargs)
    assert message in str(error.value) and "\n" not in str(error.value)


# ---- a small study with real training ---------------------------------------------------------------


@pytest.fixture(scope="module")
def world():
    """The initial model every trial starts from, the probe, and the dense model's spectra per epoch."""
    torch.manual_seed(0)
    template = UserLM()
    probe = make_probe(token_stream(600, seed=1), n_sequences=2, length=20, warmup=5)
    dense = dense_reference(copy.deepcopy(template), probe, epochs=EPOCHS, train_epoch=train_epoch)
    return template, probe, dense


def objective_for(world):
    template, probe, dense = world

    def objective(trial):
        lr = trial.suggest_float("lr", LR_RANGE.low, LR_RANGE.high, log=True)
        model = copy.deepcopy(template)              # not torch.manual_seed: trials may run in threads
        for epoch in range(EPOCHS):
            train_epoch(model, epoch, lr=lr)
            distance = spectrum_distance(model, dense, probe, epoch=epoch)
            trial.report(distance, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return distance
    return objective


def enqueued_study(pruner, **kwargs):
    study = optuna.create_study(direction="minimize", pruner=pruner, **kwargs)
    for lr in LRS:
        study.enqueue_trial({"lr": lr})
    return study


def expected_rounds(values_by_lr: dict[float, dict[int, float]]) -> list[tuple[int, list[float]]]:
    """The paper's rule by hand: (step, learning rates kept, best first) per round."""
    alive, out, step = list(values_by_lr), [], 0
    while len(alive) > 2:
        ranked = sorted(alive, key=lambda lr: values_by_lr[lr][step])
        alive = ranked[:max(2, min(len(ranked) - 1, len(ranked) // 2 + 1))]
        out.append((step, alive))
        step += 1
    return out


def lockstep(world) -> tuple[optuna.Study, LSHPruner]:
    """The docstring's ask/tell pattern: every alive trial trains one epoch and reports, then each is judged."""
    template, probe, dense = world
    pruner = LSHPruner(n_trials=6, first_step=0, round_every=1, finalists=2)
    study = enqueued_study(pruner)
    trials = [study.ask({"lr": LR_RANGE}) for _ in LRS]          # the enqueued learning rates
    models = {t.number: copy.deepcopy(template) for t in trials}
    last = {}
    alive = list(trials)
    for epoch in range(EPOCHS):
        for trial in alive:
            train_epoch(models[trial.number], epoch, lr=trial.params["lr"])
            last[trial.number] = spectrum_distance(models[trial.number], dense, probe, epoch=epoch)
            trial.report(last[trial.number], epoch)
        for trial in list(alive):
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                alive.remove(trial)
    for trial in alive:
        study.tell(trial, last[trial.number])
    return study, pruner


@pytest.fixture(scope="module")
def lockstep_run(world):
    return lockstep(world)


def values_by_lr(study) -> dict[float, dict[int, float]]:
    return {t.params["lr"]: dict(t.intermediate_values) for t in study.trials}


def kept_lrs(study, pruner) -> list[tuple[int, list[float]]]:
    lr = {t.number: t.params["lr"] for t in study.trials}
    return [(r.step, [lr[n] for n in r.kept]) for r in pruner.rounds(study)]


@pytest.mark.slow
def test_lockstep_ask_and_tell_reproduces_the_synchronous_rule_with_its_savings(lockstep_run):
    study, pruner = lockstep_run
    values = values_by_lr(study)
    # the rounds are the hand-ranked ones: 6 -> 4 -> 3 -> 2, each over every trial at that epoch
    hand = expected_rounds({lr: v for lr, v in values.items()})
    assert kept_lrs(study, pruner) == hand and [len(k) for _, k in hand] == [4, 3, 2]
    # every eliminated trial stopped at the epoch of the round that eliminated it: no epoch wasted
    stopped = {t.params["lr"]: (t.state, t.last_step) for t in study.trials}
    kept_before = set(LRS)
    for step, kept in hand:
        for lr in kept_before - set(kept):
            assert stopped[lr] == (TrialState.PRUNED, step)
        kept_before = set(kept)
    assert {lr for lr, (state, _) in stopped.items() if state == TrialState.COMPLETE} == set(hand[-1][1])
    assert sum(len(v) for v in values.values()) == 6 + 4 + 3 + 2 * 1       # epochs trained: 15 of 24


@pytest.mark.slow
def test_a_sequential_study_decides_the_same_rounds_once_they_fill(world, lockstep_run):
    study, pruner = lockstep_run
    sequential_pruner = LSHPruner(n_trials=6, first_step=0, round_every=1, finalists=2)
    sequential = enqueued_study(sequential_pruner)
    sequential.optimize(objective_for(world), n_trials=6)
    # trials 0..4 could not wait for trials that start after them: they trained on; the rounds,
    # decided over the full set when it filled, are the lockstep ones all the same
    assert kept_lrs(sequential, sequential_pruner) == kept_lrs(study, pruner)
    assert all(t.state == TrialState.COMPLETE for t in sequential.trials[:5])
    # the intermediate values are the lockstep ones: same training, same measurement
    lock = values_by_lr(study)
    for lr, values in values_by_lr(sequential).items():
        assert all(values[e] == pytest.approx(lock[lr][e], abs=1e-9) for e in lock[lr])


@pytest.mark.slow
def test_parallel_trials_wait_at_each_round_for_the_round_to_fill(world, lockstep_run):
    study, pruner = lockstep_run
    parallel_pruner = LSHPruner(n_trials=6, first_step=0, round_every=1, finalists=2, wait=120, poll_interval=0.02)
    parallel = enqueued_study(parallel_pruner)
    parallel.optimize(objective_for(world), n_trials=6, n_jobs=6)
    assert kept_lrs(parallel, parallel_pruner) == kept_lrs(study, pruner)
    # as in lockstep: each eliminated trial stopped at its round's epoch
    lock = {t.params["lr"]: (t.state, t.last_step) for t in study.trials}
    assert {t.params["lr"]: (t.state, t.last_step) for t in parallel.trials} == lock


@pytest.mark.slow
@pytest.mark.parametrize("pruner", [
    optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
    optuna.pruners.PercentilePruner(50.0, n_startup_trials=2, n_warmup_steps=0),
    optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS, reduction_factor=2),
], ids=["successive-halving", "percentile", "hyperband"])
def test_optunas_own_pruners_take_the_distance_as_it_is(world, lockstep_run, pruner):
    study, _ = lockstep_run
    # Hyperband puts trials in brackets by a hash of the study name: a fixed name, a fixed outcome
    own = enqueued_study(pruner, sampler=optuna.samplers.RandomSampler(seed=0), study_name="own-pruner")
    own.optimize(objective_for(world), n_trials=6)
    lock = values_by_lr(study)
    # every stored value is the distance the lockstep study measured for the same trial and epoch
    for t in own.trials:
        assert t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        for epoch, value in t.intermediate_values.items():
            if epoch in lock[t.params["lr"]]:
                assert value == pytest.approx(lock[t.params["lr"]][epoch], abs=1e-9)
            assert math.isfinite(value)
    assert TrialState.PRUNED in {t.state for t in own.trials}


def test_a_diverged_trial_fails_alone_and_the_study_keeps_what_it_stored(world, tmp_path):
    template, probe, dense = world
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="user", storage=storage, direction="minimize",
                                pruner=LSHPruner(n_trials=4, finalists=2))

    def objective(trial):
        model = copy.deepcopy(template)
        if trial.number == 2:
            with torch.no_grad():
                model.rnn.weight_hh_l0.fill_(float("inf"))     # a diverged model
        distance = spectrum_distance(model, dense, probe, epoch=0)
        trial.report(distance, 0)
        return distance

    study.optimize(objective, n_trials=2)
    with pytest.warns(RuntimeWarning), pytest.raises(UserError, match="spectrum at epoch 0 is not finite"):
        study.optimize(objective, n_trials=1)
    again = optuna.load_study(study_name="user", storage=storage, pruner=LSHPruner(n_trials=4, finalists=2))
    states = [t.state for t in again.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert again.trials[0].value == again.trials[1].value == pytest.approx(
        spectrum_distance(template, dense, probe, epoch=0), abs=1e-12)
    assert hyperprune.LSHPruner is LSHPruner


def test_in_a_maximize_study_the_highest_values_are_kept():
    pruner = LSHPruner(n_trials=4, finalists=2)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trials = [study.ask() for _ in range(4)]
    for trial, value in zip(trials, [0.1, 0.9, 0.5, 0.7]):
        trial.report(value, 0)
    assert [t.should_prune() for t in trials] == [True, False, False, False]   # keep 4 // 2 + 1 = 3
    assert pruner.rounds(study)[0].kept == [1, 3, 2]


def _sequential(direction: str, pruner) -> optuna.Study:
    study = optuna.create_study(direction=direction, pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for epoch in range(4):
            trial.report(abs(x - 0.5) / (epoch + 1), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return abs(x - 0.5) / 4

    study.optimize(objective, n_trials=6)
    return study


def test_a_sequential_study_is_told_once_that_its_trials_were_not_stopped(recwarn):
    import warnings
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        study = _sequential("minimize", LSHPruner(n_trials=6, first_step=0, round_every=1, finalists=2))
    messages = [str(w.message) for w in recwarn.list if "LSHPruner" in str(w.message)]
    # round 0 fills when trial 5 reports: 4 of 6 kept; trials eliminated there had completed already
    eliminated = sorted(range(6), key=lambda t: (abs(study.trials[t].params["x"] - 0.5), t))[4:]
    completed = [t for t in eliminated if study.trials[t].state == optuna.trial.TrialState.COMPLETE]
    assert completed and len(messages) == 1
    assert messages[0].startswith(f"LSHPruner: trial {completed[0]} completed although round 0 (step 0) "
                                  f"eliminates it: its round filled only after it ended")


def test_a_maximize_study_is_warned_once(recwarn):
    import warnings
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        _sequential("maximize", LSHPruner(n_trials=6, first_step=0, round_every=1, finalists=2))
    messages = [str(w.message) for w in recwarn.list if "'maximize'" in str(w.message)]
    assert messages == ["LSHPruner on a 'maximize' study keeps the trials with the highest values; a spectrum "
                        "distance is better when lower: create the study with direction='minimize' unless higher "
                        "is better for what you report"]
