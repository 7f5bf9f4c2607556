"""What an emitted detector runs besides its layers: box coding, anchors, matching, suppression, losses.

These modules are real, importable and tested Python (they need torch and `torchvision.ops`), and they
are also the source the PyTorch backend copies into an emitted detector's file, function by function,
so that one implementation is both unit-tested and the readable code a user gets. archspec's own
commands never import them: `build` reads their text (see `source.py`), it does not run them.
"""
