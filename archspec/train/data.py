"""Training data: an image folder in torchvision's ImageFolder layout, or a deterministic synthetic set.

Synthetic sets are the default, so that a run works anywhere: sample `i` is drawn from a generator
seeded with `i`, so every process, every resume and every machine sees the same images. Classes
are smooth random patterns plus noise, so a network can learn them in a few steps. A detector's
synthetic images are archspec.detection.synthetic's: textured backgrounds with one to three
rectangles, ellipses and triangles, and their boxes.

An image folder is checked before training starts: a missing folder, a class folder without
images, or a file that is not an image is an error then. A file that fails later, while it is
decoded, is skipped and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from .options import TrainError
from .tasks import Classification, Detection, Segmentation, Task

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
SYNTHETIC_CLASSES = 10  # at most; fewer when the network has fewer outputs
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- synthetic


class Synthetic(Dataset):
    """`size` samples for `task` at `input_shape`; sample i depends only on (seed, i)."""

    def __init__(self, task: Task, input_shape: tuple[int, ...], output_shape: tuple[int, ...], size: int, seed: int):
        self.task, self.input_shape, self.output_shape = task, tuple(input_shape), tuple(output_shape)
        self.size, self.seed = size, seed
        self.skipped = 0
        classes = getattr(task, "classes", 1)
        self.classes = max(2, min(classes, SYNTHETIC_CLASSES)) if classes > 1 else 1
        pattern = torch.Generator().manual_seed(seed)
        self.patterns = _smooth(torch.randn(self.classes, input_shape[0], 4, 4, generator=pattern), input_shape)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index + 1)
        noise = 0.5 * torch.randn(self.input_shape, generator=generator)
        if isinstance(self.task, Classification):
            label = index % self.classes
            return self.patterns[label] + noise, torch.tensor(label)
        if isinstance(self.task, Segmentation):
            layout = torch.randint(0, self.classes, (1, 1, 4, 4), generator=generator).float()
            big = F.interpolate(layout, size=self.input_shape[1:], mode="nearest")[0, 0].long()
            image = _paint(self.patterns, big)
            target = F.interpolate(layout, size=self.output_shape[1:], mode="nearest")[0, 0].long()
            return image + noise, target
        image = _smooth(torch.randn(1, self.input_shape[0], 4, 4, generator=generator), self.input_shape)[0]
        return image, image.clone()


def _smooth(coarse: Tensor, input_shape: tuple[int, ...]) -> Tensor:
    return F.interpolate(coarse, size=tuple(input_shape[1:]), mode="bilinear", align_corners=False)


def _paint(patterns: Tensor, layout: Tensor) -> Tensor:
    """An image whose pixel (y, x) is the pattern of class layout[y, x] there."""
    _, channels, height, width = patterns.shape
    return torch.gather(patterns, 0, layout[None, None].expand(1, channels, height, width))[0]


class SyntheticDetection(Dataset):
    """`size` images at `input_shape` with their {boxes, labels}; sample i depends only on (seed, i).
    The three shapes are the classes, folded onto fewer when the detector has fewer."""

    def __init__(self, task: Detection, input_shape: tuple[int, ...], size: int, seed: int):
        self.task, self.input_shape, self.size, self.seed = task, tuple(input_shape), size, seed
        self.skipped = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        from ..detection.synthetic import synthetic_detection

        _, height, width = self.input_shape
        side = max(height, width)
        (image,), (target,) = synthetic_detection(1, side, seed=self.seed * 1_000_003 + index + 1, first_label=0)
        labels = target["labels"] % self.task.labels + self.task.first_label
        if (height, width) != (side, side):  # drawn square, then resized with its boxes
            image = F.interpolate(image[None], size=(height, width), mode="bilinear", align_corners=False)[0]
            target["boxes"] = target["boxes"] * torch.tensor([width / side, height / side] * 2)
        return image, {"boxes": target["boxes"], "labels": labels}


def detection_collate(batch: list[Any]) -> tuple[Tensor, list[dict[str, Tensor]]]:
    """The images stacked (the synthetic ones share a size), the targets as a list, as detectors take them."""
    return torch.stack([s[0] for s in batch]), [s[1] for s in batch]


# ---------------------------------------------------------------- image folders


class ImageFolder(Dataset):
    """torchvision's ImageFolder layout: one folder per class, named by the class, holding its images."""

    def __init__(self, samples: list[tuple[Path, int]], classes: list[str], input_shape: tuple[int, ...]):
        self.samples, self.classes, self.input_shape = samples, classes, tuple(input_shape)
        self.skipped = 0  # images that failed to decode during training

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor] | None:
        path, label = self.samples[index]
        try:
            image = _load_image(path, self.input_shape)
        except Exception:  # a truncated or corrupt file: skipped and counted, not a crash
            self.skipped += 1
            return None
        return image, torch.tensor(label)


