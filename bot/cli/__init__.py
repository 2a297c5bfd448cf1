"""The ``lagesbild`` shell command."""
