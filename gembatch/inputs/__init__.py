"""Inputs: reading and validating articles, synthetic data, request lines and token estimates."""
