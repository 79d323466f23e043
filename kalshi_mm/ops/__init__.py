"""Operations: alerts, control endpoint and other plumbing that watches the daemon without trading."""
