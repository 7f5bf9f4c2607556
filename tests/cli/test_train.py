"""`archspec train` end to end: fine-tuning from torchvision weights, exact resume (the learning-rate
schedule included), two gloo processes against one, detectors evaluated with mAP@0.5, --sync-bn where it
cannot apply, the data and checkpoint errors, and the command line itself. Inputs are tiny (16x16 to
80x96 images, a few dozen of them, detectors at a reduced width), so each run takes a second or so."""

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
    # FrozenBatchNorm2d keeps no batch counter: the file's are not loaded, and the checkpoint has none.
    assert not [k for k in trained if k.endswith("num_batches_tracked")]
    frozen = [k for k in reference if k.startswith(("conv1.", "bn1.", "layer1.", "layer2."))
              and not k.endswith("num_batches_tracked")]
    statistics = [k for k in reference if "running_" in k or ".bn" in k and not k.endswith("num_batches_tracked")]
    assert frozen and statistics  # every batch norm is frozen: statistics, scale and shift
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


def torchvision_reference_rates(lr: float, epochs: int, warmup: int) -> list[float]:
    """The rates torchvision's classification reference gives each epoch for --lr-scheduler
    cosineannealinglr --lr-warmup-method linear: torch's own schedulers, stepped once per epoch."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [
        torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs - warmup)], milestones=[warmup])
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_an_interrupted_cosine_schedule_resumes_exactly(tmp_path, monkeypatch, capsys) -> None:
    """Four epochs of warm-up then cosine, straight; and interrupted after the second epoch, resumed by a
    command line that forgot the schedule: the checkpoint's goes on, and the weights end bit for bit equal."""
    cosine = dict(epochs=4, schedule="cosine", warmup_epochs=2, synthetic_size=16)
    train(options(TINY, tmp_path / "straight", **cosine))
    write = Trainer.write

    def interrupted_after_two(self, row):
        write(self, row)
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "write", interrupted_after_two)
    with pytest.raises(KeyboardInterrupt):
        train(options(TINY, tmp_path / "resumed", **cosine))
    monkeypatch.undo()
    capsys.readouterr()
    train(options(TINY, tmp_path / "resumed", epochs=4, synthetic_size=16, resume=tmp_path / "resumed" / "last.pt"))
    assert "the learning rate follows the checkpoint's schedule, cosine over 4 epochs from lr 0.05, 2 warm-up " \
           "epoch(s), not this command line's (step (x0.1 every 30 epochs) from lr 0.05)" in capsys.readouterr().err
    straight, resumed = weights(tmp_path / "straight" / "last.pt"), weights(tmp_path / "resumed" / "last.pt")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    rows = [[json.loads(line) for line in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
            for d in ("straight", "resumed")]
    assert rows[0] == [dict(row, images_per_s=r["images_per_s"]) for row, r in zip(rows[1], rows[0])]
    assert [row["lr"] for row in rows[0]] == pytest.approx(torchvision_reference_rates(0.05, 4, 2), rel=1e-9)


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


# ---------------------------------------------------------------- detectors


DETECTORS = {  # each at a reduced width; YOLO takes a batch tensor, the lecture's Faster R-CNN a list of images
    "yolov2": ("yolo", "archspec: 1\nextends: yolov2.yaml\nname: small_yolov2\ninput: [3, 64, 64]\n"
                       "params: {base: 4, num_classes: 3}\n"),
    "faster_rcnn_lecture": ("detection", "archspec: 1\nextends: faster_rcnn_lecture.yaml\nname: small_lecture\n"
                                         "params: {width: 8, representation: 64}\n"),
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_a_detector_trains_on_its_own_losses_and_is_evaluated_with_map(tmp_path, name: str) -> None:
    from archspec.detection.evaluate import mean_average_precision
    from archspec.train.data import datasets
    from archspec.train.loop import load_factory

    folder, text = DETECTORS[name]
    spec = tmp_path / f"small_{name}.yaml"
    spec.write_text(text)
    run = options(spec, tmp_path / "run", spec_path=(SPECS / folder,), synthetic_size=8, batch_size=4, lr=0.01)
    result = train(run)
    (row,) = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= row["map50"] <= 1 and row["train_loss"] == row["train_loss"] and "val_loss" not in row
    assert result["map50"] == row["map50"]
    # The mAP is that of the trained module's detections on the evaluation set, labels as its loss learns them.
    job = prepare(run)
    model = load_factory(job)()
    model.load_state_dict(weights(tmp_path / "run" / "last.pt"))
    model.eval()
    _, evaluation = datasets("synthetic", job.task, job.input_shape, (), 8, 0)
    images, targets = zip(*[evaluation[i] for i in range(len(evaluation))])
    first_label = 0 if name.startswith("yolo") else 1
    assert all(int(t["labels"].min()) >= first_label for t in targets)
    with torch.no_grad():
        detections = model.postprocess(model(torch.stack(images))) if name.startswith("yolo") else model(list(images))
    assert mean_average_precision(detections, list(targets), 0.5)["map"] == pytest.approx(row["map50"], abs=1e-6)


def test_the_detection_tally_scores_perfect_and_misplaced_detections() -> None:
    """The evaluation's bookkeeping over batches: detections equal to the ground truth score mAP@0.5 1;
    the same boxes moved by more than half their size score 0."""
    from archspec.train.tasks import Detection

    task = Detection("yolov2", 3)
    truth = [{"boxes": torch.tensor([[4.0, 4.0, 20.0, 20.0], [30.0, 30.0, 60.0, 50.0]]),
              "labels": torch.tensor([0, 2])},
             {"boxes": torch.tensor([[10.0, 0.0, 40.0, 30.0]]), "labels": torch.tensor([1])}]
    for shift, expected in ((0.0, 1.0), (40.0, 0.0)):
        tally = task.new_tally()
        for target in truth:  # one image per batch
            found = {"boxes": target["boxes"] + shift, "labels": target["labels"],
                     "scores": torch.ones(len(target["labels"]))}
            task.count(tally, [found], [target])
        assert task.summary(tally) == {"map50": expected}


def test_what_cannot_train_as_a_detector_is_refused_clearly(tmp_path) -> None:
    with pytest.raises(TrainError, match=r"has 5 outputs and no `detect` section; .* and detectors"):
        prepare(options(SPECS / "resnet" / "resnet50_fpn.yaml", tmp_path))
    from types import SimpleNamespace

    from archspec.train.tasks import detection_task

    with pytest.raises(TrainError, match="a region proposal network alone has no detection loss"):
        detection_task(SimpleNamespace(kind="rpn", classes=2))
    with pytest.raises(TrainError, match="1 class.*, the background included: it has no object class"):
        detection_task(SimpleNamespace(kind="ssd", classes=1))
    spec = tmp_path / "small_yolov2.yaml"
    spec.write_text(DETECTORS["yolov2"][1])
    with pytest.raises(TrainError, match="an image folder holds classes .*, not boxes; a detector trains on "
                                         "--data synthetic"):
        prepare(options(spec, tmp_path, spec_path=(SPECS / "yolo",), data=str(tmp_path)))


# ---------------------------------------------------------------- --sync-bn where it cannot apply


WITH_BN = """archspec: 1
name: tiny_bn
input: [3, 16, 16]
body:
  - conv: {name: conv1, out: 8, kernel: 3, padding: 1}
  - bn: {name: bn1}
  - relu
  - adaptive_avgpool: {size: 1}
  - flatten
  - linear: {name: fc, out: 10}
transfer: {bn: BN}
"""


@pytest.mark.parametrize("bn, warning", [
    ("train", "warning: --sync-bn skipped: one process has nothing to synchronise with"),
    ("eval", "warning: --sync-bn skipped: the spec's `transfer: {bn: eval}` keeps batch norm in eval mode"),
])
def test_sync_bn_skipped_says_so(tmp_path, capsys, bn: str, warning: str) -> None:
    spec = tmp_path / "tiny_bn.yaml"
    spec.write_text(WITH_BN.replace("BN", bn))
    train(options(spec, tmp_path / "run", sync_bn=True, synthetic_size=8))
    assert warning in capsys.readouterr().err
    train(options(spec, tmp_path / "again", synthetic_size=8))
    assert "sync-bn" not in capsys.readouterr().err


def test_sync_bn_on_cpus_is_skipped_with_a_warning(capsys) -> None:
    """Two processes on CPUs (gloo): PyTorch's SyncBatchNorm refuses CPU modules, so it is skipped, saying so."""
    trainer = Trainer.__new__(Trainer)  # only what the decision reads: two processes, a CPU, batch norm trained
    trainer.world, trainer.device = distributed.World(0, 2, 0), torch.device("cpu")
    trainer.job = type("Job", (), {"bn_mode": "train"})()
    assert not trainer.synchronises_batch_norm(torch.nn.Sequential(torch.nn.BatchNorm2d(3)))
    assert "warning: --sync-bn skipped: PyTorch's SyncBatchNorm runs on GPUs only" in capsys.readouterr().err


def test_sync_bn_with_frozen_batch_norm_is_refused(tmp_path) -> None:
    spec = tmp_path / "tiny_bn.yaml"
    spec.write_text(WITH_BN.replace("BN", "frozen"))
    with pytest.raises(TrainError, match=r"--sync-bn has nothing to synchronise: the spec's `transfer: \{bn: "
                                         r"frozen\}` makes every batch norm a FrozenBatchNorm2d"):
        prepare(options(spec, tmp_path, sync_bn=True))
    assert not (tmp_path / "tiny_bn.py").exists()


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
