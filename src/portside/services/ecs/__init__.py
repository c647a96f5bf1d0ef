"""Amazon ECS: task definitions, clusters, container instances, tasks and their placement."""
