"""The two-stage runtime on hand-worked cases: the lecture's anchor labelling and balanced sampling."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from archspec.backends.pytorch.runtime.two_stage import RegionProposals, sample  # noqa: E402


def proposals_stage() -> RegionProposals:
    return RegionProposals({"train": 10, "test": 10}, {"train": 10, "test": 10}, nms_thresh=0.7, score_thresh=0.0,
                           fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=8, positive_fraction=0.5)


def test_anchor_labels_follow_the_lecture() -> None:
    """Positive at IoU >= 0.7, and the best anchor of each box; negative below 0.3; ignored between."""
    truth = torch.tensor([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0]])
    anchors = torch.tensor([[0.0, 0.0, 10.0, 9.0],       # IoU 0.9 with the first box: positive
                            [0.0, 0.0, 10.0, 5.0],       # 0.5: ignored
                            [0.0, 0.0, 10.0, 2.0],       # 0.2: negative
                            [100.0, 100.0, 110.0, 104.0],  # 0.4, but the second box's best: positive
                            [50.0, 50.0, 60.0, 60.0]])   # overlaps nothing: negative
    labels, matched = proposals_stage().label_anchors(anchors, truth)
    assert labels.tolist() == [1.0, -1.0, 0.0, 1.0, 0.0]
    assert torch.equal(matched[0], truth[0]) and torch.equal(matched[3], truth[1])


def test_sampling_keeps_the_positive_fraction_and_never_draws_ignored() -> None:
    torch.manual_seed(0)
    labels = torch.tensor([1] * 10 + [0] * 100 + [-1] * 50)
    chosen = sample(labels, batch_size=20, positive_fraction=0.25)
    assert (labels[chosen] == 1).sum().item() == 5 and (labels[chosen] == 0).sum().item() == 15
    assert chosen.tolist() == sorted(chosen.tolist())
    # Fewer positives than the fraction allows: all of them, and negatives fill the batch.
    few = sample(torch.tensor([1, 0, 0, 0, 0, 0, -1]), batch_size=4, positive_fraction=0.5)
    assert few.tolist()[0] == 0 and len(few) == 4 and 6 not in few.tolist()
