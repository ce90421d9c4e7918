from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from autometa.meta import load_meta_learner, log_meta_learner, save_meta_learner
from autometa.meta._base import MetaLearner
from autometa.meta._checkpoint import CHECKPOINT_FORMAT, load_checkpoint, make_payload
from autometa.tasks import collate_tasks

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import BlobPool, LinearMAML  # noqa: E402


def trained_learner() -> LinearMAML:
    learner = LinearMAML(inner_steps=3, inner_lr=0.3, init_seed=5)
    with torch.no_grad():
        learner.bias.add_(0.25)  # weights that differ from a fresh build
    return learner


def batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    pool = BlobPool()
    return collate_tasks([pool.sample(rng) for _ in range(3)], c_max=3)


def predictions(learner, b):
    with torch.enable_grad():
        fast = learner.adapt(b)
    return learner.predict(fast, b.x_query, b).detach()


def test_round_trip_same_predictions_and_metadata(tmp_path):
    learner = trained_learner()
    path = save_meta_learner(
        learner, tmp_path / "sub" / "m.pt", metadata={"steps": 3, "data": ["blobs"]}
    )
    assert path == tmp_path / "sub" / "m.pt" and [p.name for p in path.parent.iterdir()] == ["m.pt"]
    loaded = load_meta_learner(path)
    assert type(loaded) is type(learner) and loaded.get_config() == learner.get_config()
    assert not loaded.training
    b = batch()
    assert torch.equal(predictions(loaded, b), predictions(learner, b))
    payload = load_checkpoint(path)
    assert payload["format"] == CHECKPOINT_FORMAT and payload["format_version"] == 1
    assert payload["algo"] == "test-linear-maml"
    assert '"steps": 3' in payload["metadata"]


