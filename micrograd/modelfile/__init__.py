"""The model file: a trained network as plain JSON (format "micrograd-model", version 1).

One file holds the architecture, every weight and bias, the training settings
(`Config.to_dict()`), where the data came from, the final metrics and the loss
history. Layer k computes act_k(W_k @ x + b_k) with W_k shaped [outputs][inputs],
so the file loads into numpy or PyTorch in a dozen lines (docs/model-format.md).

    from micrograd import modelfile
    modelfile.save_trainer("model.json", trainer, dataset)
    model = modelfile.load("model.json")
    model.predict(X)            # (n, 1) outputs, plain numpy
    model.classify(X)           # class indices 0/1 (classification models)
    model.to_mlp()              # a micrograd MLP with these weights

model.py is the loaded `Model`; schema.py the document and the check of every field;
files.py reading and writing files.
"""
from .files import MAX_FILE_BYTES, load, loads, save, save_trainer
from .model import Model, ModelFileError
from .schema import (FORMAT, HISTORY_KEYS, MAX_DEPTH, MAX_HISTORY, VERSION, data_block, decimate, final_metrics,
                     from_document, history_columns, to_document)

__all__ = ["FORMAT", "HISTORY_KEYS", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_HISTORY", "VERSION", "Model",
           "ModelFileError", "data_block", "decimate", "final_metrics", "from_document", "history_columns",
           "load", "loads", "save", "save_trainer", "to_document"]
