"""The plans pylon ships (installed as pylon_shell.plans); see docs/plan-format.md."""
