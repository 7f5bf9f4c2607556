"""`archspec train` end to end: fine-tuning from torchvision weights, exact resume, two gloo processes
against one, the data and checkpoint errors, and the command line itself. Inputs are tiny (16x16 and
32x32 images, a few dozen of them), so each run takes a second or so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from typer.testing import CliRunner  # noqa: E402

from archspec.train import checkpoint, distributed  # noqa: E402
from archspec.train.loop import Trainer  # noqa: E402
from archspec.train.options import TrainError, TrainOptions  # noqa: E402
from archspec.train.run import prepare, train  # noqa: E402
from cli.main import app  # noqa: E402

from ..conftest import ROOT, SPECS  # noqa: E402

TINY = ROOT / "tests" / "specs" / "tiny_classifier.yaml"


def options(spec: Path, out: Path, **changes) -> TrainOptions:
    settings = dict(spec=spec, out=out, epochs=1, batch_size=8, synthetic_size=32, lr=0.05, quiet=True,
                    spec_path=(TINY.parent, SPECS / "resnet"))
    settings.update(changes)
    return TrainOptions(**settings)


def weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)["model"]


# ---------------------------------------------------------------- fine-tuning


FINETUNE = """archspec: 1
extends: resnet18.yaml
name: resnet18_finetune
params: {num_classes: 10}
transfer:
  pretrained: weights.pth
  replace: [fc]
  freeze: [conv1, bn1, layer1, layer2]
  bn: frozen
  lr_mult: {layer3: 0.1, layer4: 0.1}
"""


def test_finetune_resnet18_from_torchvision_weights(tmp_path) -> None:
    reference = torchvision.models.resnet18().state_dict()
    torch.save(reference, tmp_path / "weights.pth")
    (tmp_path / "resnet18_finetune.yaml").write_text(FINETUNE)
    result = train(options(tmp_path / "resnet18_finetune.yaml", tmp_path / "run", epochs=3, input_shape=(3, 32, 32)))
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = weights(Path(result["checkpoint"]))
    frozen = [k for k in reference if k.startswith(("conv1.", "bn1.", "layer1.", "layer2."))]
    statistics = [k for k in reference if "running_" in k]  # every batch norm is frozen
    assert frozen and statistics
    assert all(torch.equal(trained[k], reference[k]) for k in frozen + statistics)
    assert not torch.equal(trained["layer3.0.conv1.weight"], reference["layer3.0.conv1.weight"])
    torch.manual_seed(0)  # the head as the run built it (the same seed), before training
    from archspec.train.loop import load_factory
    initial = load_factory(prepare(options(tmp_path / "resnet18_finetune.yaml", tmp_path / "again")))()
    assert not torch.equal(trained["fc.weight"], initial.state_dict()["fc.weight"])
    assert history[-1]["train_loss"] < history[0]["train_loss"]


# ---------------------------------------------------------------- checkpoints


def test_resume_reproduces_the_uninterrupted_run(tmp_path) -> None:
    train(options(TINY, tmp_path / "straight", epochs=3))
    train(options(TINY, tmp_path / "resumed", epochs=1))
    train(options(TINY, tmp_path / "resumed", epochs=3, resume=tmp_path / "resumed" / "last.pt"))
    straight, resumed = weights(tmp_path / "straight" / "last.pt"), weights(tmp_path / "resumed" / "last.pt")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert (tmp_path / "straight" / "metrics.jsonl").read_text() .count("\n") == 3
    lines = [(tmp_path / d / "metrics.jsonl").read_text().splitlines() for d in ("straight", "resumed")]
    assert [json.loads(l)["train_loss"] for l in lines[0]] == [json.loads(l)["train_loss"] for l in lines[1]]
    assert (tmp_path / "straight" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_interrupted_write_keeps_the_last_checkpoint(tmp_path, monkeypatch) -> None:
    train(options(TINY, tmp_path, epochs=1))
    before = (tmp_path / "last.pt").read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(options(TINY, tmp_path, epochs=2, resume=tmp_path / "last.pt"))
    assert (tmp_path / "last.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_resume_of_another_specs_checkpoint(tmp_path) -> None:
    train(options(TINY, tmp_path / "tiny", epochs=1))
    (tmp_path / "other.yaml").write_text(TINY.read_text().replace("name: tiny_classifier", "name: other"))
    with pytest.raises(TrainError, match="is a checkpoint of spec 'tiny_classifier', not of 'other'"):
        train(options(tmp_path / "other.yaml", tmp_path / "other", resume=tmp_path / "tiny" / "last.pt"))


# ---------------------------------------------------------------- several processes


NO_DROPOUT = "archspec: 1\nextends: tiny_classifier.yaml\nname: tiny_plain\nparams: {dropout: 0.0}\n"


def train_replica(world: distributed.World, job) -> None:
    """One process of the two: trains, then writes its own replica's weights for the test to compare."""
    distributed.join(world)
    trainer = Trainer(world, job)
    trainer.run()
    torch.save(trainer.module.state_dict(), job.out / f"rank{world.rank}.pt")
    distributed.leave(world)


