"""drawbench: evaluate text-to-image models the way the Imagen paper did.

The core package imports no heavy library (torch, transformers, gradio) at import time.
"""

__version__ = "0.1.0"
