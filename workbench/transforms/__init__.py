"""KLIFF 1.x's ``kliff.transforms`` paths: property, parameter and configuration
transforms (aliases onto ``workbench.ml`` and ``workbench.models``)."""