def _load_image(path: Path, input_shape: tuple[int, ...]) -> Tensor:
    from PIL import Image

    channels, height, width = input_shape
    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
        data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    tensor = data.view(height, width, channels).permute(2, 0, 1).float() / 255
    if channels == 3:
        tensor = (tensor - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    return tensor


def scan_image_folder(root: Path) -> tuple[list[tuple[Path, int]], list[str]]:
    """(path, class index) of every image under `root`'s class folders; errors for what would fail later."""
    if not root.is_dir():
        raise TrainError(f"the data folder {root} does not exist")
    classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not classes:
        raise TrainError(f"{root} has no class folders: an image folder holds one folder per class "
                         "(e.g. {root}/cat/1.jpg, {root}/dog/2.jpg)".replace("{root}", str(root)))
    samples: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        images = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise TrainError(f"the class folder {root / name} holds no images "
                             f"(looked for {', '.join(IMAGE_SUFFIXES)})")
        samples += [(path, index) for path in images]
    unreadable = [path for path, _ in samples if not _readable(path)]
    if unreadable:
        listed = "\n  ".join(str(p) for p in unreadable[:10])
        more = f"\n  … and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        raise TrainError(f"{len(unreadable)} file(s) under {root} are not readable images:\n  {listed}{more}")
    return samples, classes


def _readable(path: Path) -> bool:
    """Whether the file starts as an image (its header parses); decoding all of it is left to training."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.size
        return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def folder_datasets(root: Path, task: Task, input_shape: tuple[int, ...]) -> tuple[Dataset, Dataset]:
    """`root/train` and `root/val` when both exist (ImageNet's layout), else every fifth image of `root`
    held out for evaluation."""
    if isinstance(task, Detection):
        raise TrainError("an image folder holds classes (torchvision's ImageFolder layout), not boxes; a detector "
                         "trains on --data synthetic (images with their boxes, archspec.detection.synthetic)")
    if not isinstance(task, Classification):
        raise TrainError(f"an image folder holds classes; this network is a {task.name} network, "
                         "train it on --data synthetic")
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise TrainError("reading image folders needs Pillow: pip install 'archspec-cnn[train]'") from None
    if (root / "train").is_dir() and (root / "val").is_dir():
        (train, classes), (val, val_classes) = scan_image_folder(root / "train"), scan_image_folder(root / "val")
        if val_classes != classes:
            raise TrainError(f"{root}/train and {root}/val hold different class folders")
    else:
        samples, classes = scan_image_folder(root)
        train = [s for i, s in enumerate(samples) if i % 5 != 4]
        val = [s for i, s in enumerate(samples) if i % 5 == 4] or samples[:1]
    if len(classes) > task.classes:
        raise TrainError(f"{root} has {len(classes)} classes but the network outputs {task.classes}; "
                         "set the spec's num_classes")
    return ImageFolder(train, classes, input_shape), ImageFolder(val, classes, input_shape)


def datasets(data: str, task: Task, input_shape: tuple[int, ...], output_shape: tuple[int, ...], size: int,
             seed: int) -> tuple[Dataset, Dataset]:
    if data == "synthetic" and isinstance(task, Detection):
        if input_shape[0] != 3:
            raise TrainError(f"the synthetic detection images are RGB; the network takes {input_shape[0]} channels")
        return (SyntheticDetection(task, input_shape, size, seed),
                SyntheticDetection(task, input_shape, max(size // 4, 1), seed + 1))
    if data == "synthetic":
        return (Synthetic(task, input_shape, output_shape, size, seed),
                Synthetic(task, input_shape, output_shape, max(size // 4, 1), seed + 1))
    return folder_datasets(Path(data), task, input_shape)


def collate_for(task: Task):
    return detection_collate if isinstance(task, Detection) else collate


def collate(batch: list[Any]) -> tuple[Tensor, Tensor] | None:
    """Stack a batch, leaving out the images that failed to decode (None)."""
    kept = [sample for sample in batch if sample is not None]
    if not kept:
        return None
    return torch.stack([s[0] for s in kept]), torch.stack([s[1] for s in kept])


def skipped(dataset: Dataset) -> int:
    return getattr(dataset, "skipped", 0)

