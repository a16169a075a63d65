"""Local mode for claimflow: Lambda emulator, embedded services, demo."""
