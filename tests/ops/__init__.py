"""Operations tests: probes, outages, logs and metrics."""
