"""Face path stages: detection, landmarks (head pose, mouth), quality gate, ephemeral tracking."""
