"""The samlad lägesbild on demand: /lagesbild and its area buttons."""
