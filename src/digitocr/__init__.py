"""digitocr: read the numbers on a screen.

The public API, re-exported lazily so that `import digitocr` (and the CLI's start) does not pay for torch:

    from digitocr import Reader
    reader = Reader("runs/game/best")
    reader.read("crop.png")             # Reading(text='151', confidence=0.99)

The pipeline's steps are functions of their own modules (`digitocr.train.train`, `digitocr.fit.fit`,
`digitocr.evaluate.evaluate`); they are not re-exported here, where their names would shadow the modules.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "UserError": "digitocr.errors",
    "GeneratorConfig": "digitocr.synth.options",
    "TextImageGenerator": "digitocr.synth.generate",
    "parse_generator_args": "digitocr.synth.flags",
    "write_dataset": "digitocr.synth.writer",
    "build_bank": "digitocr.synth.glyphs",
    "load_bank": "digitocr.synth.glyphs",
    "rank_fonts": "digitocr.synth.matching",
    "Preprocess": "digitocr.preprocess",
    "TrainConfig": "digitocr.train_config",
    "Reader": "digitocr.reader",
    "Reading": "digitocr.reader",
    "Profile": "digitocr.profile",
    "load_profile": "digitocr.profile",
    "export_onnx": "digitocr.export",
}

__all__ = [
    "GeneratorConfig",
    "Preprocess",
    "Profile",
    "Reader",
    "Reading",
    "TextImageGenerator",
    "TrainConfig",
    "UserError",
    "__version__",
    "build_bank",
    "export_onnx",
    "load_bank",
    "load_profile",
    "parse_generator_args",
    "rank_fonts",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'digitocr' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
