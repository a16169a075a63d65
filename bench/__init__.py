"""claimflow benchmarks: every figure is a ratio or a count against a baseline measured in
the same run (these machines are noisy). ``make bench`` runs them all."""
