"""Facial-expression model: FER2013 data, augmentation, CNN, training and TFLite export.

Entry points (run from the repository root):

* ``python -m models.training.face.train`` trains, exports and evaluates.
* ``python -m models.training.face.export`` exports a checkpoint and evaluates the .tflite file.
"""

from models.training.face.data import LABELS

__all__ = ["LABELS"]