def fork_two_replicas(spec: Path, out: Path) -> None:
    """Two gloo replicas forked (a fraction of a second, where spawning takes half a minute) from a fresh
    interpreter: a process that has run autograd, as this one may have in earlier tests, cannot fork."""
    code = (f"from pathlib import Path\n"
            f"from archspec.train import distributed\n"
            f"from tests.cli.test_train import options, prepare, train_replica\n"
            f"job = prepare(options(Path({str(spec)!r}), Path({str(out)!r}), batch_size=8, synthetic_size=32))\n"
            f"distributed.spawn(2, train_replica, job, start_method='fork')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_gloo_processes_match_one(tmp_path) -> None:
    spec = tmp_path / "tiny_plain.yaml"
    spec.write_text(NO_DROPOUT)
    fork_two_replicas(spec, tmp_path / "two")
    train(options(spec, tmp_path / "one", batch_size=16, synthetic_size=32))
    train(options(spec, tmp_path / "accumulated", batch_size=8, accumulate=2, synthetic_size=32))
    ranks = [torch.load(tmp_path / "two" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    one, accumulated = weights(tmp_path / "one" / "last.pt"), weights(tmp_path / "accumulated" / "last.pt")
    for key in one:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        assert torch.allclose(ranks[0][key], one[key], atol=1e-6), key
        assert torch.allclose(accumulated[key], one[key], atol=1e-6), key
    assert not torch.allclose(one["fc.weight"], weights_checkpoint_initial(spec, tmp_path)["fc.weight"])


def weights_checkpoint_initial(spec: Path, tmp_path: Path) -> dict:
    from archspec.train.loop import load_factory

    torch.manual_seed(0)
    return load_factory(prepare(options(spec, tmp_path / "initial")))().state_dict()


# ---------------------------------------------------------------- data


def _image(path: Path, colour: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 20), (colour, 0, 255 - colour)).save(path)


def test_image_folder_trains_and_counts_images_that_fail_later(tmp_path) -> None:
    for index in range(10):
        _image(tmp_path / "data" / "cat" / f"{index}.png", 10)
        _image(tmp_path / "data" / "dog" / f"{index}.png", 240)
    whole = (tmp_path / "data" / "dog" / "3.png").read_bytes()
    (tmp_path / "data" / "dog" / "3.png").write_bytes(whole[: len(whole) // 2])  # the header parses, the rest not
    result = train(options(TINY, tmp_path / "run", data=str(tmp_path / "data"), batch_size=4))
    assert result["skipped_images"] == 1 and 0 <= result["top1"] <= 1


@pytest.mark.parametrize("layout, message", [
    ("missing", "the data folder {data} does not exist"),
    ("no classes", "{data} has no class folders"),
    ("empty class", "the class folder {data}/dog holds no images"),
    ("not an image", "1 file(s) under {data} are not readable images:\n  {data}/dog/notes.jpg"),
])
def test_data_errors_before_training(tmp_path, layout: str, message: str) -> None:
    data = tmp_path / "data"
    if layout != "missing":
        data.mkdir()
    if layout in ("empty class", "not an image"):
        _image(data / "cat" / "0.png", 10)
        (data / "dog").mkdir()
    if layout == "not an image":
        (data / "dog" / "notes.jpg").write_text("not an image")
    with pytest.raises(TrainError) as caught:
        train(options(TINY, tmp_path / "run", data=str(data)))
    assert message.format(data=data) in str(caught.value)
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize("spec, shape, metric", [
    ("unet/unet_same.yaml", (3, 16, 16), "miou"),
    ("autoencoder/autoencoder.yaml", None, "mse"),
])
def test_segmentation_and_reconstruction_are_evaluated(tmp_path, spec: str, shape, metric: str) -> None:
    result = train(options(SPECS / spec, tmp_path, input_shape=shape, synthetic_size=4, batch_size=4, lr=0.01))
    assert 0 <= result[metric] and result["val_loss"] == result["val_loss"]  # not NaN


def test_detectors_are_refused_clearly(tmp_path) -> None:
    with pytest.raises(TrainError, match="Detectors need their losses and mAP@0.5"):
        prepare(options(SPECS / "resnet" / "resnet50_fpn.yaml", tmp_path))


# ---------------------------------------------------------------- performance settings


def test_channels_last_and_autocast_train(tmp_path) -> None:
    result = train(options(TINY, tmp_path, amp="bf16", channels_last=True, synthetic_size=16))
    assert result["train_loss"] == result["train_loss"] and result["top1"] >= 0


@pytest.mark.skipif(os.environ.get("ARCHSPEC_LONG") != "1", reason="torch.compile takes a minute on a CPU; "
                    "ARCHSPEC_LONG=1 runs it")
def test_compiled_module_matches_eager(tmp_path) -> None:
    from archspec.train.loop import load_factory

    model = load_factory(prepare(options(TINY, tmp_path)))().eval()
    images = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model)(images), model(images), atol=1e-5)


# ---------------------------------------------------------------- the command


def test_command_line(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(TINY), "--out", str(tmp_path), "--json"])
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and document["ok"] and document["epoch"] == 1
    assert {p.name for p in tmp_path.iterdir()} == {"last.pt", "metrics.jsonl", "curves.png", "tiny_classifier.py"}
    missing = runner.invoke(app, ["train", str(TINY), "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert missing.exit_code == 1 and f"error: the data folder {tmp_path / 'nowhere'} does not exist" in missing.stderr
