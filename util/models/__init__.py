"""Models: the course DenseNet121, the fundus CNN and its ordinal encoding."""