def test_loads_with_weights_only(tmp_path):
    path = save_meta_learner(trained_learner(), tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)  # raises if pickled classes were inside
    assert payload["algo"] == "test-linear-maml" and set(payload["state_dict"]) == set(
        trained_learner().state_dict()
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_corrupt_file_raises_clear_error(tmp_path, damage):
    good = save_meta_learner(trained_learner(), tmp_path / "good.pt").read_bytes()
    data = {
        "truncated": good[: len(good) // 2],
        "random": np.random.default_rng(0).bytes(len(good)),
        "empty": b"",
    }[damage]
    path = _write(tmp_path / "bad.pt", data)
    with pytest.raises(
        ValueError, match="not a readable checkpoint: the file is truncated, corrupt"
    ):
        load_meta_learner(path)


def test_other_formats_raise(tmp_path):
    learner = trained_learner()
    torch.save(learner.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(
        ValueError, match="not an autometa meta-learner checkpoint.*bare state_dict"
    ):
        load_meta_learner(tmp_path / "sd.pt")
    torch.save({"format": "something-else", "x": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an autometa meta-learner checkpoint"):
        load_meta_learner(tmp_path / "other.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="not an autometa meta-learner checkpoint"):
        load_meta_learner(tmp_path / "list.pt")
    payload = make_payload(learner)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="format version 99.*upgrade autometa"):
        load_meta_learner(tmp_path / "future.pt")


def test_mismatched_config_and_state_raise(tmp_path):
    payload = make_payload(trained_learner())
    payload["config"] = payload["config"].replace('"d_max": 6', '"d_max": 7')
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="stored weights do not match the stored config"):
        load_meta_learner(tmp_path / "mismatch.pt")
    payload = make_payload(trained_learner())
    payload["algo"] = "no-such-algo"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(ValueError, match="'no-such-algo', which is not registered"):
        load_meta_learner(tmp_path / "unknown.pt")
    payload = make_payload(trained_learner())
    payload["config"] = '{"d_max": 6, "not_an_argument": 1}'
    torch.save(payload, tmp_path / "badcfg.pt")
    with pytest.raises(ValueError, match="could not rebuild 'test-linear-maml'"):
        load_meta_learner(tmp_path / "badcfg.pt")
    payload = make_payload(trained_learner())
    del payload["state_dict"]
    torch.save(payload, tmp_path / "incomplete.pt")
    with pytest.raises(
        ValueError, match="incomplete autometa checkpoint: missing \\['state_dict'\\]"
    ):
        load_meta_learner(tmp_path / "incomplete.pt")


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        load_meta_learner(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="folder without best.pt, last.pt"):
        load_meta_learner(tmp_path)


def test_save_failures_keep_previous_file(tmp_path):
    path = save_meta_learner(trained_learner(), tmp_path / "m.pt")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="metadata must be JSON-serializable"):
        save_meta_learner(trained_learner(), path, metadata={"bad": object()})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.pt"]

    class Unregistered(MetaLearner):
        def adapt(self, batch):  # pragma: no cover - never called
            raise NotImplementedError

        def predict(self, fast, x, batch):  # pragma: no cover
            raise NotImplementedError

        def get_config(self):
            return {}

    with pytest.raises(ValueError, match="no registered algorithm name"):
        save_meta_learner(Unregistered(), tmp_path / "u.pt")


def test_top_level_lazy_export():
    import autometa

    assert autometa.load_meta_learner is load_meta_learner


@pytest.mark.slow
def test_mlflow_model_round_trip(tracking_uri, tmp_path, monkeypatch):
    import mlflow
    import mlflow.tracking._tracking_service.utils as tracking_utils

    learner = trained_learner()
    # the fluent API's global URI, restored after the test (it would override the env var)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_uri)
    mlflow.set_experiment("checkpoint-test")
    with mlflow.start_run() as run:
        info = log_meta_learner(
            learner, name="meta", registered_model_name="autometa-test", metadata={"note": "x"}
        )
    b = batch(1)
    expected = predictions(learner, b)
    assert info.version == "1" and info.registered_model_uri == "models:/autometa-test/1"
    for uri in (f"runs:/{run.info.run_id}/meta", "models:/autometa-test/1", info.model_uri):
        loaded = load_meta_learner(uri)
        assert torch.equal(predictions(loaded, b), expected), uri
    # the pyfunc flavor adapts to a support set and returns class probabilities
    model = mlflow.pyfunc.load_model("models:/autometa-test/1")
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(6, 4)).astype(np.float32), np.array([0, 1, 2, 0, 1, 2])
    proba = model.predict({"x_support": xs, "y_support": ys, "x_query": xs})
    assert proba.shape == (6, 3) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="Could not download 'models:/autometa-test/7'"):
        load_meta_learner("models:/autometa-test/7")
    # an explicit store wins over the environment
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/other.db")
    with pytest.raises(ValueError, match="other.db"):
        load_meta_learner(f"runs:/{run.info.run_id}/meta")
    assert torch.equal(
        predictions(
            load_meta_learner(f"runs:/{run.info.run_id}/meta", tracking_uri=tracking_uri), b
        ),
        expected,
    )


def test_augmented_checkpoint_loads_in_a_fresh_process(tmp_path):
    """An ``--augment learned`` checkpoint loads without importing autometa.augment first."""
    import subprocess
    import sys

    path = tmp_path / "aug.pt"
    save = (
        "from autometa.meta import build_learner, save_meta_learner\n"
        "from autometa.augment import AugmentedLearner\n"
        "l = AugmentedLearner.from_learner(build_learner('maml', net={'kind': 'mlp', 'd_max': 8, 'c_max': 3, 'hidden': [8]}))\n"
        f"save_meta_learner(l, {str(path)!r})\n"
    )
    subprocess.run([sys.executable, "-c", save], check=True)
    load = (
        f"from autometa.meta import load_meta_learner; print(load_meta_learner({str(path)!r}).algo)"
    )
    out = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "augmented"


def test_models_uri_uses_the_store_asked_for_not_mlflows_global(
    tmp_path, tracking_uri, monkeypatch
):
    """``models:/`` loads follow $MLFLOW_TRACKING_URI even when mlflow's process-wide URI points elsewhere.

    (``mlflow.set_tracking_uri`` earlier in a process leaves a global behind that mlflow's own
    ``models:/`` download follows.)
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    from autometa.meta import build_learner, load_meta_learner, log_meta_learner

    learner = build_learner("maml", net={"kind": "mlp", "d_max": 4, "c_max": 2, "hidden": [4]})
    client = MlflowClient(tracking_uri)
    run = client.create_run(client.create_experiment("reg"))
    info = log_meta_learner(
        learner,
        "model",
        registered_model_name="reg",
        run_id=run.info.run_id,
        tracking_uri=tracking_uri,
    )
    assert info.registered_model_uri == "models:/reg/1"
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/elsewhere.db")  # also rewrites the env var...
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)  # ...which the user then points back
    for uri in ("models:/reg/1", "models:/reg/latest"):
        loaded = load_meta_learner(uri)
        for a, b in zip(loaded.state_dict().values(), learner.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_checkpoint_never_imports_modules_outside_autometa(tmp_path):
    """The recorded defining module is imported only inside the autometa package."""
    payload = make_payload(trained_learner())
    assert payload["module"] == "_trainer_helpers"
    payload["algo"] = "not-registered-anywhere"
    payload["module"] = "antigravity"  # importing it would open a web browser
    torch.save(payload, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match=r"import the module that defines it \(antigravity\)"):
        load_meta_learner(tmp_path / "foreign.pt")
    assert "antigravity" not in sys.modules
