"""KLIFF 1.x's ``kliff.transforms.configuration_transforms`` paths."""
