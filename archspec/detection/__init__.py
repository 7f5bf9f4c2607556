"""What a spec's `detect:` section says, without torch: the detector's kind, its levels and anchors, its
thresholds, and the checks that tie them to the network (`spec.py`); anchor geometry (`anchors.py`);
YOLOv2's anchor clustering (`kmeans.py`) and the anchor picture (`picture.py`).

The torch side (box coding, matching, suppression, losses) is `archspec.backends.pytorch.runtime`;
evaluation (`evaluate.py`) and synthetic data (`synthetic.py`) need torch and are imported only by
tests and scripts.
"""
