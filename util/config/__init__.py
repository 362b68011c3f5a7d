"""Shared facts and helpers of the student library: paths, course facts, TensorFlow quieting."""
