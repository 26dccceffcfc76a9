"""Week 4: information theory, a decision tree grown on entropy splits, similarity search."""
