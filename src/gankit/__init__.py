"""gankit: Generative Adversarial Nets (Goodfellow et al., 2014), exact, fast and safe."""

__version__ = "0.1.0"
