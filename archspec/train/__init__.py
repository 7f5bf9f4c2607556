"""`archspec train`: trains the module that `archspec build` emits, on one device or many.

The only part of archspec that imports torch at command time. The pieces: `options` (what a run is
asked to do), `tasks` (loss and evaluation for what the network outputs: classes, a segmentation map,
a reconstruction, a detector's boxes), `data` (image folders and deterministic synthetic sets),
`schedule` (the learning rate of each epoch), `checkpoint` (atomic writes, exact resume),
`distributed` (DistributedDataParallel through torchrun or `--nproc`), `loop` (the epochs) and
`curves` (the PNG of the metrics).
"""
