"""The local stack: embedded SSM, the third-party stand-in, the token-request endpoint, the
fixed ports of ``make dev``, and ``LocalDeployment`` that runs them with the emulator."""
